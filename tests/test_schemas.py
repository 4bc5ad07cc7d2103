"""schemas/ is what the models generate, and every model's example validates against its schema."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest

from protocol import models as m
from protocol.schemagen import CONTEXT_FILE, generate, main, schema_filename
from protocol.vocab import context_document

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
GENERATED = generate()


def _examples() -> dict[str, msgspec.Struct]:
    spec = importlib.util.spec_from_file_location(
        "kantine_model_examples", Path(__file__).with_name("test_models.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_examples()


EXAMPLES = _examples()


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads(GENERATED[f"{name}.schema.json"])
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("filename", sorted(GENERATED))
def test_schema_files_match_the_models(filename: str) -> None:
    path = SCHEMAS / filename
    assert path.exists(), f"{filename} missing: run `python -m protocol.schemagen`"
    assert path.read_text(encoding="utf-8") == GENERATED[filename], (
        f"schemas/{filename} differs from the models: run `python -m protocol.schemagen`"
    )


def test_no_stale_schema_files() -> None:
    on_disk = {p.name for p in SCHEMAS.iterdir() if p.suffix in {".json", ".jsonld"}}
    assert on_disk == set(GENERATED)


def test_one_schema_per_published_type_and_the_context() -> None:
    expected = {schema_filename(cls) for cls in m.PUBLISHED_TYPES} | {CONTEXT_FILE}
    assert set(GENERATED) == expected
    assert json.loads(GENERATED[CONTEXT_FILE]) == context_document()


def test_generation_is_deterministic(tmp_path: Path) -> None:
    assert generate() == GENERATED
    assert main([str(tmp_path)]) == 0
    assert {p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()} == GENERATED


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_validates_against_its_schema(name: str) -> None:
    _validator(name).validate(m.to_dict(EXAMPLES[name]))


@pytest.mark.parametrize(
    ("name", "mutate"),
    [
        ("Create", lambda d: d.pop("to")),
        ("Create", lambda d: d.pop("@context")),
        ("Event", lambda d: d.update(colour="red")),
        ("Event", lambda d: d.update(type="Note")),
        ("Event", lambda d: d.update(startTime=5)),
        ("Person", lambda d: d.pop("publicKey")),
        ("Follow", lambda d: d.update(object={"id": "https://a.example/x"})),
        ("Proposal", lambda d: d["publishes"].update(action="produce")),
    ],
)
def test_schema_rejects_a_broken_document(name: str, mutate: Any) -> None:
    doc = m.to_dict(EXAMPLES[name])
    mutate(doc)
    assert list(_validator(name).iter_errors(doc)), f"{name} schema accepted {doc}"
