"""One abusive host bursts signed POSTs at the inbox while another host keeps delivering.

    .venv/bin/python bench/abuse.py [--burst 6000] [--concurrency 64] [--rate 20] [--duration 10]

A ``kantine serve`` node (pinned to core 0) is limited to
``inbox_per_host_per_minute = 3000`` (50/s, a burst of 750). Two remote hosts
(two tiny actor servers on their own ports, so two hosts) send pre-signed, unique
Creates (draft-cavage rsa-sha256, as Mastodon signs): the *good* host at a steady
``--rate`` per second from 127.0.0.2, the *abuser* as fast as ``--concurrency``
connections allow from 127.0.0.3. Phase 1 measures the good host alone; phase 2
the same while the abuser bursts. Figures: the good host's accepted/s, share
accepted and latency, with and without the burst; the abuser's 202s and 429s.
Targets: during the burst the good host still gets >= 99 % accepted at >= 95 %
of its rate, and the abuser gets no more than its burst plus its rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _util as U
import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

NODE_CPU, GEN_CPU = {0}, {1}
PER_HOST_PER_MINUTE = 3000
BURST = PER_HOST_PER_MINUTE / 60 * 15  # node.ratelimit.BURST_SECONDS of the rate


def _doc(base: str, key: rsa.RSAPrivateKey) -> dict:
    return U.actor_document(base, "a0", key)


def _sign(args: tuple[str, str, str, int]) -> list[tuple[dict[str, str], bytes]]:
    """``count`` unique signed Creates by ``{base}/users/a0`` (worker process)."""
    pem, base, host, count = args
    key = serialization.load_pem_private_key(pem.encode(), None)
    actor = f"{base}/users/a0"
    date = format_datetime(datetime.now(UTC), usegmt=True)
    out = []
    for n in range(count):
        body, digest, signature = U.signed_create(
            key, actor, host, "/inbox", date, f"<p>Number {n}</p>"
        )
        headers = {
            "Host": host,
            "Date": date,
            "Digest": digest,
            "Content-Type": "application/activity+json",
            "Signature": signature,
        }
        out.append((headers, body))
    return out


def presign(pem: str, base: str, host: str, count: int) -> list[tuple[dict[str, str], bytes]]:
    chunk = 500
    jobs = [(pem, base, host, min(chunk, count - s)) for s in range(0, count, chunk)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return [r for part in pool.map(_sign, jobs) for r in part]


async def _post(session: aiohttp.ClientSession, url: str, req: tuple) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        async with session.post(url, data=req[1], headers=req[0]) as resp:
            await resp.read()
            return resp.status, time.perf_counter() - started
    except (aiohttp.ClientError, TimeoutError):
        return 0, time.perf_counter() - started


async def paced(url: str, reqs: list, rate: float, source: str) -> tuple[list, float]:
    """Send ``reqs`` at a steady ``rate`` per second (open loop); (status, latency) each."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0), limit=32)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        tasks = []
        for i, req in enumerate(reqs):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_post(session, url, req)))
        results = await asyncio.gather(*tasks)
        return results, time.perf_counter() - started


async def burst(url: str, reqs: list, concurrency: int, source: str) -> tuple[list, float]:
    """Send ``reqs`` as fast as ``concurrency`` connections allow."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0), limit=concurrency)
    queue = list(reversed(reqs))
    results: list[tuple[int, float]] = []
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()

        async def worker() -> None:
            while queue:
                results.append(await _post(session, url, queue.pop()))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return results, time.perf_counter() - started


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else 0.0


def _good(report: U.Report, label: str, results: list, seconds: float) -> tuple[float, float]:
    ok = [lat for status, lat in results if status == 202]
    share = len(ok) / len(results)
    rate = len(ok) / seconds
    report.figure(
        f"good host, {label}",
        f"{rate:.1f} accepted/s, {share:.1%} of {len(results)} accepted, "
        f"p50 {_pct(ok, 0.5):.1f} ms, p99 {_pct(ok, 0.99):.1f} ms",
    )
    return rate, share


async def run(args: argparse.Namespace, report: U.Report) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kantine-bench-abuse-"))
    node_port, good_port, bad_port = U.free_port(), U.free_port(), U.free_port()
    U.init_node(tmp / "node", node_port)
    config = tmp / "node" / "config.toml"
    text = config.read_text()
    text = re.sub(
        r"inbox_per_host_per_minute = \d+",
        f"inbox_per_host_per_minute = {PER_HOST_PER_MINUTE}",
        text,
    )
    text = re.sub(r"inbox_per_ip_per_minute = \d+", "inbox_per_ip_per_minute = 60000", text)
    config.write_text(text)

    keys = {name: rsa.generate_private_key(65537, 2048) for name in ("good", "bad")}
    bases = {"good": f"http://{U.HOST}:{good_port}", "bad": f"http://{U.HOST}:{bad_port}"}
    for name, port in (("good", good_port), ("bad", bad_port)):
        docs = tmp / f"{name}.json"
        docs.write_text(json.dumps({"/users/a0": _doc(bases[name], keys[name])}))
        U.server("actors", "--port", str(port), "--docs", str(docs), cpus=GEN_CPU)

    log = (tmp / "node.log").open("w")
    U.spawn(
        [U.KANTINE, "serve", "--data", str(tmp / "node"), "--port", str(node_port)],
        stderr=log,
        cpus=NODE_CPU if (os.cpu_count() or 1) > 1 else None,
    )
    U.wait_http(f"http://{U.HOST}:{node_port}/healthz")
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, GEN_CPU)

    host = f"{U.HOST}:{node_port}"
    pems = {
        n: k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        for n, k in keys.items()
    }
    per_phase = int(args.rate * args.duration)
    started = time.monotonic()
    good_reqs = presign(pems["good"], bases["good"], host, 2 * per_phase + 1)
    bad_reqs = presign(pems["bad"], bases["bad"], host, args.burst + 1)
    report.figure(
        "pre-signed", f"{len(good_reqs) + len(bad_reqs)} in {time.monotonic() - started:.1f} s"
    )
    url = f"http://{host}/inbox"
    # Warm both keys (first use fetches the actor) outside the measured phases.
    for reqs, source in ((good_reqs, "127.0.0.2"), (bad_reqs, "127.0.0.3")):
        warm, _ = await burst(url, [reqs.pop()], 1, source)
        assert warm[0][0] == 202, warm
    await asyncio.sleep(1.0)

    alone, alone_s = await paced(url, good_reqs[:per_phase], args.rate, "127.0.0.2")
    base_rate, _ = _good(report, "alone", alone, alone_s)
    await asyncio.sleep(PER_HOST_PER_MINUTE and 2.0)

    (during, during_s), (flood, flood_s) = await asyncio.gather(
        paced(url, good_reqs[per_phase:], args.rate, "127.0.0.2"),
        burst(url, bad_reqs, args.concurrency, "127.0.0.3"),
    )
    rate, share = _good(
        report, f"during the burst ({args.concurrency} connections)", during, during_s
    )
    statuses = [s for s, _ in flood]
    accepted, limited = statuses.count(202), statuses.count(429)
    report.figure(
        "abuser",
        f"{len(flood)} POSTs in {flood_s:.1f} s ({len(flood) / flood_s:.0f}/s): "
        f"{accepted} accepted, {limited} refused 429, {len(flood) - accepted - limited} other",
    )
    refusals = [lat for s, lat in flood if s == 429]
    report.figure(
        "abuser's 429 latency",
        f"p50 {_pct(refusals, 0.5):.1f} ms, p99 {_pct(refusals, 0.99):.1f} ms",
    )
    report.target("good host accepted share during the burst", share, 0.99)
    report.target("good host rate during / alone", rate / base_rate, 0.95)
    allowance = BURST + PER_HOST_PER_MINUTE / 60 * flood_s + 1
    report.target(
        "abuser accepted / (burst + rate x time)", accepted / allowance, 1.0, at_most=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=6000, help="the abuser's POSTs")
    parser.add_argument("--concurrency", type=int, default=64, help="the abuser's connections")
    parser.add_argument("--rate", type=float, default=20.0, help="the good host's POSTs per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    args = parser.parse_args()
    report = U.Report("abuse")
    asyncio.run(run(args, report))
    report.finish()


if __name__ == "__main__":
    main()
