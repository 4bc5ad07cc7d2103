"""The lenient wire layer: every captured payload in ../shared/vectors/fixtures parses, and the limits hold."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from protocol import wire
from protocol.errors import PayloadTooLarge, RemoteProtocolError
from protocol.keys import encode_multikey, generate_ed25519
from protocol.validation import check_signer_owns_actor
from protocol.vocab import RFC9421_IMPLEMENTS

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "fixtures"
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared vectors not present")


def _spec_examples() -> list[tuple[str, dict[str, Any]]]:
    if not FIXTURES.is_dir():
        return []
    data = json.loads((FIXTURES / "as2_spec_examples.json").read_text())
    return [
        (f"{section}-{index:03d}", example)
        for section in ("vocabulary_examples", "core_examples")
        for index, example in enumerate(data[section])
    ]


SPEC = _spec_examples()


def _http_body(path: Path) -> tuple[dict[str, str], bytes]:
    """Split a raw HTTP response into its headers and body."""
    raw = path.read_bytes()
    parts = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)
    head, body = parts[0], parts[1] if len(parts) > 1 else b""
    lines = head.decode().splitlines()[1:]
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
    return headers, body.strip()


def _mobilizon(name: str) -> bytes:
    return (FIXTURES / "mobilizon" / name).read_bytes()


# --- the 190 ActivityStreams examples -----------------------------------------------


@pytest.mark.parametrize(("name", "example"), SPEC, ids=[name for name, _ in SPEC])
def test_every_as2_spec_example_parses(name: str, example: dict[str, Any]) -> None:
    body = json.dumps(example).encode()
    if "actor" in example:
        doc: wire.Activity | wire.Object = wire.parse_activity(body, require_id=False)
    else:
        doc = wire.parse_object(body, require_id=False, require_type=False)
    assert doc.types == wire.type_names(example.get("type"))
    assert doc.id == example.get("id")
    if "id" in example and "type" in example:  # strict mode accepts them as well
        wire.parse_object(example)


def test_as2_spec_example_counts() -> None:
    assert len(SPEC) == 190
    activities = [ex for _, ex in SPEC if "actor" in ex]
    assert (len(activities), len(SPEC) - len(activities)) == (56, 134)


def test_type_arrays_are_accepted() -> None:
    arrays = [ex for _, ex in SPEC if isinstance(ex.get("type"), list)]
    assert len(arrays) == 3
    for example in arrays:
        doc = wire.parse_object(example, require_id=False)
        assert doc.types == tuple(example["type"]) and len(doc.types) == 2


def test_spec_activity_with_embedded_actor_and_object() -> None:
    _, example = next((n, ex) for n, ex in SPEC if ex.get("type") == "Activity")
    activity = wire.parse_activity(example, require_id=False)
    assert activity.actor == {"type": "Person", "name": "Sally"}
    assert activity.actor_id is None
    assert activity.embedded_object == {"type": "Note", "name": "A Note"}


# --- Mastodon -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["activitypub-actor.txt", "activitypub-actor-individual.txt"])
def test_mastodon_actor(name: str) -> None:
    headers, body = _http_body(FIXTURES / "mastodon" / name)
    assert headers["content-type"].startswith("application/activity+json")
    actor = wire.parse_actor(body)
    assert actor.id == "https://ap.example.com/users/foo"
    assert actor.has_type("Person")
    assert actor.preferred_username == "foo"
    assert actor.inbox == "https://ap.example.com/users/foo/inbox"
    assert actor.shared_inbox() == "https://ap.example.com/inbox"
    assert actor.manually_approves_followers is False
    pem = actor.rsa_key_pem("https://ap.example.com/users/foo#main-key")
    assert pem is not None and pem.startswith("-----BEGIN PUBLIC KEY-----\nMIIBIjAN")
    key = actor.public_key_by_id("https://ap.example.com/users/foo#main-key")
    assert key is not None and key.owner == actor.id
    check_signer_owns_actor(key.id, key.owner, actor.id)
    assert actor.rsa_key_pem("https://ap.example.com/users/foo#other") is None
    assert actor.multikeys() == [] and not actor.supports_rfc9421()


def test_mastodon_actor_type_array() -> None:
    _, body = _http_body(FIXTURES / "mastodon" / "activitypub-actor-individual.txt")
    actor = wire.parse_actor(body)
    assert actor.types == ("Person", "vcard:individual")


def test_mastodon_webfinger_is_a_json_object_not_an_actor() -> None:
    headers, body = _http_body(FIXTURES / "mastodon" / "activitypub-webfinger.txt")
    assert headers["content-type"].startswith("application/jrd+json")
    jrd = wire.parse_object(body, require_id=False, require_type=False)
    assert jrd.id is None and jrd.types == ()
    with pytest.raises(RemoteProtocolError, match="actor has no id"):
        wire.parse_actor(body)


# --- Mobilizon, Gancio and Mastodon as seen by Mobilizon ----------------------------

MOBILIZON_ACTIVITIES = [
    "gancio-event-activity.json",
    "mastodon-accept-activity.json",
    "mastodon-follow-activity.json",
    "mobilizon-join-activity.json",
    "mobilizon-leave-activity.json",
    "mobilizon-post-activity-group.json",
    "mobilizon-post-activity.json",
]


def test_every_mobilizon_fixture_is_covered() -> None:
    names = {p.name for p in (FIXTURES / "mobilizon").glob("*.json")}
    covered = set(MOBILIZON_ACTIVITIES) | {
        "gancio-actor.json",
        "mastodon-actor.json",
        "nodeinfo_wp-event-federation.json",
    }
    assert names == covered


@pytest.mark.parametrize("name", MOBILIZON_ACTIVITIES)
def test_mobilizon_activities_parse(name: str) -> None:
    activity = wire.parse_activity(_mobilizon(name))
    assert activity.id and activity.actor_id and activity.types
    if activity.embedded_object is not None:
        wire.parse_object(activity.embedded_object)


def test_gancio_actor_is_an_application() -> None:
    actor = wire.parse_actor(_mobilizon("gancio-actor.json"))
    assert actor.types == ("Application",)
    assert actor.shared_inbox() is None
    assert actor.discoverable is True
    assert actor.rsa_key_pem("https://demo.gancio.org/federation/u/gancio#main-key")


def test_mastodon_actor_seen_by_mobilizon() -> None:
    actor = wire.parse_actor(_mobilizon("mastodon-actor.json"))
    assert actor.shared_inbox() == "https://framapiaf.org/inbox"
    assert actor.discoverable is False
    assert actor.tag == [] and actor.attachment == []


def test_mobilizon_event_has_start_time_and_address() -> None:
    activity = wire.parse_activity(_mobilizon("mobilizon-post-activity.json"))
    assert activity.has_type("Create")
    event = wire.parse_object(activity.object)
    assert event.types == ("Event",)
    assert event.start_time == "2018-02-12T14:08:20Z"
    assert event.location["type"] == "Place"
    assert event.location["address"]["addressLocality"] == "Lyon"
    assert event.location["address"]["type"] == "PostalAddress"
    assert event.in_reply_to is None
    assert event.attributed_to_id == "https://mobilizon.fr/@metacartes"
    assert wire.ids(event.tag) == ["https://framapiaf.org/users/tcit"]


def test_gancio_event() -> None:
    activity = wire.parse_activity(_mobilizon("gancio-event-activity.json"))
    event = wire.parse_object(activity.object)
    assert event.start_time == "2021-07-14T17:30:57+02:00"
    assert event.location == {"name": "Colosseo"}
    assert activity.to == ["https://www.w3.org/ns/activitystreams#Public"]


def test_join_and_leave_reference_the_event() -> None:
    for name, kind in [
        ("mobilizon-join-activity.json", "Join"),
        ("mobilizon-leave-activity.json", "Leave"),
    ]:
        activity = wire.parse_activity(_mobilizon(name))
        assert activity.types == (kind,)
        assert activity.object_id == "http://mobilizon.test/events/some-uuid"
        assert activity.embedded_object is None


def test_accept_embeds_the_follow() -> None:
    activity = wire.parse_activity(_mobilizon("mastodon-accept-activity.json"))
    follow = wire.parse_activity(activity.object)
    assert follow.types == ("Follow",)
    assert activity.object_id == "http://mobilizon.test/follows/fdfds"
    assert follow.actor_id == "http://mobilizon.test/@thomas1"


def test_nodeinfo_discovery_is_a_json_object() -> None:
    doc = wire.parse_object(
        _mobilizon("nodeinfo_wp-event-federation.json"), require_id=False, require_type=False
    )
    assert doc.types == ()


# --- helpers -------------------------------------------------------------------------


def test_as_list() -> None:
    assert wire.as_list(None) == []
    assert wire.as_list("a") == ["a"]
    assert wire.as_list(["a", "b"]) == ["a", "b"]
    assert wire.as_list({"id": "x"}) == [{"id": "x"}]


def test_first_id_and_ids() -> None:
    assert wire.first_id("https://a.example/1") == "https://a.example/1"
    assert wire.first_id({"id": "https://a.example/1"}) == "https://a.example/1"
    assert wire.first_id({"type": "Link", "href": "https://a.example/2"}) == "https://a.example/2"
    assert wire.first_id([{"name": "x"}, "https://a.example/3"]) == "https://a.example/3"
    assert wire.first_id(None) is None and wire.first_id("") is None
    assert wire.first_id({"name": "anonymous"}) is None and wire.first_id(5) is None
    assert wire.ids(["https://a.example/1", {"id": "https://a.example/2"}, {"x": 1}]) == [
        "https://a.example/1",
        "https://a.example/2",
    ]


def test_type_names() -> None:
    assert wire.type_names("Note") == ("Note",)
    assert wire.type_names(["Person", "vcard:individual"]) == ("Person", "vcard:individual")
    assert wire.type_names({"type": "Event"}) == ("Event",)
    assert wire.type_names(None) == ()


# --- keys and capabilities of a Kantine-like actor ----------------------------------


def test_actor_key_helpers_and_rfc9421() -> None:
    multibase = encode_multikey(generate_ed25519().public_key())
    doc = {
        "id": "https://b.example/network",
        "type": "Group",
        "inbox": "https://b.example/network/inbox",
        "publicKey": [
            {"id": "https://b.example/network#old", "owner": "https://b.example/network"},
            {
                "id": "https://b.example/network#main-key",
                "owner": "https://b.example/network",
                "publicKeyPem": "-----BEGIN PUBLIC KEY-----\n...",
            },
        ],
        "assertionMethod": [
            "https://b.example/network#elsewhere",
            {
                "id": "https://b.example/network#ed25519-key",
                "type": "Multikey",
                "controller": "https://b.example/network",
                "publicKeyMultibase": multibase,
            },
            {
                "id": "https://b.example/network#rsa-multikey",
                "type": "Multikey",
                "controller": "https://b.example/network",
                "publicKeyMultibase": "z4MXj1wBzi9jUstyNvmiR",
            },
        ],
        "implements": [{"name": "RFC-9421: HTTP Message Signatures", "href": RFC9421_IMPLEMENTS}],
    }
    actor = wire.parse_actor(json.dumps(doc))
    assert [key.id for key in actor.public_keys()] == ["https://b.example/network#main-key"]
    assert actor.rsa_key_pem("https://b.example/network#main-key")
    assert actor.ed25519_multikey("https://b.example/network#ed25519-key") == multibase
    assert actor.ed25519_multikey("https://b.example/network#rsa-multikey") is None
    assert actor.multikey("https://b.example/network#rsa-multikey") is not None
    assert actor.ed25519_multikey("https://b.example/network#elsewhere") is None
    assert actor.supports_rfc9421()
    assert wire.parse_actor(doc | {"implements": RFC9421_IMPLEMENTS}).supports_rfc9421()
    assert not wire.parse_actor(doc | {"implements": None}).supports_rfc9421()


# --- refusals ------------------------------------------------------------------------

GOOD = {
    "id": "https://a.example/1",
    "type": "Follow",
    "actor": "https://a.example/u",
    "object": "https://b.example/u",
}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "invalid JSON"),
        (b"", "invalid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"a string"', "not a JSON object"),
        (json.dumps({**GOOD, "id": None}).encode(), "activity has no id"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "type"}).encode(), "has no type"),
        (json.dumps({**GOOD, "type": []}).encode(), "has no type"),
        (json.dumps({**GOOD, "type": 7}).encode(), "malformed activity"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "actor"}).encode(), "has no actor"),
        (json.dumps({**GOOD, "actor": {"name": "x"}}).encode(), "actor has no id"),
        (json.dumps({**GOOD, "published": 5}).encode(), "`$.published`"),
    ],
)
def test_parse_activity_refuses(body: bytes, reason: str) -> None:
    with pytest.raises(RemoteProtocolError, match=re.escape(reason)) as info:
        wire.parse_activity(body)
    assert info.value.status_hint == 400


def test_parse_activity_accepts_the_good_one_and_ignores_unknown_fields() -> None:
    activity = wire.parse_activity(json.dumps(GOOD | {"nickname": "lain", "x": [1]}))
    assert activity.types == ("Follow",) and activity.object_id == "https://b.example/u"


def test_too_deep_is_refused_before_decoding() -> None:
    deep = b'{"id":"https://a.example/1","type":"Note","actor":"x","object":' + b"[" * 40
    with pytest.raises(RemoteProtocolError, match="nested deeper than 32"):
        wire.parse_activity(deep)
    ok = {**GOOD, "object": json.loads("[" * 20 + "]" * 20)}
    wire.parse_activity(json.dumps(ok))
    with pytest.raises(RemoteProtocolError, match="deeper than 10"):
        wire.parse_activity(json.dumps(ok), max_depth=10)


def test_brackets_inside_strings_do_not_count() -> None:
    tricky = {**GOOD, "content": '[[[[{{{{ "quoted \\" [[[[ ' * 20}
    assert wire.parse_activity(json.dumps(tricky), max_depth=2).content == tricky["content"]
    wire.check_depth(b'{"a": "\\\\", "b": "[[["}', max_depth=1)


def test_too_large_is_refused() -> None:
    body = json.dumps(GOOD | {"content": "x" * 2000}).encode()
    with pytest.raises(PayloadTooLarge) as info:
        wire.parse_activity(body, max_bytes=1000)
    assert info.value.status_hint == 413


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "Note"}, "not an actor type: Note"),
        ({"inbox": None}, "actor has no inbox"),
        ({"id": None}, "actor has no id"),
        ({"inbox": {"id": "https://a.example/inbox"}}, "malformed actor"),
    ],
)
def test_parse_actor_refuses(change: dict[str, Any], reason: str) -> None:
    doc = {"id": "https://a.example/u", "type": "Person", "inbox": "https://a.example/u/inbox"}
    with pytest.raises(RemoteProtocolError, match=re.escape(reason)):
        wire.parse_actor(doc | change)


def test_parse_object_requires_id_and_type_by_default() -> None:
    with pytest.raises(RemoteProtocolError, match="object has no id"):
        wire.parse_object(b'{"type": "Note"}')
    with pytest.raises(RemoteProtocolError, match="object has no type"):
        wire.parse_object(b'{"id": "https://a.example/n"}')
    assert wire.parse_object(b'{"type": "Note"}', require_id=False).types == ("Note",)
