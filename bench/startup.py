"""Start-up time and idle memory of `kantine serve`.

    .venv/bin/python bench/startup.py [--runs 5]

Start: from spawning `kantine serve` to the first 200 on /healthz (best and median
of several runs). Idle RSS: VmRSS of the serve process 2 s after that 200, with no
traffic. Targets: start <= 1.5 s, idle RSS <= 60 MB.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _util as U


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    report = U.Report("startup")
    tmp = Path(tempfile.mkdtemp(prefix="kantine-bench-startup-"))
    port = U.free_port()
    U.init_node(tmp / "node", port)
    starts, rss = [], []
    for _ in range(max(1, args.runs)):
        t0 = time.monotonic()
        node = U.spawn(
            [U.KANTINE, "serve", "--data", str(tmp / "node"), "--port", str(port)],
            stderr=(tmp / "node.log").open("a"),
        )
        ready = U.wait_http(f"http://{U.HOST}:{port}/healthz", timeout=20)
        starts.append(ready - t0)
        time.sleep(2.0)
        rss.append(U.rss_kb(node.pid) / 1024)
        U.stop(node)
    report.figure(
        "spawn -> first 200 on /healthz, per run", ", ".join(f"{s:.3f}" for s in starts) + " s"
    )
    report.figure("idle VmRSS, per run", ", ".join(f"{r:.1f}" for r in rss) + " MB")
    report.target("start to first answer, median (s)", statistics.median(starts), 1.5, at_most=True)
    report.target("idle RSS, median (MB)", statistics.median(rss), 60.0, at_most=True)
    report.finish()


if __name__ == "__main__":
    main()
