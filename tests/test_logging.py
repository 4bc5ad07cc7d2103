"""The log handler of the command line: lines written in batches, never lost at exit."""

from __future__ import annotations

import ast
import io
import logging
import subprocess
import sys
import time

from node.logs import BufferedStream as _BufferedStream


def _logger(stream: io.StringIO) -> tuple[logging.Logger, _BufferedStream]:
    handler = _BufferedStream(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log = logging.getLogger(f"kantine.test.{id(stream)}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    return log, handler


def test_info_lines_are_written_within_the_flush_interval() -> None:
    stream = io.StringIO()
    log, handler = _logger(stream)
    log.info("one")
    log.info("two")
    assert stream.getvalue() == ""  # held, not written line by line
    deadline = time.monotonic() + 10 * handler.FLUSH_EVERY
    while "two" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stream.getvalue() == "INFO one\nINFO two\n"


def test_a_warning_is_written_at_once_after_what_came_before() -> None:
    stream = io.StringIO()
    log, _ = _logger(stream)
    log.info("before")
    log.warning("refused")
    assert stream.getvalue() == "INFO before\nWARNING refused\n"


def test_a_full_buffer_is_written_without_waiting() -> None:
    stream = io.StringIO()
    log, handler = _logger(stream)
    line = "x" * 1000
    for _ in range(handler.MAX_BUFFER // 1000 + 1):
        log.info(line)
    assert stream.getvalue().count(line) > handler.MAX_BUFFER // 1000 - 1


def test_lines_held_at_exit_are_written() -> None:
    code = (
        "import logging, node.logs as c; c.configure(False);"
        " logging.getLogger('kantine.t').info('last words')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "INFO kantine.t last words" in done.stderr


_SCRIPT = """
import io, logging, sys
from node import logs
logs.configure(False)
handler = logging.root.handlers[0]
handler.stream = out = io.StringIO()
http = logging.getLogger("kantine.http")
logs.info(http, "POST /inbox 202 1.0ms rid=a")  # the short way
http.info("%s", "POST /inbox 202 2.0ms rid=b")  # the standard way
captured = []
class Capture(logging.Handler):
    def emit(self, record):
        captured.append(record.getMessage())
logging.root.addHandler(Capture())  # e.g. a test's log capture: it must see the line too
logs.info(http, "POST /inbox 202 3.0ms rid=c")
logging.root.handlers[1:] = []
logging.getLogger("kantine").setLevel(logging.WARNING)
logs.info(http, "POST /inbox 202 4.0ms rid=d")  # below the level: written nowhere
handler.flush()
print(repr(out.getvalue()))
print(captured)
"""


def test_the_short_way_writes_the_standard_line_and_steps_aside_for_other_handlers() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    written, captured = done.stdout.splitlines()
    lines = ast.literal_eval(written).splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        "INFO kantine.http POST /inbox 202 1.0ms rid=a",
        "INFO kantine.http POST /inbox 202 2.0ms rid=b",
        "INFO kantine.http POST /inbox 202 3.0ms rid=c",
    ]
    # The same timestamp shape either way: "2026-11-23 05:00:00,123".
    assert {len(line.split(" ", 2)[0] + line.split(" ", 2)[1]) for line in lines} == {22}
    assert captured == "['POST /inbox 202 3.0ms rid=c']"


class _BrokenStream(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_broken_stream_never_raises_into_the_code_that_logs() -> None:
    """A pipe that went away loses the lines; logging must not raise, and the flusher
    thread goes on (a stream that works again gets the lines that come after)."""
    stream = _BrokenStream()
    log, handler = _logger(stream)
    log.warning("refused")  # written at once: would raise without the guard
    log.info("held")
    time.sleep(3 * handler.FLUSH_EVERY)
    assert handler._flusher is not None and handler._flusher.is_alive()
    good = io.StringIO()
    handler.setStream(good)
    log.info("later")
    deadline = time.monotonic() + 10 * handler.FLUSH_EVERY
    while "later" not in good.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert good.getvalue() == "INFO later\n"
