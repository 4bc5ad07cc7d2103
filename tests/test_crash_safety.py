"""Crash safety: ``kill -9`` the node mid-inbox and mid-fan-out; nothing acknowledged is lost.

The node runs as a real ``kantine serve`` subprocess on loopback, with its real
SQLite file. After a SIGKILL and a restart on the same data directory:

* every activity the inbox answered ``202`` is in the database and gets processed;
* every delivery queued before the kill is made at least once (in-flight ones again).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from node import config
from node.runtime import open_runtime
from nodes import free_port
from peers import FakeActor, FakePeer, Received
from protocol import vocab

NODE_START_TIMEOUT = 20.0
DRAIN_TIMEOUT = 20.0
KILL_AFTER = 50  # acknowledged activities before the inbox test pulls the plug


class NodeProcess:
    """A ``kantine serve`` subprocess in its own process group.

    ``kill`` hits the main process only, as ``kill -9 PID`` would, and then counts
    helpers that outlive it; ``cleanup`` kills the whole group whatever happened.
    """

    def __init__(self, data: Path, host: str, name: str) -> None:
        self.data, self.host, self.name = data, host, name
        self.port = free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.log = data.parent / f"{data.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.orphans = 0  # kills after which a helper process outlived the node

    @property
    def db_path(self) -> Path:
        return self.data / config.DB_NAME

    def _cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "node.cli", *args]

    def init(self) -> None:
        subprocess.run(
            self._cli(
                "init", "--data", str(self.data), "--url", self.url, "--name", self.name, "--dev"
            ),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def spawn(self) -> None:
        assert self.proc is None
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"\n----- start {self.starts} -----\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self._cli(
                    "serve", "--data", str(self.data), "--host", self.host, "--port", str(self.port)
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    async def start(self) -> None:
        """Start ``kantine serve`` and wait until /healthz answers."""
        self.spawn()
        assert self.proc is not None
        deadline = time.monotonic() + NODE_START_TIMEOUT
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(f"node exited with {self.proc.returncode}:\n{self.tail()}")
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    async with session.get(
                        self.url + "/healthz", timeout=aiohttp.ClientTimeout(total=2)
                    ) as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.05)
        raise AssertionError(f"node did not become healthy:\n{self.tail()}")

    def kill(self) -> None:
        """``kill -9`` the node's main process; its helpers must follow it out by themselves."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc = None
        deadline = time.monotonic() + 5.0
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _group_alive(pgid):
            self.orphans += 1
            _kill_group(pgid)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM); a node that does not stop in time is killed."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        self.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        if self.proc.poll() is None:
            self.kill()
        self.proc = None
        _kill_group(pgid)

    def cleanup(self) -> None:
        """Whatever happened, leave no process of this node behind."""
        if self.proc is not None:
            _kill_group(self.proc.pid)
            self.proc.wait(timeout=10)
            self.proc = None

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read the node's database from outside (read-only, WAL lets the node keep writing)."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def integrity(self) -> str:
        conn = sqlite3.connect(str(self.db_path), timeout=10)
        try:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
        finally:
            conn.close()

    async def wait_until(self, predicate: Any, what: str, timeout: float = DRAIN_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"node died while waiting for {what}:\n{self.tail()}")
            if predicate():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}:\n{self.tail()}")


@contextlib.asynccontextmanager
async def running(*things: Any) -> AsyncIterator[None]:
    """Always stop the peers and kill the nodes, whatever the test did."""
    try:
        yield
    finally:
        for thing in things:
            if isinstance(thing, NodeProcess):
                thing.cleanup()
            else:
                await thing.stop()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _delivery_senders(pid: int) -> int:
    """How many ``node.sender`` children ``pid`` has (Linux /proc)."""
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and b"node.sender" in cmdline:
            count += 1
    return count


def _verified(peer: FakePeer, start: int = 0) -> list[Received]:
    return [r for r in peer.received[start:] if r.error is None]


# -- 1. the inbox: a 202 means the activity is on disk -----------------------------


async def test_kill_during_inbox_flood_loses_no_accepted_activity(tmp_path: Path) -> None:
    node = NodeProcess(tmp_path / "node", "127.0.0.21", "Crash Inbox")
    peer = FakePeer("127.0.0.22")
    node.init()
    actors = [peer.actor(f"gen{i}") for i in range(5)]
    await peer.start()
    async with running(peer, node):
        await node.start()
        # As served: on uvloop (a dependency wherever it installs), like the senders.
        assert "(event loop: uvloop)" in node.tail(), node.tail()
        network = node.url + "/network"
        inbox = node.url + "/inbox"
        accepted: dict[str, tuple[str, str]] = {}  # activity id -> (type, actor id)
        sent_follows: dict[str, set[str]] = {a.id: set() for a in actors}
        refused: list[tuple[int, str]] = []
        killed, enough = asyncio.Event(), asyncio.Event()
        counter = itertools.count()
        deadline = time.monotonic() + 10.0

        def make(n: int) -> tuple[FakeActor, dict[str, Any]]:
            actor = actors[n % len(actors)]
            kind = ("Follow", "Like", "Create")[n % 3]
            if kind == "Follow":
                obj: Any = network
            elif kind == "Like":
                obj = f"{node.url}/notes/{n}"
            else:
                obj = {
                    "id": f"{actor.id}/notes/{uuid.uuid4()}",
                    "type": "Note",
                    "attributedTo": actor.id,
                    "content": f"post {n}",
                    "to": [vocab.AS_PUBLIC],
                }
            activity = peer.activity(actor, kind, obj, to=[vocab.AS_PUBLIC])
            if kind == "Follow":
                sent_follows[actor.id].add(activity["id"])
            return actor, activity

        async def generator(session: aiohttp.ClientSession) -> None:
            while not killed.is_set() and time.monotonic() < deadline:
                n = next(counter)
                if n >= 400:
                    return
                actor, activity = make(n)
                body = msgspec.json.encode(activity)
                headers = actor.sign("POST", inbox, body)
                try:
                    async with session.post(
                        inbox, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=5)
                    ) as resp:
                        text = await resp.text()
                except (TimeoutError, aiohttp.ClientError):
                    continue  # the kill cuts requests off; they were never acknowledged
                if resp.status == 202:
                    accepted[activity["id"]] = (activity["type"], actor.id)
                    if len(accepted) >= KILL_AFTER:
                        enough.set()
                elif not killed.is_set():
                    refused.append((resp.status, text))

        async def killer() -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(enough.wait(), deadline - time.monotonic())
            node.kill()
            killed.set()

        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=16, force_close=False)
        ) as session:
            await asyncio.gather(killer(), *(generator(session) for _ in range(8)))

        assert not refused, refused[:3]
        assert len(accepted) >= KILL_AFTER, f"only {len(accepted)} accepted before the deadline"
        at_kill = dict(node.query("SELECT state, count(*) FROM inbox GROUP BY state"))
        print(f"\ninbox: {len(accepted)} accepted (202) before the kill; rows at kill {at_kill}")
        assert node.integrity() == "ok"
        assert node.orphans == 0, "a helper process outlived the killed node"

        await node.start()
        await node.wait_until(
            lambda: node.query("SELECT count(*) FROM inbox WHERE state = 'pending'")[0][0] == 0,
            "the inbox to be processed",
        )
        rows = {
            r[0]: (r[1], r[2])
            for r in node.query(
                "SELECT activity_id, state, type FROM inbox WHERE host = ?",
                (f"{peer.host}:{peer.port}",),
            )
        }
        missing = [a for a in accepted if a not in rows]
        assert not missing, f"{len(missing)} acknowledged activities are lost, e.g. {missing[:3]}"
        for activity_id, (kind, _) in accepted.items():
            state, stored_kind = rows[activity_id]
            assert stored_kind == kind
            expected = "done" if kind == "Follow" else "discarded"
            assert state == expected, (activity_id, kind, state)

        # Processing had its effect: a follows row per actor whose Follow was acknowledged ...
        followers = {
            r[0]: (r[1], r[2])
            for r in node.query(
                "SELECT remote, state, activity_id FROM follows"
                " WHERE direction = 'in' AND local = 'crash-inbox'"
            )
        }
        followed_by = {actor for kind, actor in accepted.values() if kind == "Follow"}
        assert followed_by, "no Follow was acknowledged before the kill"
        for actor_id in followed_by:
            assert actor_id in followers, f"the acknowledged Follow of {actor_id} had no effect"
            state, follow_id = followers[actor_id]
            assert state == "accepted"
            assert follow_id in sent_follows[actor_id]

        # ... and every acknowledged Follow is answered with an Accept (at least once).
        await node.wait_until(
            lambda: (
                node.query("SELECT count(*) FROM deliveries WHERE state IN ('queued', 'inflight')")[
                    0
                ][0]
                == 0
            ),
            "the Accepts to be delivered",
        )
        answered = {
            r.json["object"]["id"] for r in _verified(peer) if r.json.get("type") == "Accept"
        }
        unanswered = [
            a for a, (kind, _) in accepted.items() if kind == "Follow" and a not in answered
        ]
        assert not unanswered, f"{len(unanswered)} acknowledged Follows got no Accept"
        assert not node.query("SELECT count(*) FROM deliveries WHERE state != 'done'")[0][0]

        node.stop()
        assert node.integrity() == "ok"


# -- 2. fan-out: every queued delivery is made at least once -----------------------


async def _publish_notes(data: Path, count: int) -> list[str]:
    """Publish from another process's point of view: the CLI's way, through the database."""
    settings = config.load(data)
    ids = []
    async with open_runtime(settings, workers=False) as rt:
        fed = rt.federation
        network = await rt.follows.local_actor(settings.slug)
        actor_id = fed.actor_id(network)
        for n in range(count):
            note_id = fed.urls.object("notes", f"crash-{n}-{uuid.uuid4().hex[:8]}")
            activity = {
                "@context": vocab.CONTEXT,
                "id": fed.urls.new_activity(),
                "type": "Create",
                "actor": actor_id,
                "object": {
                    "id": note_id,
                    "type": "Note",
                    "attributedTo": actor_id,
                    "content": f"Meetup number {n}",
                    "to": [vocab.AS_PUBLIC],
                    "cc": [actor_id + "/followers"],
                },
                "to": [vocab.AS_PUBLIC],
                "cc": [actor_id + "/followers"],
            }
            activity_id, _ = await fed.publish(network, activity, object_id=note_id)
            ids.append(activity_id)
    return ids


async def test_kill_during_fan_out_loses_no_delivery(tmp_path: Path) -> None:
    node = NodeProcess(tmp_path / "node", "127.0.0.31", "Crash Fanout")
    fast = [FakePeer("127.0.0.32"), FakePeer("127.0.0.33")]
    slow = [FakePeer("127.0.0.34"), FakePeer("127.0.0.35")]
    for peer in slow:
        peer.shared_inbox = False  # every follower there is a delivery target of its own
    peers = fast + slow
    node.init()
    for peer in fast:
        for i in range(5):
            peer.actor(f"f{i}")
    for peer in slow:
        for i in range(6):
            peer.actor(f"s{i}")
    for peer in peers:
        await peer.start()
    async with running(*peers, node):
        await node.start()
        network = node.url + "/network"

        # Real follows: every actor follows the network and gets its Accept.
        async def follow(peer: FakePeer, actor: FakeActor) -> None:
            status, text = await peer.post(
                actor, node.url + "/inbox", peer.activity(actor, "Follow", network)
            )
            assert status == 202, text

        await asyncio.gather(*(follow(p, a) for p in peers for a in p.actors.values()))
        n_followers = sum(len(p.actors) for p in peers)
        await node.wait_until(
            lambda: (
                node.query(
                    "SELECT count(*) FROM follows WHERE direction = 'in' AND state = 'accepted'"
                )[0][0]
                == n_followers
                and node.query(
                    "SELECT count(*) FROM deliveries WHERE state IN ('queued', 'inflight')"
                )[0][0]
                == 0
            ),
            "the follows to be accepted",
        )
        targets = {p.base + "/inbox" for p in fast} | {
            a.id + "/inbox" for p in slow for a in p.actors.values()
        }

        # The slow hosts hold each request, so the fan-out is still under way at the kill.
        for peer in slow:
            peer.inbox_delay = 3.0
        marks = {id(p): len(p.received) for p in peers}
        activity_ids = await _publish_notes(node.data, 8)
        expected = {(a, t) for a in activity_ids for t in targets}
        placeholders = ",".join("?" * len(activity_ids))
        states_sql = (
            "SELECT d.state, count(*) FROM deliveries d JOIN outbox o ON o.seq = d.outbox_seq"
            f" WHERE o.activity_id IN ({placeholders}) GROUP BY d.state"
        )

        def mid_fan_out() -> bool:
            states = dict(node.query(states_sql, tuple(activity_ids)))
            held = sum(len(p.received) - marks[id(p)] for p in slow)
            return held >= 2 * 4 and states.get("inflight", 0) > 0 and states.get("queued", 0) > 0

        await node.wait_until(mid_fan_out, "deliveries to be in flight", timeout=10)
        if (os.cpu_count() or 1) > 1:  # the fan-out goes through the delivery senders
            assert node.proc is not None
            assert _delivery_senders(node.proc.pid) == 2
        node.kill()
        at_kill = dict(node.query(states_sql, tuple(activity_ids)))
        inflight = {
            (r[0], r[1])
            for r in node.query(
                "SELECT o.activity_id, d.inbox_url FROM deliveries d"
                " JOIN outbox o ON o.seq = d.outbox_seq"
                f" WHERE d.state = 'inflight' AND o.activity_id IN ({placeholders})",
                tuple(activity_ids),
            )
        }
        print(f"\nfan-out: {len(expected)} deliveries; at the kill {at_kill}")
        assert sum(at_kill.values()) == len(expected)
        assert inflight and at_kill.get("queued", 0) > 0
        assert node.integrity() == "ok"
        assert node.orphans == 0, "a delivery sender outlived the killed node"

        for peer in slow:
            peer.inbox_delay = 0.0
        # Let the peers finish verifying what the dead node sent them before counting anew.
        await asyncio.sleep(0.5)
        restart_marks = {id(p): len(p.received) for p in peers}
        await node.start()
        await node.wait_until(
            lambda: dict(node.query(states_sql, tuple(activity_ids))) == {"done": len(expected)},
            "every delivery to be made",
        )

        def pairs(peer: FakePeer, start: int) -> set[tuple[str, str]]:
            return {(r.json["id"], peer.base + r.path) for r in _verified(peer, start)}

        got = set().union(*(pairs(p, marks[id(p)]) for p in peers))
        missing = expected - got
        assert not missing, f"{len(missing)} deliveries never arrived, e.g. {sorted(missing)[:3]}"
        # What was in flight at the kill was delivered again after the restart.
        again = set().union(*(pairs(p, restart_marks[id(p)]) for p in peers))
        assert inflight <= again, inflight - again
        # Nothing the node sent after the restart failed the peers' own verification.
        errors = [r.error for p in peers for r in p.received[restart_marks[id(p)] :] if r.error]
        assert not errors, errors[:3]

        node.stop()
        assert node.integrity() == "ok"
