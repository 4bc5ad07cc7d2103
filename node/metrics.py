"""Counters and gauges, rendered in the Prometheus text exposition format."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable

__all__ = ["Metrics"]

Gauge = Callable[[], Awaitable[dict[tuple[tuple[str, str], ...], float]]]

_HELP = {
    "kantine_http_requests_total": "HTTP requests answered, by method and status",
    "kantine_inbox_accepted_total": "Activities accepted (202) by the inbox",
    "kantine_inbox_rejected_total": "Activities rejected by the inbox, by reason",
    "kantine_inbox_processed_total": "Stored activities processed, by outcome",
    "kantine_deliveries_total": "Delivery attempts, by outcome",
    "kantine_delivery_queue": "Deliveries in the queue, by state",
    "kantine_inbox_queue": "Stored inbox activities, by state",
    "kantine_db_commits_total": "Write transactions committed (group commit: many writes each)",
    "kantine_db_writes_total": "Writes committed",
    "kantine_inbox_write_batches_total": "Commits of accepted activities (many rows each)",
}


#: labels as given -> sorted (the series key); label values are a small, bounded set.
_KEYS: dict[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = {}


class Metrics:
    """In-process counters; gauges are read from the database when scraped."""

    def __init__(self) -> None:
        self._counters: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(
            lambda: defaultdict(float)
        )
        self._gauges: dict[str, Gauge] = {}
        self._read_counters: dict[str, Callable[[], float]] = {}

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        given = tuple(labels.items())
        key = _KEYS.get(given)
        if key is None:  # a label set's sorted form, worked out once
            key = tuple(sorted(given))
            if len(_KEYS) < 10_000:
                _KEYS[given] = key
        self._counters[name][key] += amount

    def value(self, name: str, **labels: str) -> float:
        return self._counters[name].get(tuple(sorted(labels.items())), 0.0)

    def gauge(self, name: str, read: Gauge) -> None:
        self._gauges[name] = read

    def counter_from(self, name: str, read: Callable[[], float]) -> None:
        """A counter kept elsewhere (e.g. by the database), read when scraped."""
        self._read_counters[name] = read

    async def render(self) -> str:
        lines: list[str] = []
        for name, series in sorted(self._counters.items()):
            lines += [f"# HELP {name} {_HELP.get(name, name)}", f"# TYPE {name} counter"]
            lines += [f"{name}{_labels(k)} {v:g}" for k, v in sorted(series.items())]
        for name, read_counter in sorted(self._read_counters.items()):
            lines += [f"# HELP {name} {_HELP.get(name, name)}", f"# TYPE {name} counter"]
            lines.append(f"{name} {read_counter():g}")
        for name, read in sorted(self._gauges.items()):
            lines += [f"# HELP {name} {_HELP.get(name, name)}", f"# TYPE {name} gauge"]
            lines += [f"{name}{_labels(k)} {v:g}" for k, v in sorted((await read()).items())]
        return "\n".join(lines) + "\n"


def _labels(items: tuple[tuple[str, str], ...]) -> str:
    if not items:
        return ""
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in items
    )
    return "{" + inner + "}"
