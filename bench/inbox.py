"""Inbox throughput of `kantine serve`, beside an aiohttp hello-world POST endpoint.

    .venv/bin/python bench/inbox.py [--count 30000] [--duration 10] [--connections 32]

The node runs as served (``kantine serve``: synchronous=FULL, group commit, the
processor working after the 202 at the same time, INFO logs to a file, metrics on)
pinned to core 0; the load generator (wrk with bench/inbox.lua) runs pinned to
core 1. Every request is a unique Create, pre-signed (draft-cavage rsa-sha256,
Date = now, just before the run) by one of a few remote actors whose documents a
tiny separate server on loopback serves, so the node fetches and caches their keys
on first use. The same generator posts the same bodies to an aiohttp hello-world
endpoint, also pinned to core 0, just before and just after the node's phase: the
mean of the two is the ceiling (the machine's speed drifts within a minute).
Target: accepted/s >= 0.2 x hello-world.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _util as U
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

N_ACTORS = 4
NODE_CPU, GEN_CPU = {0}, {1}


def _actor_docs(base: str, keys: list[rsa.RSAPrivateKey]) -> dict[str, dict]:
    return {f"/users/a{i}": U.actor_document(base, f"a{i}", key) for i, key in enumerate(keys)}


def _sign_chunk(args: tuple[list[str], str, str, str, int, int]) -> list[str]:
    """Sign ``count`` unique Creates (Mastodon's way); return file lines (worker process)."""
    pems, base, host, path, start, count = args
    keys = [serialization.load_pem_private_key(p.encode(), None) for p in pems]
    date = format_datetime(datetime.now(UTC), usegmt=True)
    lines = []
    for n in range(start, start + count):
        i = n % len(keys)
        body, digest, signature = U.signed_create(
            keys[i],
            f"{base}/users/a{i}",
            host,
            path,
            date,
            f"<p>Meetup at the co-op, number {n}. Koffie staat klaar.</p>",
        )
        lines.append(f"{date}\t{digest}\t{signature}\t{body.decode()}")
    return lines


def presign(path: Path, pems: list[str], base: str, host: str, count: int) -> float:
    started = time.monotonic()
    chunk = 1000
    jobs = [(pems, base, host, "/inbox", s, min(chunk, count - s)) for s in range(0, count, chunk)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool, path.open("w") as out:
        for lines in pool.map(_sign_chunk, jobs):
            out.write("\n".join(lines) + "\n")
    return time.monotonic() - started


def run_wrk(url: str, script_args: list[str], duration: int, connections: int) -> dict:
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(U.BENCH / "inbox.lua"),
        url,
        "--",
        *script_args,
    ]
    out = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=lambda: os.sched_setaffinity(0, GEN_CPU),
        timeout=duration + 30,
    ).stdout
    for line in out.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
            result["rate"] = result["ok"] / (result["duration_us"] / 1e6)
            return result
    raise RuntimeError(f"wrk gave no result:\n{out}")


def hello_phase(port: int, bodies: Path, args: argparse.Namespace) -> dict:
    """The ceiling: the same generator and bodies against an aiohttp hello-world on core 0."""
    hello = U.spawn(
        [U.PY, str(U.BENCH / "_servers.py"), "hello", "--port", str(port)],
        wait_ready=True,
        cpus=NODE_CPU,
    )
    try:
        return run_wrk(
            f"http://{U.HOST}:{port}/inbox", [str(bodies), "cycle"], args.duration, args.connections
        )
    finally:
        U.stop(hello)


def db_counters(port: int) -> tuple[float, float, float]:
    """(commits, writes, inbox write batches) from the node's /metrics."""
    text = U.http_text(f"http://{U.HOST}:{port}/metrics")
    values = dict(
        line.split(" ", 1)
        for line in text.splitlines()
        if line.startswith(("kantine_db_", "kantine_inbox_write_batches_total"))
    )
    return (
        float(values["kantine_db_commits_total"]),
        float(values["kantine_db_writes_total"]),
        float(values["kantine_inbox_write_batches_total"]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--count",
        type=int,
        default=40000,
        help="pre-signed activities (more than the node can take in --duration seconds)",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per phase (max 20)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--profile", help="py-spy binary: record the node (raw stacks) while loaded"
    )
    args = parser.parse_args()
    args.duration = min(args.duration, 20)
    if subprocess.run(["which", "wrk"], capture_output=True).returncode != 0:
        sys.exit("wrk is needed: apt-get install -y wrk")
    report = U.Report("inbox")
    tmp = Path(tempfile.mkdtemp(prefix="kantine-bench-inbox-"))
    node_port, actors_port, hello_port = U.free_port(), U.free_port(), U.free_port()
    U.init_node(tmp / "node", node_port)

    keys = [rsa.generate_private_key(65537, 2048) for _ in range(N_ACTORS)]
    actors_base = f"http://{U.HOST}:{actors_port}"
    docs = tmp / "actors.json"
    docs.write_text(json.dumps(_actor_docs(actors_base, keys)))
    actors = U.server("actors", "--port", str(actors_port), "--docs", str(docs), cpus=GEN_CPU)

    log = (tmp / "node.log").open("w")
    node = U.spawn(
        [U.KANTINE, "serve", "--data", str(tmp / "node"), "--port", str(node_port)],
        stderr=log,
        cpus=NODE_CPU,
    )
    U.wait_http(f"http://{U.HOST}:{node_port}/healthz")

    pems = [
        k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        for k in keys
    ]
    bodies = tmp / "requests.tsv"
    signing = presign(bodies, pems, actors_base, f"{U.HOST}:{node_port}", args.count)
    report.figure("pre-signed unique activities", f"{args.count} in {signing:.1f} s")
    before = hello_phase(hello_port, bodies, args)

    spy = None
    if args.profile:
        spy = U.spawn(
            [
                args.profile,
                "record",
                "-p",
                str(node.pid),
                "-r",
                "200",
                "--format",
                "raw",
                "-o",
                str(tmp / "node.spy"),
                "-d",
                str(args.duration),
                "--threads",
                *os.environ.get("KANTINE_PYSPY_ARGS", "").split(),  # e.g. --gil
            ]
        )
    cpu0, db0 = U.thread_cpu(node.pid), db_counters(node_port)
    res = run_wrk(
        f"http://{U.HOST}:{node_port}/inbox", [str(bodies), "once"], args.duration, args.connections
    )
    cpu1, db1 = U.thread_cpu(node.pid), db_counters(node_port)
    if spy is not None:
        spy.wait(30)
        report.figure("profile", str(tmp / "node.spy"))
    time.sleep(0.5)
    db = sqlite3.connect(f"file:{tmp / 'node' / 'kantine.db'}?mode=ro", uri=True)
    stored = db.execute("SELECT count(*) FROM inbox").fetchone()[0]
    processed = db.execute("SELECT count(*) FROM inbox WHERE state != 'pending'").fetchone()[0]
    db.close()
    fetched = U.http_json(f"{actors_base}/_stats")
    node_rss = U.rss_kb(node.pid)
    U.stop(node)
    log.close()
    errors = sum(1 for line in (tmp / "node.log").open() if " ERROR " in line)

    after = hello_phase(hello_port, bodies, args)
    U.stop(actors)
    # The machine's own speed drifts (a virtual machine: ±30 % within a minute), so the
    # ceiling is measured on both sides of the node's phase and averaged.
    ref = {key: (before[key] + after[key]) / 2 for key in ("rate", "p50_us", "p90_us", "p99_us")}

    def lat(r: dict) -> str:
        return f"p50 {r['p50_us'] / 1000:.2f} ms, p90 {r['p90_us'] / 1000:.2f} ms, p99 {r['p99_us'] / 1000:.2f} ms"

    report.figure("generator", f"wrk -t1 -c{args.connections} on core 1; servers on core 0")
    report.figure(
        "node: 202s / other answers",
        f"{res['ok']} / {res['bad']} in {res['duration_us'] / 1e6:.2f} s "
        f"(socket errors: {res['connect_errors'] + res['read_errors'] + res['write_errors'] + res['timeouts']})",
    )
    report.figure("node: accepted/s", f"{res['rate']:,.0f}")
    per = 1e6 / max(res["ok"], 1)
    used = {name: cpu1.get(name, 0.0) - cpu0.get(name, 0.0) for name in cpu1}
    main_thread = used.pop("MainThread", 0.0)
    # Python does not name its threads for the kernel: the others (the database writer,
    # the readers) are summed.
    report.figure(
        "node: CPU per 202 (event loop / other threads)",
        f"{main_thread * per:,.0f} / {sum(used.values()) * per:,.0f} us",
    )
    commits = db1[0] - db0[0]
    report.figure(
        "node: writes per commit / activities per inbox write",
        f"{(db1[1] - db0[1]) / max(commits, 1):.1f} / {res['ok'] / max(db1[2] - db0[2], 1):.1f}",
    )
    report.figure("node: latency", lat(res))
    report.figure("node: rows on disk / processed at end", f"{stored} / {processed}")
    report.figure(
        "node: actor documents fetched", f"{sum(fetched.values())} (for {N_ACTORS} actors)"
    )
    report.figure(
        "node: RSS after the run / ERROR log lines", f"{node_rss / 1024:.1f} MB / {errors}"
    )
    report.figure(
        "hello-world: answers/s (before / after)",
        f"{ref['rate']:,.0f} ({before['rate']:,.0f} / {after['rate']:,.0f})",
    )
    report.figure("hello-world: latency", lat(ref))
    report.figure("logs", str(tmp / "node.log"))
    report.target("accepted/s / hello-world answers/s", res["rate"] / ref["rate"], 0.2)
    if res["bad"] or stored < res["ok"] - args.connections:
        report.figure("INVALID", "refused requests, or fewer rows on disk than 202s")
        report.missed.append("all requests accepted and stored")
    if res["ok"] + res["bad"] >= args.count - args.connections:
        # The generator ran out of activities: the rate is the generator's, not the node's.
        report.figure("INVALID", f"all {args.count} activities were sent: raise --count")
        report.missed.append("the generator outlasting the run")
    report.finish()


if __name__ == "__main__":
    main()
