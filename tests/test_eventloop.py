"""The event loop choice: uvloop by default where installed, asyncio's on request."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from node import config, eventloop


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_auto_runs_on_uvloop_when_installed() -> None:
    pytest.importorskip("uvloop")
    assert eventloop.run(_loop_module()).startswith("uvloop")
    assert eventloop.run(_loop_module(), "uvloop").startswith("uvloop")


def test_asyncio_choice_runs_the_standard_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    assert eventloop.run(_loop_module(), "asyncio").startswith("asyncio")
    monkeypatch.setenv("KANTINE_EVENT_LOOP", "asyncio")  # the senders' and tools' switch
    assert eventloop.run(_loop_module()).startswith("asyncio")


def test_tune_gc_freezes_what_is_loaded_and_collects_young_objects_less_often() -> None:
    import gc

    before = gc.get_threshold()
    try:
        eventloop.tune_gc()
        assert gc.get_freeze_count() > 1000  # the modules and objects loaded so far
        assert gc.get_threshold() == (eventloop.GC_THRESHOLD, before[1], before[2])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_unknown_choice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="event_loop must be one of"):
        eventloop.loop_factory("tokio")
    (tmp_path / config.CONFIG_NAME).write_text(
        'url = "https://kantine.example"\nname = "K"\nslug = "k"\nevent_loop = "tokio"\n'
    )
    with pytest.raises(config.ConfigError, match="event_loop must be one of"):
        config.load(tmp_path)
    (tmp_path / config.CONFIG_NAME).write_text(
        'url = "https://kantine.example"\nname = "K"\nslug = "k"\nevent_loop = "asyncio"\n'
    )
    assert config.load(tmp_path).event_loop == "asyncio"


def test_serve_without_the_uvloop_it_asks_for_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from node import cli

    data = tmp_path / "node"
    assert (
        cli.main(
            ["init", "--data", str(data), "--url", "http://127.0.0.1:9", "--name", "K", "--dev"]
        )
        == 0
    )
    cfg = data / config.CONFIG_NAME
    cfg.write_text(cfg.read_text().replace('event_loop = "auto"', 'event_loop = "uvloop"'))
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if it were not installed
    capsys.readouterr()
    assert cli.main(["serve", "--data", str(data), "--port", "9"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "uvloop is not installed" in err[0], err
