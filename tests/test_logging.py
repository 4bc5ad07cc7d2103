"""The log handler of the command line: lines written in batches, never lost at exit."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import time

from node.cli import _BufferedStream


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
        "import logging, node.cli as c; c._configure_logging(False);"
        " logging.getLogger('kantine.t').info('last words')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "INFO kantine.t last words" in done.stderr
