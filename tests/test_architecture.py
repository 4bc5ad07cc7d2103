"""The dependency rule: protocol/ is sans-I/O and never imports node/."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"aiohttp", "aiosqlite", "asyncio", "socket", "node", "time", "os", "random"}
# `datetime` is allowed as a *type* and for parsing; reading the clock is not.
CLOCK_CALLS = {"now", "utcnow", "today", "time", "time_ns", "monotonic"}


def _modules() -> list[Path]:
    return sorted((ROOT / "protocol").rglob("*.py"))


def test_protocol_imports_no_io() -> None:
    offenders = []
    for path in _modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in FORBIDDEN:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert offenders == [], offenders


def test_protocol_never_reads_the_clock() -> None:
    offenders = []
    for path in _modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in CLOCK_CALLS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in {"datetime", "date", "time"}
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {node.func.attr}")
    assert offenders == [], offenders


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    """The checker itself must be able to fail."""
    bad = "import asyncio\nfrom aiohttp import web\nimport node.app\n"
    tree = ast.parse(bad)
    found = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        and (getattr(n, "module", None) or n.names[0].name).split(".")[0] in FORBIDDEN
    ]
    assert len(found) == 3
