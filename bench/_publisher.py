"""A Kantine node run as `kantine serve` runs it, that publishes one activity on command.

    python bench/_publisher.py --data DIR --port P

Builds the app exactly as ``node.commands.serve`` does (same create_app, the same
delivery sender process when there is a second core), serves it, prints ``ready``, then
reads commands on stdin: ``publish`` publishes a Create of an Event as the network
actor to its followers and prints ``published <monotonic t0> <deliveries queued>``
(t0 is taken just before ``Federation.publish``); ``quit`` stops. There is no
publishing API yet, so this stands in for one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

from aiohttp import web

from node import config, eventloop
from node.app import RUNTIME, create_app
from node.storage.actors import get_local


async def main(data: Path, port: int) -> None:
    settings = config.load(data)
    # As `kantine serve` does: with a second core, deliveries go through the sender process.
    app = create_app(settings, delivery_process=(os.cpu_count() or 1) > 1)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    rt = app[RUNTIME]
    sender = rt.delivery.sender
    if sender is not None:  # measure a node that is up: its sender has started
        await sender.ready()
    actor = await get_local(rt.db, settings.slug)
    assert actor is not None
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if line in ("", "quit"):
                break
            if line == "publish":
                network = settings.base + "/network"
                event = f"{settings.base}/events/{uuid.uuid4()}"
                activity = {
                    "@context": "https://www.w3.org/ns/activitystreams",
                    "id": event + "/create",
                    "type": "Create",
                    "actor": network,
                    "to": ["https://www.w3.org/ns/activitystreams#Public"],
                    "cc": [network + "/followers"],
                    "object": {
                        "id": event,
                        "type": "Event",
                        "attributedTo": network,
                        "name": "Koffie & klussen: ZZP meetup",
                        "summary": "Thursday 3 December, 19:00, De Kantine, Utrecht",
                        "startTime": "2026-12-03T19:00:00+01:00",
                        "endTime": "2026-12-03T21:00:00+01:00",
                        "timezone": "Europe/Amsterdam",
                        "to": ["https://www.w3.org/ns/activitystreams#Public"],
                    },
                }
                t0 = time.monotonic()
                _, queued = await rt.federation.publish(actor, activity)
                print(f"published {t0} {queued}", flush=True)
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    eventloop.tune_gc()  # as `kantine serve` runs
    eventloop.run(main(Path(args.data), args.port))
