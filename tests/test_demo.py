"""`kantine demo` from the command line: three networks that see each other's meetups."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from nodes import free_port, wait_for


async def _calendar(session: aiohttp.ClientSession, port: int) -> list[str]:
    try:
        async with session.get(f"http://127.0.0.1:{port}/api/v1/calendar") as resp:
            if resp.status != 200:
                return []
            doc = await resp.json()
    except aiohttp.ClientError:
        return []
    return [item.get("name", "") for item in doc.get("events", [])]


async def test_demo_networks_see_each_others_meetups(tmp_path: Path) -> None:
    base = free_port()
    while any(free_port() == base + i for i in (1, 2)):  # pragma: no cover - port luck
        base = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "node.cli",
        "demo",
        "--data",
        str(tmp_path / "demo"),
        "--base-port",
        str(base),
        "--seconds",
        "60",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(60):  # the demo says it is ready once seeded
            while b"Ctrl-C stops the demo" not in await proc.stdout.readline():
                pass
        async with aiohttp.ClientSession() as session:
            for i in range(3):
                names = await wait_for(lambda port=base + i: _all_three(session, port), timeout=45)
                assert any("Leeuwarden" in n for n in names)
                assert any("Den Haag" in n for n in names)
                assert any("Haarlem" in n for n in names)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            output = (await asyncio.wait_for(proc.communicate(), 20))[0].decode()
        except TimeoutError:
            proc.kill()
            output = ""
    assert proc.returncode == 0, output


async def _all_three(session: aiohttp.ClientSession, port: int) -> list[str] | None:
    names = await _calendar(session, port)
    cities = {"Leeuwarden", "Den Haag", "Haarlem"}
    return names if all(any(c in n for n in names) for c in cities) else None
