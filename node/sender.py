"""Deliveries signed and POSTed by a child process, so the node's event loop only keeps the books.

A fan-out costs the node's process about a millisecond of CPU per delivery when it
signs (RSA-2048, or RFC 9421's Python) and speaks HTTP itself, and one Python process
uses one core. :class:`DeliverySender` hands each attempt to a child process instead:
the child signs with the activity actor's key, POSTs with
:class:`node.delivery_http.DeliveryClient` (the same address rules: private and
reserved addresses refused at connect time unless ``allow_private``), and sends the
outcome back. The node keeps everything that must be durable: the queue, the retry
decision and the outcome's write all stay in :mod:`node.delivery`.

The two processes talk over a socket pair, in frames: a 4-byte big-endian length and
a pickle (both ends are this program). The node sends lists of jobs
``("post", job_id, pem, key_id, scheme, url, body, headers, now)`` (or
``("ping", job_id)``); the child answers lists of ``(job_id, status, retry_after,
error)`` as each POST ends, not per batch, so a slow host holds up only its own
delivery.

If a child dies or stops answering (no outcome within the POST's time limit plus a
grace period), what it held fails with :class:`SenderStopped`: the worker then makes
those deliveries in-process, as if no attempt had been made, and
:attr:`DeliverySender.alive` turns False (a stuck child is killed). The child exits
when the node closes the socket, also after ``kill -9``; it ignores SIGINT and SIGTERM,
so a signal to the whole service lets the node finish first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import pickle
import signal
import socket
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from . import eventloop

__all__ = ["DeliverySender", "DeliverySenders", "Outcome", "SenderStopped"]

log = logging.getLogger("kantine.sender")

#: (status, Retry-After, error): what ``DeliveryWorker._post`` returns.
Outcome = tuple[int | None, str | None, str | None]

_HEADER = struct.Struct(">I")
#: Beyond the POST's own time limit, how long a job may wait in the child (signing backlog).
_GRACE = 30.0


class SenderStopped(ConnectionError):
    """The sender could not carry out the job (it stopped, or stopped answering): the
    delivery was not attempted as far as the node knows, and is made another way."""


_MAX_FRAME = 256 * 1024 * 1024


async def _read_frame(reader: asyncio.StreamReader) -> Any:
    (length,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    if length > _MAX_FRAME:
        raise ConnectionError(f"frame of {length} bytes")
    return pickle.loads(await reader.readexactly(length))


def _frame(value: Any) -> bytes:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


class DeliverySender:
    """The node's side: ``await sender.post(...)`` → ``(status, retry_after, error)``."""

    def __init__(self, timeout: float = 10.0, grace: float = _GRACE) -> None:
        self.alive = False
        self.timeout, self.grace = timeout, grace
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._futures: dict[int, asyncio.Future[Outcome]] = {}
        self._sent_at: dict[int, float] = {}  # in order: the first is the oldest job out
        self._watch: asyncio.TimerHandle | None = None
        self._outgoing: list[tuple[Any, ...]] = []
        self._ids = itertools.count(1)
        self.posted = 0  # deliveries handed to this child

    @classmethod
    async def start(
        cls,
        *,
        allow_private: bool,
        timeout: float,
        idle_per_host: int,
        grace: float = _GRACE,
        event_loop: str = "auto",
    ) -> DeliverySender:
        """Spawn the child (it imports in the background; jobs wait in the socket)."""
        sender = cls(timeout, grace)
        ours, theirs = socket.socketpair()
        try:
            sender._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "node.sender",
                "--fd",
                str(theirs.fileno()),
                "--timeout",
                str(timeout),
                "--idle-per-host",
                str(idle_per_host),
                "--event-loop",
                event_loop,
                *(["--allow-private"] if allow_private else []),
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                # The same session as the node (its own would be a scheduling group of its
                # own under autogroup, taking CPU from the node that feeds it). It ignores
                # SIGINT/SIGTERM and stops when the node closes its socket.
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        sender._writer = writer
        sender._reader_task = asyncio.create_task(sender._read(reader), name="kantine-sender")
        sender.alive = True
        return sender

    async def post(
        self,
        *,
        pem: str,
        key_id: str,
        scheme: str,
        url: str,
        body: bytes,
        headers: dict[str, str],
        now: datetime,
    ) -> Outcome:
        self.posted += 1
        return await self._submit("post", pem, key_id, scheme, url, body, headers, now)

    async def _submit(self, kind: str, *args: Any) -> Outcome:
        """Send one job (in the next frame) and wait for its outcome."""
        if not self.alive or self._writer is None:
            raise SenderStopped("the delivery sender is not running")
        loop = asyncio.get_running_loop()
        job_id = next(self._ids)
        future: asyncio.Future[Outcome] = loop.create_future()
        self._futures[job_id] = future
        self._sent_at[job_id] = loop.time()
        if self._watch is None:
            self._watch = loop.call_later(1.0, self._check_answering)
        if not self._outgoing:
            loop.call_soon(self._send)  # the jobs of one loop turn go in one frame
        self._outgoing.append((kind, job_id, *args))
        try:
            return await future
        finally:
            self._futures.pop(job_id, None)
            self._sent_at.pop(job_id, None)

    def _check_answering(self) -> None:
        """Once a second while jobs are out: a child whose oldest job is older than the
        POST's time limit plus a grace period no longer answers (stuck, stopped). It is
        retired, and its jobs fail over. (One timer for all jobs, not one per job.)"""
        self._watch = None
        if not self._sent_at or not self.alive:
            return
        loop = asyncio.get_running_loop()
        oldest = next(iter(self._sent_at.values()))
        if loop.time() - oldest > self.timeout + self.grace:
            log.error("the delivery sender stopped answering; stopping it")
            self._retire()
            return
        self._watch = loop.call_later(min(1.0, self.grace), self._check_answering)

    async def ready(self) -> None:
        """Wait until the child has started and answers (a round trip with no work)."""
        await self._submit("ping")

    def _send(self) -> None:
        jobs, self._outgoing = self._outgoing, []
        if jobs and self._writer is not None and not self._writer.is_closing():
            self._writer.write(_frame(jobs))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                for job_id, status, retry_after, error in await _read_frame(reader):
                    future = self._futures.get(job_id)
                    if future is not None and not future.done():
                        future.set_result((status, retry_after, error))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # EOF, a reset, a frame that does not decode: it is gone
            if self.alive:
                log.error("the delivery sender stopped (%s)", exc or type(exc).__name__)
        finally:
            self._retire()

    def _retire(self) -> None:
        """Stop using this child: fail what it holds (as not attempted) and end it."""
        self.alive = False
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        for future in self._futures.values():
            if not future.done():
                future.set_exception(SenderStopped("the delivery sender stopped"))
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()

    async def close(self) -> None:
        self.alive = False
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._reader_task
        if self._process is not None:
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()


class DeliverySenders:
    """Several senders, one child each: a host's deliveries always go to the same child
    (its kept-alive connections), the others to whichever is alive."""

    def __init__(self, senders: list[DeliverySender]) -> None:
        self.senders = senders

    @classmethod
    async def start(
        cls,
        count: int,
        *,
        allow_private: bool,
        timeout: float,
        idle_per_host: int,
        event_loop: str = "auto",
    ) -> DeliverySenders:
        senders: list[DeliverySender] = []
        try:
            for _ in range(max(1, count)):
                senders.append(
                    await DeliverySender.start(
                        allow_private=allow_private,
                        timeout=timeout,
                        idle_per_host=idle_per_host,
                        event_loop=event_loop,
                    )
                )
        except BaseException:
            await asyncio.gather(*(s.close() for s in senders), return_exceptions=True)
            raise
        return cls(senders)

    @property
    def alive(self) -> bool:
        return any(sender.alive for sender in self.senders)

    async def post(self, *, url: str, **job: Any) -> Outcome:
        host = url.split("/", 3)[2] if url.count("/") >= 2 else url
        first = hash(host) % len(self.senders)
        for offset in range(len(self.senders)):
            sender = self.senders[(first + offset) % len(self.senders)]
            if sender.alive:
                return await sender.post(url=url, **job)
        raise SenderStopped("no delivery sender is running")

    async def ready(self) -> None:
        await asyncio.gather(*(sender.ready() for sender in self.senders if sender.alive))

    async def close(self) -> None:
        await asyncio.gather(*(sender.close() for sender in self.senders), return_exceptions=True)


# -- the child ----------------------------------------------------------------------


async def _child(fd: int, *, allow_private: bool, timeout: float, idle_per_host: int) -> None:
    from .delivery_http import DeliveryClient
    from .signing import sign_with_pem

    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_connection(sock=sock)
    client = DeliveryClient(
        allow_private=allow_private, timeout=timeout, idle_per_host=idle_per_host
    )
    loop = asyncio.get_running_loop()
    done: list[tuple[int, int | None, str | None, str | None]] = []
    tasks: set[asyncio.Task[None]] = set()

    def flush() -> None:
        nonlocal done
        outcomes, done = done, []
        if outcomes and not writer.is_closing():
            writer.write(_frame(outcomes))

    def finish(job_id: int, status: int | None, retry_after: str | None, error: str | None) -> None:
        if not done:
            loop.call_soon(flush)  # the outcomes of one loop turn go in one frame
        done.append((job_id, status, retry_after, error))

    async def deliver(job_id: int, url: str, body: bytes, headers: dict[str, str]) -> None:
        try:
            status, retry_after = await client.post(url, body, headers)
        except (OSError, TimeoutError) as exc:
            finish(job_id, None, None, f"{type(exc).__name__}: {exc}"[:300])
        except Exception as exc:  # a bug here must not lose the outcome
            finish(job_id, None, None, f"sender failed: {type(exc).__name__}: {exc}"[:300])
        else:
            finish(job_id, status, retry_after, None)

    async def handle(job: tuple[Any, ...]) -> None:
        if job[0] == "ping":
            finish(job[1], None, None, None)
            return
        _, job_id, pem, key_id, scheme, url, body, headers, now = job
        try:
            if scheme == "cavage":
                # RSA: the private-key operation releases the GIL, so signing in a thread
                # leaves this loop free for the POSTs. (One thread: with several senders,
                # more threads only contend for the cores and the GIL.)
                signed = await loop.run_in_executor(
                    signing_threads,
                    sign_with_pem,
                    pem,
                    "POST",
                    url,
                    headers,
                    body,
                    key_id,
                    now,
                    scheme,
                )
            else:  # Ed25519 is quick; its Python would hold the GIL in a thread anyway
                signed = sign_with_pem(pem, "POST", url, headers, body, key_id, now, scheme)
        except Exception as exc:
            finish(job_id, None, None, f"signing failed: {type(exc).__name__}: {exc}"[:300])
            return
        await deliver(job_id, url, body, {**headers, **signed})

    signing_threads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kantine-sign")
    try:
        while True:
            for job in await _read_frame(reader):
                # One task a job: each signs when it first runs and then connects, so the
                # first POSTs are on the wire while the rest of the frame is signed.
                task = loop.create_task(handle(job))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the node closed its end (or is gone): stop
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.close()
        signing_threads.shutdown(wait=False, cancel_futures=True)
        writer.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m node.sender")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--idle-per-host", type=int, default=4)
    parser.add_argument("--allow-private", action="store_true")
    parser.add_argument("--event-loop", choices=eventloop.CHOICES, default=None)
    args = parser.parse_args(argv)
    # The node stops this process by closing its socket, after finishing its own work (a
    # signal to the whole service, e.g. from systemd, must not cut deliveries short).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    eventloop.tune_gc()
    eventloop.run(
        _child(
            args.fd,
            allow_private=args.allow_private,
            timeout=args.timeout,
            idle_per_host=args.idle_per_host,
        ),
        args.event_loop,
    )


if __name__ == "__main__":
    main()
