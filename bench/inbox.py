"""Inbox throughput of `kantine serve`, beside an aiohttp hello-world POST endpoint.

    .venv/bin/python bench/inbox.py [--rounds 5] [--duration 3] [--count 60000] [--connections 32]

The node runs as served (``kantine serve``: synchronous=FULL, group commit, the
processor working after the 202 at the same time, INFO logs to a file, metrics on)
pinned to core 0; the load generator (wrk with bench/inbox.lua) runs pinned to
core 1. Every request is a unique Create, pre-signed (draft-cavage rsa-sha256,
Date = now, just before the run) by one of a few remote actors whose documents a
tiny separate server on loopback serves, so the node fetches and caches their keys
on first use. The same generator posts the same bodies to an aiohttp hello-world
endpoint, also pinned to core 0.

The machine's speed drifts (a virtual machine: a pinned loop's speed moves by ±25 %
from one second to the next), so short phases alternate, hello-world first and last:
H N H N ... H. The target compares all node phases together with all hello-world phases
together (each phase's ratio to its neighbours is printed too). A node phase's time runs
until every activity it accepted is processed (not only until the generator stops), and
no phase starts before the last one's work is done.
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


def processed_after(db_path: Path, started: float, timeout: float = 60.0) -> float:
    """Seconds from ``started`` until no stored activity is pending (the node's backlog)."""
    deadline = time.monotonic() + timeout
    while True:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            pending = db.execute("SELECT count(*) FROM inbox WHERE state = 'pending'").fetchone()[0]
        finally:
            db.close()
        if pending == 0 or time.monotonic() > deadline:
            return time.monotonic() - started
        time.sleep(0.005)


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
        default=60000,
        help="pre-signed activities (more than the node can take in all its phases)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="node phases (max 8)")
    parser.add_argument("--duration", type=int, default=3, help="seconds per phase (max 20)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--profile", help="py-spy binary: record the node (raw stacks) while loaded"
    )
    args = parser.parse_args()
    args.duration = min(args.duration, 20)
    args.rounds = max(1, min(args.rounds, 8))
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
    hello = U.spawn(
        [U.PY, str(U.BENCH / "_servers.py"), "hello", "--port", str(hello_port)],
        wait_ready=True,
        cpus=NODE_CPU,
    )
    db_path = tmp / "node" / "kantine.db"

    def hello_phase() -> dict:
        node_cpu = U.process_cpu(node.pid)
        result = run_wrk(
            f"http://{U.HOST}:{hello_port}/inbox",
            [str(bodies), "cycle"],
            args.duration,
            args.connections,
        )
        result["node_cpu"] = U.process_cpu(node.pid) - node_cpu  # the idle node's share
        return result

    hellos = [hello_phase()]
    rounds: list[dict] = []
    first_line = 1  # the next activity not posted yet
    cpu = {}
    db0 = db_counters(node_port)
    spy = None
    for n in range(args.rounds):
        if args.profile and n == 0:
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
        cpu0 = U.thread_cpu(node.pid)
        res = run_wrk(
            f"http://{U.HOST}:{node_port}/inbox",
            [str(bodies), "once", str(first_line)],
            args.duration,
            args.connections,
        )
        ended = time.monotonic()
        # The phase lasts until the node has processed what it accepted.
        res["drain"] = processed_after(db_path, ended)
        res["seconds"] = res["duration_us"] / 1e6 + res["drain"]
        res["rate"] = res["ok"] / res["seconds"]
        for name, seconds in U.thread_cpu(node.pid).items():
            cpu[name] = cpu.get(name, 0.0) + seconds - cpu0.get(name, 0.0)
        # Requests still in flight when wrk stopped may be stored: never posted again.
        res["first"] = first_line
        first_line += res["ok"] + res["bad"] + args.connections
        rounds.append(res)
        if spy is not None:
            spy.wait(30)
            spy = None
        hellos.append(hello_phase())
    db1 = db_counters(node_port)
    U.stop(hello)
    time.sleep(0.5)
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    stored = db.execute("SELECT count(*) FROM inbox").fetchone()[0]
    processed = db.execute("SELECT count(*) FROM inbox WHERE state != 'pending'").fetchone()[0]
    db.close()
    fetched = U.http_json(f"{actors_base}/_stats")
    node_rss = U.rss_kb(node.pid)
    U.stop(node)
    log.close()
    errors = sum(1 for line in (tmp / "node.log").open() if " ERROR " in line)
    U.stop(actors)

    def lat(r: dict) -> str:
        return f"p50 {r['p50_us'] / 1000:.2f} ms, p90 {r['p90_us'] / 1000:.2f} ms, p99 {r['p99_us'] / 1000:.2f} ms"

    report.figure("generator", f"wrk -t1 -c{args.connections} on core 1; servers on core 0")
    report.figure(
        "phases", f"{args.rounds} node phases of {args.duration} s between hello-world ones"
    )
    ratios = []
    for n, res in enumerate(rounds):
        ceiling = (hellos[n]["rate"] + hellos[n + 1]["rate"]) / 2
        ratios.append(res["rate"] / ceiling)
        report.figure(
            f"round {n + 1}: node accepted/s / hello-world",
            f"{res['rate']:,.0f} ({res['ok']} in {res['duration_us'] / 1e6:.2f} s + "
            f"{res['drain']:.2f} s to process) / {ceiling:,.0f} "
            f"({hellos[n]['rate']:,.0f} before, {hellos[n + 1]['rate']:,.0f} after) = {ratios[-1]:.3f}",
        )
    ok = sum(r["ok"] for r in rounds)
    bad = sum(r["bad"] for r in rounds)
    socket_errors = sum(
        r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"] for r in rounds
    )
    report.figure("node: 202s / other answers", f"{ok} / {bad} (socket errors: {socket_errors})")
    report.figure(
        "node: accepted/s (all phases, to the last processed)",
        f"{ok / sum(r['seconds'] for r in rounds):,.0f}",
    )
    per = 1e6 / max(ok, 1)
    main_thread = cpu.pop("MainThread", 0.0)
    # Python does not name its threads for the kernel: the others (the database writer,
    # the readers) are summed.
    report.figure(
        "node: CPU per 202 (event loop / other threads)",
        f"{main_thread * per:,.0f} / {sum(cpu.values()) * per:,.0f} us",
    )
    commits = db1[0] - db0[0]
    report.figure(
        "node: writes per commit / activities per inbox write",
        f"{(db1[1] - db0[1]) / max(commits, 1):.1f} / {ok / max(db1[2] - db0[2], 1):.1f}",
    )
    report.figure("node: latency (worst phase)", lat(max(rounds, key=lambda r: r["p99_us"])))
    report.figure("node: rows on disk / processed at end", f"{stored} / {processed}")
    report.figure(
        "node: actor documents fetched", f"{sum(fetched.values())} (for {N_ACTORS} actors)"
    )
    report.figure(
        "node: RSS after the run / ERROR log lines", f"{node_rss / 1024:.1f} MB / {errors}"
    )
    report.figure(
        "hello-world: answers/s (each phase)", " / ".join(f"{h['rate']:,.0f}" for h in hellos)
    )
    report.figure(
        "hello-world: latency (median phase)",
        lat(sorted(hellos, key=lambda h: h["p99_us"])[len(hellos) // 2]),
    )
    idle = max(h["node_cpu"] / (h["duration_us"] / 1e6) for h in hellos)
    report.figure("node: CPU while hello-world ran", f"{idle * 1000:.0f} ms per second at most")
    if spy is None and args.profile:
        report.figure("profile", str(tmp / "node.spy"))
    report.figure("logs", str(tmp / "node.log"))
    hello_rate = sum(h["ok"] for h in hellos) / sum(h["duration_us"] / 1e6 for h in hellos)
    node_rate = ok / sum(r["seconds"] for r in rounds)
    report.figure("hello-world: answers/s (all phases)", f"{hello_rate:,.0f}")
    report.figure(
        "ratio of each node phase to its neighbours", " / ".join(f"{r:.3f}" for r in ratios)
    )
    report.target("accepted/s / hello-world answers/s (all phases)", node_rate / hello_rate, 0.2)
    if bad or stored < ok - args.connections:
        report.figure("INVALID", "refused requests, or fewer rows on disk than 202s")
        report.missed.append("all requests accepted and stored")
    if first_line > args.count:
        # The generator ran out of activities: the rate is the generator's, not the node's.
        report.figure("INVALID", f"all {args.count} activities were sent: raise --count")
        report.missed.append("the generator outlasting the run")
    report.finish()


if __name__ == "__main__":
    main()
