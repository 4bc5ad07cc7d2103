"""``kantine backup`` and ``kantine restore``: a whole node in one tar.gz, taken while it runs.

The archive holds ``manifest.json`` (format, schema version, node URL, time),
``config.toml`` and ``kantine.db`` (a snapshot made with SQLite's online backup
API, so it is consistent while the node writes). The node's keys live in the
database, so the archive is as secret as the node itself.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tarfile
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from . import config
from .clock import iso, system_clock
from .storage import backup as backup_db

__all__ = ["FORMAT", "BackupError", "Manifest", "create_backup", "restore_backup"]

FORMAT = 1
MANIFEST = "manifest.json"
_MEMBERS = (MANIFEST, config.CONFIG_NAME, config.DB_NAME)
_MAX_MANIFEST = 64 * 1024


class BackupError(Exception):
    """A backup cannot be made or restored (one line for the operator)."""


@dataclass(frozen=True)
class Manifest:
    format: int
    url: str
    schema_version: int
    created: str


def create_backup(data: Path, output: Path) -> Manifest:
    """Write the node in ``data`` to the archive ``output`` (written whole, then renamed)."""
    settings = config.load(data)  # ConfigError if ``data`` holds no node
    if output.exists():
        raise BackupError(f"{output} exists; choose another file")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".kantine-backup-", dir=output.parent) as tmp:
        snapshot = Path(tmp) / config.DB_NAME
        version = backup_db.snapshot(settings.db_path, snapshot)
        manifest = Manifest(FORMAT, settings.url, version, iso(system_clock()))
        partial = Path(tmp) / "archive.tar.gz"
        with tarfile.open(partial, "w:gz") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest.__dict__, indent=2).encode())
            tar.add(data / config.CONFIG_NAME, arcname=config.CONFIG_NAME)
            tar.add(snapshot, arcname=config.DB_NAME)
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(partial, 0o600)  # it holds the node's private keys
        partial.replace(output)
    return manifest


def restore_backup(data: Path, archive: Path) -> Manifest:
    """Unpack ``archive`` into ``data``, which must not hold a node; migrate and check it."""
    if (data / config.CONFIG_NAME).exists() or (data / config.DB_NAME).exists():
        raise BackupError(f"{data} already holds a Kantine node; restore into a new directory")
    if not archive.is_file():
        raise BackupError(f"no backup archive at {archive}")
    db_tmp = data / (config.DB_NAME + ".restoring")
    try:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                manifest, config_bytes = _read_archive(tar, data, db_tmp)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise BackupError(f"{archive} is not a readable Kantine backup: {exc}") from exc
        try:
            backup_db.prepare_restored(db_tmp)
        except sqlite3.Error as exc:
            raise BackupError(f"the backup's database is damaged: {exc}") from exc
    except BaseException:
        for suffix in ("", "-wal", "-shm", "-journal"):
            _remove(db_tmp.with_name(db_tmp.name + suffix))
        raise
    db_tmp.replace(data / config.DB_NAME)
    for suffix in ("-wal", "-shm"):
        _remove(db_tmp.with_name(db_tmp.name + suffix))
    config_tmp = data / (config.CONFIG_NAME + ".tmp")
    config_tmp.write_bytes(config_bytes)
    config_tmp.replace(data / config.CONFIG_NAME)  # last: a node exists once its config does
    return manifest


def _read_archive(tar: tarfile.TarFile, data: Path, db_tmp: Path) -> tuple[Manifest, bytes]:
    """Check the members (names, regular files), extract the database, return the rest."""
    members = {m.name: m for m in tar.getmembers()}
    unknown = sorted(set(members) - set(_MEMBERS))
    missing = [name for name in _MEMBERS if name not in members]
    if unknown or missing:
        raise BackupError(f"not a Kantine backup (missing {missing}, unexpected {unknown})")
    if any(not m.isfile() for m in members.values()):
        raise BackupError("not a Kantine backup: an entry is not a regular file")
    if members[MANIFEST].size > _MAX_MANIFEST:
        raise BackupError("not a Kantine backup: the manifest is too large")
    raw = _extract_bytes(tar, members[MANIFEST])
    try:
        fields = json.loads(raw)
        manifest = Manifest(
            format=int(fields["format"]),
            url=str(fields["url"]),
            schema_version=int(fields["schema_version"]),
            created=str(fields["created"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"the backup's manifest is unreadable: {exc}") from exc
    if manifest.format != FORMAT:
        raise BackupError(f"backup format {manifest.format} is not supported (this is {FORMAT})")
    config_bytes = _extract_bytes(tar, members[config.CONFIG_NAME])
    try:
        url = tomllib.loads(config_bytes.decode()).get("url")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BackupError(f"the backup's config.toml is unreadable: {exc}") from exc
    if url != manifest.url:
        raise BackupError(f"the backup's config is for {url!r}, its manifest for {manifest.url!r}")
    data.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(members[config.DB_NAME])
    assert source is not None
    with source, open(db_tmp, "wb") as out:
        while chunk := source.read(1 << 20):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return manifest, config_bytes


def _extract_bytes(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    f = tar.extractfile(member)
    assert f is not None
    with f:
        return f.read()


def _add_bytes(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(payload))


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
