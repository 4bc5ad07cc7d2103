"""Fan-out: one activity published to 1,000 followers, from publication to the last 2xx.

    .venv/bin/python bench/fanout.py [--followers 1000]

Followers are remote_actors + follows rows written with the node's own storage
functions before the node starts (setup, not measured). Their inboxes are 1,000
distinct loopback ports served by a minimal sink in a separate process (no
verification, 202 at once). The node runs as served (bench/_publisher.py: the same
app and spawn signing worker as `kantine serve`) and publishes one Create.

Phases and targets:
  cavage    1,000 hosts, one inbox each, draft-cavage rsa-sha256:
            deliveries/s >= 0.6 x RSA-2048 signatures/s of one core (measured just before
            and just after the cavage phase, averaged)
  rfc9421   the same followers advertising RFC 9421 + Ed25519: >= 2 x the cavage figure
  shared    1,000 followers on 100 hosts with shared inboxes: exactly 100 POSTs
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _util as U
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PHASE_TIMEOUT = 20.0
PROFILE = ""  # --profile: py-spy binary, records each phase's node


def rsa_ceiling(seconds: float = 2.0) -> float:
    """RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second on one core (this process)."""
    key = rsa.generate_private_key(65537, 2048)
    text = (
        b"(request-target): post /inbox\nhost: 127.0.0.1:21000\n"
        b"date: Sun, 22 Nov 2026 10:00:00 GMT\ndigest: SHA-256="
        + base64.b64encode(b"x" * 32)
        + b"\ncontent-type: application/activity+json"
    )
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        key.sign(text + str(n).encode(), padding.PKCS1v15(), hashes.SHA256())
        n += 1
    return n / (time.perf_counter() - started)


def setup_followers(
    data: Path, ports: list[int], followers: int, *, shared: bool, rfc9421: bool
) -> None:
    """Insert remote actors and accepted follows with the node's storage functions."""
    from node import config
    from node.clock import iso, system_clock
    from node.storage import follows as follows_db
    from node.storage import remote as remote_db
    from node.storage.db import connect_sync, migrate

    settings = config.load(data)
    now = iso(system_clock())
    conn = connect_sync(settings.db_path)
    migrate(conn)
    conn.execute("BEGIN IMMEDIATE")
    for i in range(followers):
        port = ports[i % len(ports)]
        base = f"http://{U.HOST}:{port}"
        actor_id = f"{base}/users/u{i}"
        remote_db.save_actor(
            conn,
            remote_db.RemoteActor(
                id=actor_id,
                host=f"{U.HOST}:{port}",
                type="Person",
                inbox=actor_id + "/inbox",
                shared_inbox=base + "/inbox" if shared else None,
                rfc9421=rfc9421,
                raw=b"{}",
                fetched_at=now,
            ),
        )
        follows_db.upsert(
            conn, settings.slug, actor_id, "in", "accepted", f"{actor_id}#follow", now
        )
    conn.execute("COMMIT")
    conn.close()


def run_phase(
    name: str,
    tmp: Path,
    ports: list[int],
    followers: int,
    control: int,
    *,
    shared: bool,
    rfc9421: bool,
    sink_pid: int = 0,
) -> dict:
    data = tmp / name
    port = U.free_port()
    U.init_node(data, port)
    setup_followers(data, ports, followers, shared=shared, rfc9421=rfc9421)
    U.http_json(f"http://{U.HOST}:{control}/reset", method="POST")
    log = (tmp / f"{name}.log").open("w")
    node = subprocess.Popen(
        [U.PY, str(U.BENCH / "_publisher.py"), "--data", str(data), "--port", str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert node.stdout is not None and node.stdin is not None
        if node.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{name}: the node did not start (see {log.name})")
        time.sleep(0.5)
        if PROFILE:
            U.spawn(
                [
                    PROFILE,
                    "record",
                    "-p",
                    str(node.pid),
                    "-r",
                    "250",
                    "--format",
                    "raw",
                    "-o",
                    str(tmp / f"{name}.spy"),
                    "-d",
                    "6",
                    "--threads",
                    "--subprocesses",
                    *os.environ.get("KANTINE_PYSPY_ARGS", "").split(),  # e.g. --gil
                ]
            )
            time.sleep(1.0)
        cpu0 = U.thread_cpu(node.pid)
        workers = U.children(node.pid)  # the signing pool's worker, the delivery sender
        others0 = {pid: U.process_cpu(pid) for pid in [*workers, sink_pid]}
        node.stdin.write("publish\n")
        node.stdin.flush()
        _, t0, queued = node.stdout.readline().split()
        t0_f, expected = float(t0), int(queued)
        deadline = time.monotonic() + PHASE_TIMEOUT
        stats = {}
        while time.monotonic() < deadline:
            stats = U.http_json(f"http://{U.HOST}:{control}/stats")
            if stats["posts"] >= expected:
                break
            time.sleep(0.05)
        time.sleep(0.3)  # anything beyond the expected count would show up now
        stats = U.http_json(f"http://{U.HOST}:{control}/stats")
        cpu1 = U.thread_cpu(node.pid)
        others1 = {pid: U.process_cpu(pid) for pid in others0}
        node.stdin.write("quit\n")
        node.stdin.flush()
        node.wait(15)
    finally:
        U.stop(node)
        log.close()
    elapsed = stats["last"] - t0_f if stats.get("last") else float("inf")
    return {
        "queued": expected,
        "posts": stats.get("posts", 0),
        "distinct_hosts": stats.get("distinct_ports", 0),
        "schemes": stats.get("schemes", {}),
        "elapsed": elapsed,
        "rate": stats.get("posts", 0) / elapsed if elapsed > 0 else 0.0,
        "first": stats["first"] - t0_f if stats.get("first") else float("nan"),
        "log": log.name,
        "cpu": {name: cpu1[name] - cpu0.get(name, 0.0) for name in cpu1},
        "children_cpu": sum(others1[p] - others0[p] for p in workers),
        "sink_cpu": others1.get(sink_pid, 0.0) - others0.get(sink_pid, 0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=1000)
    parser.add_argument("--shared-hosts", type=int, default=100)
    parser.add_argument(
        "--profile", default="", help="py-spy binary: record each phase (raw stacks)"
    )
    args = parser.parse_args()
    global PROFILE
    PROFILE = args.profile
    report = U.Report("fanout")
    tmp = Path(tempfile.mkdtemp(prefix="kantine-bench-fanout-"))
    ports = U.free_ports(args.followers)
    (tmp / "ports.txt").write_text("\n".join(map(str, ports)))
    control = U.free_port()
    sink = U.server("sink", "--ports", str(tmp / "ports.txt"), "--control", str(control))

    def show(name: str, r: dict) -> None:
        report.figure(
            f"{name}: POSTs / queued / distinct hosts",
            f"{r['posts']} / {r['queued']} / {r['distinct_hosts']}  {r['schemes']}",
        )
        report.figure(
            f"{name}: publication -> last 2xx",
            f"{r['elapsed']:.3f} s (first after {r['first'] * 1000:.0f} ms): {r['rate']:,.0f} deliveries/s",
        )
        n = max(r["posts"], 1)
        report.figure(
            f"{name}: node CPU per POST, by thread",
            " / ".join(
                f"{thread} {seconds * 1e6 / n:,.0f}"
                for thread, seconds in sorted(r["cpu"].items(), key=lambda kv: -kv[1])
                if seconds > 0
            )
            + " us",
        )
        report.figure(
            f"{name}: CPU per POST, node's child processes / sink",
            f"{r['children_cpu'] * 1e6 / n:,.0f} / {r['sink_cpu'] * 1e6 / n:,.0f} us "
            f"(the 2 cores give {2 * r['elapsed'] * 1e6 / n:,.0f} us per POST)",
        )

    def phase(name: str, hosts: list[int], *, shared: bool, rfc9421: bool) -> dict:
        result = run_phase(
            name,
            tmp,
            hosts,
            args.followers,
            control,
            shared=shared,
            rfc9421=rfc9421,
            sink_pid=sink.pid,
        )
        show(name, result)
        return result

    # The machine's speed drifts (a pinned loop moves by ±25 % from one second to the
    # next): the ceiling is measured just before and just after the cavage phase.
    before = rsa_ceiling()
    cav = phase("cavage", ports, shared=False, rfc9421=False)
    after = rsa_ceiling()
    ceiling = (before + after) / 2
    report.figure(
        "RSA-2048 signatures/s, one core",
        f"{ceiling:,.0f} ({before:,.0f} before, {after:,.0f} after)",
    )
    ed = phase("rfc9421", ports, shared=False, rfc9421=True)
    sh = phase("shared", ports[: args.shared_hosts], shared=True, rfc9421=False)

    complete = cav["posts"] == args.followers and ed["posts"] == args.followers
    report.target("cavage deliveries/s / RSA signatures/s", cav["rate"] / ceiling, 0.6)
    report.target(
        "rfc9421 deliveries/s / cavage deliveries/s", ed["rate"] / max(cav["rate"], 1e-9), 2.0
    )
    report.target("shared: POSTs for 100 shared-inbox hosts", sh["posts"], args.shared_hosts)
    report.target("shared: POSTs (at most)", sh["posts"], args.shared_hosts, at_most=True)
    if not complete:
        report.figure("INCOMPLETE", "not every follower got its POST within the phase limit")
        report.missed.append("every follower delivered")
    report.figure("logs", str(tmp))
    report.finish()


if __name__ == "__main__":
    main()
