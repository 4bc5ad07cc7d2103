"""Generate schemas/: the JSON-LD context of our terms and one JSON Schema per published type."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

import msgspec

from .models import PUBLISHED_TYPES
from .vocab import context_document

__all__ = ["CONTEXT_FILE", "SCHEMA_BASE", "generate", "main", "schema_filename", "schema_for"]

CONTEXT_FILE: Final = "context.jsonld"
SCHEMA_BASE: Final = "https://kantine.coop/schemas/"
JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"


def _dump(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_filename(cls: type[msgspec.Struct]) -> str:
    """``<Type>.schema.json``."""
    return f"{cls.__name__}.schema.json"


def schema_for(cls: type[msgspec.Struct]) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one published model."""
    schema = msgspec.json.schema(cls)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_BASE + schema_filename(cls),
        "title": cls.__name__,
        **schema,
    }


def generate() -> dict[str, str]:
    """Return ``{filename: text}`` of everything in ``schemas/`` (pure: nothing is written)."""
    files = {CONTEXT_FILE: _dump(context_document())}
    for cls in PUBLISHED_TYPES:
        files[schema_filename(cls)] = _dump(schema_for(cls))
    return files


def main(argv: list[str] | None = None) -> int:
    """Write the generated files into the given directory (default: the repository's ``schemas/``)."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "schemas"
    target.mkdir(parents=True, exist_ok=True)
    for name, text in generate().items():
        (target / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
