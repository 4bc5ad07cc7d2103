"""Shared helpers of the benchmarks: processes, ports, a node's data directory, reporting."""

from __future__ import annotations

import atexit
import json
import os
import re
import select
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = sys.executable
KANTINE = str(Path(PY).with_name("kantine"))
HOST = "127.0.0.1"

_children: list[subprocess.Popen[bytes]] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def free_ports(n: int, start: int = 21000) -> list[int]:
    """``n`` distinct loopback ports that can be bound now (scanned upwards from ``start``)."""
    found: list[int] = []
    port = start
    while len(found) < n and port < 65000:
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
                found.append(port)
            except OSError:
                pass
        port += 1
    if len(found) < n:
        raise RuntimeError(f"only {len(found)} free ports")
    return found


def spawn(
    args: list[str],
    *,
    wait_ready: bool = False,
    stderr: Any = None,
    cpus: set[int] | None = None,
    timeout: float = 20.0,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child (killed at exit); with ``wait_ready`` wait for it to print ``ready``."""
    preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE if wait_ready else subprocess.DEVNULL,
        stderr=stderr if stderr is not None else subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        preexec_fn=preexec,
        env=env,
    )
    _children.append(proc)
    if wait_ready:
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                line = proc.stdout.readline()
                if line.strip() == b"ready":
                    return proc
                if not line:
                    break
            if proc.poll() is not None:
                break
        raise RuntimeError(f"{args[:3]} did not become ready ({line!r})")
    return proc


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@atexit.register
def _reap() -> None:
    for proc in _children:
        stop(proc, 3.0)


def server(role: str, *args: str, cpus: set[int] | None = None) -> subprocess.Popen[bytes]:
    return spawn([PY, str(BENCH / "_servers.py"), role, *args], wait_ready=True, cpus=cpus)


def http_json(url: str, *, method: str = "GET", timeout: float = 5.0) -> Any:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def http_text(url: str, *, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode()


def wait_http(url: str, timeout: float = 10.0, interval: float = 0.005) -> float:
    """Poll until ``url`` answers 200; return the monotonic time it did."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1.0) as resp:
                if resp.status == 200:
                    return time.monotonic()
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout} s")
        time.sleep(interval)


def init_node(data: Path, port: int, name: str = "Bench") -> None:
    subprocess.run(
        [
            KANTINE,
            "init",
            "--data",
            str(data),
            "--url",
            f"http://{HOST}:{port}",
            "--name",
            name,
            "--slug",
            "bench",
            "--dev",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    # The benches measure throughput from one generator host: the per-host and per-address
    # inbox rate limits (a policy, measured by bench/abuse.py) are turned off here.
    cfg = data / "config.toml"
    text = cfg.read_text()
    for key in ("inbox_per_host_per_minute", "inbox_per_ip_per_minute"):
        text = re.sub(rf"^{key} = .*$", f"{key} = 0", text, flags=re.M)
    cfg.write_text(text)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB, Python {sys.version.split()[0]}"


class Report:
    """Collects ``name: value`` lines and target checks; ``finish()`` exits non-zero on a miss."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.missed: list[str] = []
        print(f"== {title} ==  ({machine()})", flush=True)

    def figure(self, name: str, value: str) -> None:
        print(f"  {name:<44} {value}", flush=True)

    def target(
        self, name: str, value: float, bound: float, *, at_most: bool = False, unit: str = ""
    ) -> None:
        ok = value <= bound if at_most else value >= bound
        rel = "<=" if at_most else ">="
        ratio = value / bound if bound else float("inf")
        print(
            f"  {name:<44} {value:,.3f}{unit}  target {rel} {bound:,.3f}{unit}"
            f"  (x{ratio:.2f} of the bound)  {'OK' if ok else 'MISSED'}",
            flush=True,
        )
        if not ok:
            self.missed.append(name)

    def finish(self) -> None:
        if self.missed:
            print(f"-- {self.title}: MISSED {', '.join(self.missed)}", flush=True)
            sys.exit(1)
        print(f"-- {self.title}: all targets met", flush=True)


def _stat(path: Path) -> list[str]:
    """The fields of a /proc .../stat file after the command name (OSError if gone)."""
    return path.read_text().rpartition(")")[2].split()


def _cpu_seconds(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of each thread of ``pid``, by thread name (Linux /proc)."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = "MainThread" if task.name == str(pid) else (task / "comm").read_text().strip()
            seconds = _cpu_seconds(_stat(task / "stat"))
        except OSError:
            continue
        out[name] = out.get(name, 0.0) + seconds
    return out


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of process ``pid`` (0.0 once it is gone)."""
    try:
        return _cpu_seconds(_stat(Path(f"/proc/{pid}/stat")))
    except OSError:
        return 0.0


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (Linux /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_stat(entry / "stat")[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            out.append(int(entry.name))
    return out


# -- remote actors for the inbox benches -------------------------------------------------


def actor_document(base: str, name: str, key: Any) -> dict[str, Any]:
    """A Mastodon-shaped Person ``{base}/users/{name}`` publishing ``key``'s public half."""
    from cryptography.hazmat.primitives import serialization

    actor = f"{base}/users/{name}"
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": actor,
        "type": "Person",
        "preferredUsername": name,
        "inbox": actor + "/inbox",
        "outbox": actor + "/outbox",
        "endpoints": {"sharedInbox": base + "/inbox"},
        "publicKey": {"id": actor + "#main-key", "owner": actor, "publicKeyPem": pem},
    }


def signed_create(
    key: Any, actor: str, host: str, path: str, date: str, content: str
) -> tuple[bytes, str, str]:
    """A unique public Create{Note} by ``actor``, signed as Mastodon signs it (cavage
    rsa-sha256 over ``(request-target) host date digest content-type``): (body, Digest,
    Signature)."""
    import base64
    import hashlib
    import uuid

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    note = f"{actor}/notes/{uuid.uuid4()}"
    public = ["https://www.w3.org/ns/activitystreams#Public"]
    body = json.dumps(
        {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{note}/activity",
            "type": "Create",
            "actor": actor,
            "published": "2026-11-22T10:00:00Z",
            "to": public,
            "cc": [f"{actor}/followers"],
            "object": {
                "id": note,
                "type": "Note",
                "attributedTo": actor,
                "content": content,
                "published": "2026-11-22T10:00:00Z",
                "to": public,
            },
        },
        separators=(",", ":"),
    ).encode()
    digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    text = (
        f"(request-target): post {path}\nhost: {host}\ndate: {date}\n"
        f"digest: {digest}\ncontent-type: application/activity+json"
    )
    sig = base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256()))
    signature = (
        f'keyId="{actor}#main-key",algorithm="rsa-sha256",'
        f'headers="(request-target) host date digest content-type",signature="{sig.decode()}"'
    )
    return body, digest, signature
