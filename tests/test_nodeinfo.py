"""NodeInfo: what we build validates against the upstream schemas; what peers send parses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from protocol.errors import LocalProtocolError, RemoteProtocolError
from protocol.nodeinfo import (
    REL_APPLICATION,
    build_discovery,
    build_nodeinfo,
    content_type,
    instance_actor_href,
    parse_discovery,
    parse_nodeinfo,
    select_nodeinfo,
)
from protocol.vocab import NODEINFO_20, NODEINFO_21

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "nodeinfo"


def _json(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def _validator(name: str) -> jsonschema.Draft4Validator:
    schema = _json(name)
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


SCHEMAS = {
    "2.0": _validator("nodeinfo-2.0-schema.json"),
    "2.1": _validator("nodeinfo-2.1-schema.json"),
}
DISCOVERY_SCHEMA = _validator("wellknown-nodeinfo.schema.json")


def _ours(version: str, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "software_version": "0.1.0",
        "repository": "https://codeberg.org/kantine/kantine",
        "homepage": "https://kantine.coop/",
        "users_total": 12,
        "users_active_month": 7,
        "users_active_halfyear": 10,
        "local_posts": 41,
        "open_registrations": False,
        "metadata": {"nodeName": "ZZP Utrecht", "feeds": ["atom1.0", "ical"]},
    }
    kwargs.update(overrides)
    return build_nodeinfo(version, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["2.0", "2.1"])
def test_our_nodeinfo_validates(version: str) -> None:
    doc = _ours(version)
    SCHEMAS[version].validate(doc)
    assert doc["version"] == version
    assert doc["software"]["name"] == "kantine"
    assert doc["protocols"] == ["activitypub"]
    assert doc["services"] == {"inbound": [], "outbound": ["atom1.0"]}
    assert doc["usage"] == {
        "users": {"total": 12, "activeHalfyear": 10, "activeMonth": 7},
        "localPosts": 41,
    }
    assert doc["openRegistrations"] is False
    assert doc["metadata"]["nodeName"] == "ZZP Utrecht"


def test_repository_and_homepage_only_in_2_1() -> None:
    assert "repository" not in _ours("2.0")["software"]
    assert "homepage" not in _ours("2.0")["software"]
    assert _ours("2.1")["software"]["repository"] == "https://codeberg.org/kantine/kantine"
    assert _ours("2.1")["software"]["homepage"] == "https://kantine.coop/"
    bare = _ours("2.1", repository=None, homepage=None)
    SCHEMAS["2.1"].validate(bare)
    assert set(bare["software"]) == {"name", "version"}


@pytest.mark.parametrize("version", ["2.0", "2.1"])
def test_variants_validate(version: str) -> None:
    doc = _ours(
        version,
        software_name="kantine-dev",
        users_total=0,
        users_active_month=0,
        users_active_halfyear=0,
        local_posts=0,
        local_comments=3,
        open_registrations=True,
        metadata={},
        inbound=["atom1.0", "rss2.0"],
        outbound=["atom1.0", "rss2.0", "smtp"],
    )
    SCHEMAS[version].validate(doc)
    assert doc["usage"]["localComments"] == 3


@pytest.mark.parametrize(
    "overrides",
    [
        {"software_name": "Kantine"},
        {"software_name": "kantine_dev"},
        {"software_name": ""},
        {"software_version": ""},
        {"users_total": -1},
        {"users_active_month": True},
        {"local_posts": 1.5},
        {"local_comments": -3},
        {"open_registrations": "yes"},
        {"outbound": ["ical"]},
        {"inbound": ["smtp"]},
    ],
)
def test_build_refuses_what_the_schema_refuses(overrides: dict[str, Any]) -> None:
    with pytest.raises(LocalProtocolError):
        _ours("2.1", **overrides)


def test_unknown_version() -> None:
    with pytest.raises(LocalProtocolError):
        _ours("2.2")
    with pytest.raises(LocalProtocolError):
        content_type("1.0")  # type: ignore[arg-type]


def test_content_type() -> None:
    assert content_type("2.1") == (
        'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"'
    )
    assert content_type("2.0") == (
        'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.0#"'
    )
    # The profile is the schema's resolution scope (its "id").
    for version, validator in SCHEMAS.items():
        assert f'profile="{validator.schema["id"]}"' in content_type(version)  # type: ignore[arg-type]


# -- discovery ----------------------------------------------------------------------------


def test_discovery_document() -> None:
    doc = build_discovery("https://node.example:8443/")
    assert doc == {
        "links": [
            {"rel": NODEINFO_21, "href": "https://node.example:8443/nodeinfo/2.1"},
            {"rel": NODEINFO_20, "href": "https://node.example:8443/nodeinfo/2.0"},
            {
                "rel": "https://www.w3.org/ns/activitystreams#Application",
                "href": "https://node.example:8443/actor",
            },
        ]
    }


def test_discovery_validates() -> None:
    # The project's discovery schema allows only NodeInfo rels, so the FEP-2677
    # link (which FEP-2677 puts in this very document) is checked apart.
    DISCOVERY_SCHEMA.validate(build_discovery("https://node.example", instance_actor=False))
    doc = build_discovery("https://node.example")
    nodeinfo_only = {"links": [x for x in doc["links"] if x["rel"] != REL_APPLICATION]}
    DISCOVERY_SCHEMA.validate(nodeinfo_only)
    assert len(nodeinfo_only["links"]) == 2


def test_discovery_round_trip() -> None:
    links = parse_discovery(json.dumps(build_discovery("http://127.0.0.2:8080")).encode())
    assert select_nodeinfo(links) == ("2.1", "http://127.0.0.2:8080/nodeinfo/2.1")
    assert select_nodeinfo(links, supported=["2.0"]) == (
        "2.0",
        "http://127.0.0.2:8080/nodeinfo/2.0",
    )
    assert instance_actor_href(links) == "http://127.0.0.2:8080/actor"


def test_discovery_refuses_bad_base() -> None:
    with pytest.raises(LocalProtocolError):
        build_discovery("node.example")
    with pytest.raises(LocalProtocolError):
        build_discovery("ftp://node.example")


def test_upstream_discovery_example() -> None:
    example = _json("wellknown-nodeinfo.example.json")
    DISCOVERY_SCHEMA.validate(example)
    links = parse_discovery((VECTORS / "wellknown-nodeinfo.example.json").read_bytes())
    assert links == [(NODEINFO_21, "https://example.org/nodeinfo/2.1")]
    assert select_nodeinfo(links) == ("2.1", "https://example.org/nodeinfo/2.1")
    assert instance_actor_href(links) is None


def test_parse_discovery_lenient_and_strict() -> None:
    body = json.dumps(
        {
            "links": [
                {"rel": "http://nodeinfo.diaspora.software/ns/schema/1.0", "href": "https://a/1"},
                {"rel": NODEINFO_20, "href": "https://a.example/2.0", "type": "x"},
                {"rel": NODEINFO_21},
                "junk",
                {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.2", "href": "https://a/2.2"},
            ],
            "extra": True,
        }
    ).encode()
    links = parse_discovery(body)
    assert [rel for rel, _ in links] == [
        "http://nodeinfo.diaspora.software/ns/schema/1.0",
        NODEINFO_20,
        "http://nodeinfo.diaspora.software/ns/schema/2.2",
    ]
    assert select_nodeinfo(links) == ("2.0", "https://a.example/2.0")
    assert select_nodeinfo(links, supported=["2.0", "2.2"]) == ("2.2", "https://a/2.2")
    assert select_nodeinfo([]) is None
    for bad in (b"", b"[]", b"{}", b'{"links": {}}', b"{"):
        with pytest.raises(RemoteProtocolError):
            parse_discovery(bad)


# -- parsing peers' documents -------------------------------------------------------------


@pytest.mark.parametrize("version", ["2.0", "2.1", "2.2"])
def test_upstream_examples_validate_and_parse(version: str) -> None:
    name = f"nodeinfo-{version}-example.json"
    _validator(f"nodeinfo-{version}-schema.json").validate(_json(name))
    info = parse_nodeinfo((VECTORS / name).read_bytes())
    assert info.version == version
    assert info.software.name == "diaspora"
    assert info.software.version == "0.5.0"
    assert info.protocols == ("diaspora",)
    assert info.services.inbound == ("gnusocial",)
    assert info.services.outbound == ("facebook", "twitter")
    assert info.open_registrations is True
    assert info.usage.users.total == 123
    assert info.usage.users.active_halfyear == 42
    assert info.usage.users.active_month == 23
    assert info.usage.local_posts == 500
    assert info.usage.local_comments == 1000
    assert info.metadata == {"chat_enabled": True}
    if version != "2.0":
        assert info.software.repository == "https://github.com/diaspora/diaspora"


@pytest.mark.parametrize("version", ["2.0", "2.1"])
def test_ours_parse(version: str) -> None:
    info = parse_nodeinfo(json.dumps(_ours(version)).encode())
    assert info.software.name == "kantine"
    assert info.protocols == ("activitypub",)
    assert info.open_registrations is False
    assert info.usage.users.active_month == 7
    assert info.usage.local_comments is None


def test_parse_nodeinfo_is_lenient() -> None:
    body = json.dumps(
        {
            "version": "1.0",
            "software": {"name": "Mastodon", "version": "4.3.0", "extra": 1},
            "protocols": {"inbound": ["ostatus", "activitypub"], "outbound": ["activitypub"]},
            "usage": {"users": {"total": "12", "activeMonth": 3.0}},
            "metadata": None,
            "unknown": [],
        }
    ).encode()
    info = parse_nodeinfo(body)
    assert info.software.name == "Mastodon"
    assert info.protocols == ("ostatus", "activitypub")
    assert info.usage.users.total == 12
    assert info.usage.users.active_month == 3
    assert info.usage.users.active_halfyear is None
    assert info.metadata == {}
    assert info.open_registrations is None
    minimal = parse_nodeinfo(b'{"software": {"name": "x"}}')
    assert minimal.protocols == ()
    assert minimal.services.outbound == ()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b"{}",  # no software
        b'{"software": "kantine"}',
        b'{"software": {"version": "1"}}',
        b'{"software": {"name": "x"}, "protocols": "activitypub"}',
        b'{"software": {"name": "x"}, "usage": {"users": {"total": "many"}}}',
        b'{"software": {"name": "x"}, "metadata": []}',
    ],
)
def test_parse_nodeinfo_rejects(body: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_nodeinfo(body)
    assert info.value.status_hint == 400
