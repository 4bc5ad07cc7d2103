"""``kantine backup`` while the node writes, and ``kantine restore`` into a new node."""

from __future__ import annotations

import asyncio
import sqlite3
import tarfile
from pathlib import Path

import aiohttp
import pytest

from node import backup, cli, config
from node.clock import iso
from node.content.members.cards import NewMember
from node.storage import objects as objects_db
from nodes import Node, start_node, wait_for


def _note(node: Node, n: int) -> objects_db.StoredObject:
    now = iso(node.rt.clock())
    object_id = f"{node.url}/notes/load-{n}"
    return objects_db.StoredObject(
        id=object_id,
        type="Note",
        author=node.network_id,
        local=True,
        visibility="public",
        host=node.settings.host,
        raw=b'{"id": "%s", "type": "Note"}' % object_id.encode(),
        published=now,
        updated=now,
    )


async def _actor_document(url: str) -> dict[str, object]:
    headers = {"Accept": "application/activity+json"}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        assert resp.status == 200
        return await resp.json(content_type=None)  # type: ignore[no-any-return]


async def test_backup_during_writes_and_restore(tmp_path: Path) -> None:
    a = await start_node(tmp_path, "Apeldoorn", host="127.0.0.2")
    archive = tmp_path / "backups" / "apeldoorn.tar.gz"
    restored = None
    try:
        await a.rt.services["members"].add(NewMember(username="anna", name="Anna"), by=None)
        network_doc = await _actor_document(a.network_id)
        anna_doc = await _actor_document(a.url + "/members/anna")

        committed: list[str] = []  # ids whose write returned: on disk
        stop = asyncio.Event()

        async def writer() -> None:
            n = 0
            while not stop.is_set() and n < 5000:  # bounded
                row = _note(a, n)
                await a.rt.db.write(lambda c, row=row: objects_db.save(c, row))
                committed.append(row.id)
                n += 1

        task = asyncio.create_task(writer())
        await wait_for(lambda: len(committed) >= 200)  # the load is well under way
        before = set(committed)
        code = await asyncio.to_thread(
            cli.main, ["backup", "--data", str(a.data), "--output", str(archive)]
        )
        assert code == 0
        during = len(committed)
        await asyncio.sleep(0.05)
        stop.set()
        await task
        assert len(committed) > len(before)  # writes went on while the backup ran
        assert archive.stat().st_mode & 0o077 == 0  # it holds the node's private keys
        with tarfile.open(archive) as tar:
            assert sorted(tar.getnames()) == ["config.toml", "kantine.db", "manifest.json"]
        # The same archive is not overwritten.
        code = await asyncio.to_thread(
            cli.main, ["backup", "--data", str(a.data), "--output", str(archive)]
        )
        assert code == 1
        await a.stop()

        # Restore into a new directory; a node there serves the same actors with the same keys.
        target = tmp_path / "Restored"
        code = await asyncio.to_thread(
            cli.main, ["restore", "--data", str(target), "--input", str(archive)]
        )
        assert code == 0
        code = await asyncio.to_thread(  # a second restore would overwrite a node: refused
            cli.main, ["restore", "--data", str(target), "--input", str(archive)]
        )
        assert code == 1
        assert sorted(p.name for p in target.iterdir()) == ["config.toml", "kantine.db"]
        restored = await start_node(tmp_path, "Restored", host=a.host, port=a.port)
        assert restored.url == a.url
        assert await _actor_document(a.network_id) == network_doc
        assert await _actor_document(a.url + "/members/anna") == anna_doc
        rows = await restored.rt.db.fetchall(
            "SELECT id FROM objects WHERE id LIKE ?", (a.url + "/notes/load-%",)
        )
        kept = {r["id"] for r in rows}
        assert before <= kept  # every row committed before the backup began
        assert kept <= set(committed[: during + 1])  # and nothing from after it ended
        check = await restored.rt.db.fetchone("PRAGMA integrity_check")
        assert check[0] == "ok"
    finally:
        if restored is not None:
            await restored.stop()
        else:
            await a.stop()


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.tar.gz"
    extra = tmp_path / "evil"
    extra.write_text("x")
    with tarfile.open(bogus, "w:gz") as tar:
        tar.add(extra, arcname="../evil")
    with pytest.raises(backup.BackupError, match="not a Kantine backup"):
        backup.restore_backup(tmp_path / "node", bogus)
    assert not (tmp_path / "node" / config.DB_NAME).exists()

    not_gzip = tmp_path / "plain.txt"
    not_gzip.write_text("hello")
    with pytest.raises(backup.BackupError, match="not a readable"):
        backup.restore_backup(tmp_path / "node2", not_gzip)


def test_restore_refuses_a_damaged_database(tmp_path: Path) -> None:
    data = tmp_path / "node"
    assert cli.main(["init", "--data", str(data), "--url", "http://127.0.0.9:8080",
                     "--name", "Zutphen", "--dev"]) == 0  # fmt: skip
    archive = tmp_path / "node.tar.gz"
    assert cli.main(["backup", "--data", str(data), "--output", str(archive)]) == 0
    # Damage the database inside the archive: overwrite pages past the header.
    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    db = unpacked / config.DB_NAME
    raw = bytearray(db.read_bytes())
    page = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    raw[page : page * 3] = b"\xff" * (page * 2)
    db.write_bytes(bytes(raw))
    broken = tmp_path / "broken.tar.gz"
    with tarfile.open(broken, "w:gz") as tar:
        for name in ("manifest.json", "config.toml", "kantine.db"):
            tar.add(unpacked / name, arcname=name)
    with pytest.raises(backup.BackupError, match="damaged"):
        backup.restore_backup(tmp_path / "again", broken)
    assert not (tmp_path / "again" / config.CONFIG_NAME).exists()
    assert not (tmp_path / "again" / config.DB_NAME).exists()
