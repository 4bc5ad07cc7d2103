"""Addressing: Public in three spellings, audiences, recipients, stripping bto/bcc."""

from __future__ import annotations

import pytest

from protocol import addressing as a
from protocol import models as m
from protocol import wire
from protocol.errors import LocalProtocolError
from protocol.vocab import AS_PUBLIC, CONTEXT

ACTIVITY = {
    "id": "https://a.example/activities/1",
    "type": "Create",
    "actor": "https://a.example/users/alice",
    "to": ["as:Public", "https://b.example/users/bob"],
    "cc": "https://a.example/users/alice/followers",
    "bto": [{"id": "https://c.example/users/carol", "type": "Person"}],
    "bcc": "https://d.example/users/dave",
    "audience": {"type": "Group", "id": "https://a.example/projects/garden"},
    "object": {
        "id": "https://a.example/notes/1",
        "type": "Note",
        "bto": ["https://c.example/users/carol"],
        "bcc": ["https://d.example/users/dave"],
        "to": ["as:Public"],
    },
}


@pytest.mark.parametrize("iri", [AS_PUBLIC, "as:Public", "Public"])
def test_public_in_three_spellings(iri: str) -> None:
    assert a.is_public(iri)


@pytest.mark.parametrize(
    "iri",
    [
        "https://www.w3.org/ns/activitystreams",
        "https://www.w3.org/ns/activitystreams#public",
        "http://www.w3.org/ns/activitystreams#Public-ish",
        "https://a.example/users/alice/followers",
        None,
        ["as:Public"],
    ],
)
def test_not_public(iri: object) -> None:
    assert not a.is_public(iri)


def test_audience_of_a_dict_collects_every_address_field() -> None:
    assert a.audience(ACTIVITY) == {
        "as:Public",
        "https://b.example/users/bob",
        "https://a.example/users/alice/followers",
        "https://c.example/users/carol",
        "https://d.example/users/dave",
        "https://a.example/projects/garden",
    }
    assert a.is_publicly_addressed(ACTIVITY)
    assert a.is_addressed_to(ACTIVITY, "https://d.example/users/dave")
    assert not a.is_addressed_to(ACTIVITY, "https://e.example/users/eve")


def test_addresses_skip_what_names_no_one() -> None:
    """Empty strings, objects without an id and nested lists name no address."""
    doc = {
        "to": ["", "https://b.example/users/bob", {"type": "Person"}, ["https://x.example/"]],
        "cc": "",
        "audience": [{"href": "https://a.example/projects/garden"}],
    }
    assert a.audience(doc) == {"https://b.example/users/bob", "https://a.example/projects/garden"}
    assert a.recipients(doc) == ["https://b.example/users/bob", "https://a.example/projects/garden"]
    assert not a.is_publicly_addressed(doc)
    assert a.is_publicly_addressed({"cc": ["", "Public"]})


def test_audience_of_a_wire_activity_matches_the_dict() -> None:
    activity = wire.parse_activity(ACTIVITY)
    assert a.audience(activity) == a.audience(ACTIVITY)
    assert a.is_publicly_addressed(activity)


def test_audience_of_a_model() -> None:
    follow = m.Follow(
        context=CONTEXT,
        id="https://a.example/follows/1",
        actor="https://a.example/network",
        object="https://b.example/network",
        to=["https://b.example/network"],
        cc=[],
        audience="https://a.example/projects/garden",
    )
    assert a.audience(follow) == {"https://b.example/network", "https://a.example/projects/garden"}
    assert not a.is_publicly_addressed(follow)


def test_not_publicly_addressed_without_public() -> None:
    doc = {"to": ["https://a.example/network/cooperative"], "cc": []}
    assert not a.is_publicly_addressed(doc)
    assert a.audience({}) == set()
    assert not a.is_publicly_addressed({})


def test_recipients_are_ordered_deduplicated_and_deliverable() -> None:
    doc = dict(ACTIVITY, cc=["https://b.example/users/bob", "https://a.example/users/alice"])
    assert a.recipients(doc, exclude={"https://a.example/users/alice"}) == [
        "https://b.example/users/bob",
        "https://c.example/users/carol",
        "https://d.example/users/dave",
        "https://a.example/projects/garden",
    ]


def test_strip_hidden_removes_bto_and_bcc_recursively_without_mutating() -> None:
    stripped = a.strip_hidden(ACTIVITY)
    assert "bto" not in stripped and "bcc" not in stripped
    assert "bto" not in stripped["object"] and "bcc" not in stripped["object"]
    assert stripped["to"] == ACTIVITY["to"] and stripped["object"]["to"] == ["as:Public"]
    assert "bto" in ACTIVITY and "bcc" in ACTIVITY["object"]  # the input is untouched


def test_strip_hidden_in_a_list_of_objects_and_an_iri_object() -> None:
    doc = {"type": "Flag", "bcc": ["x"], "object": [{"bto": ["y"], "id": "z"}, "https://a/b"]}
    assert a.strip_hidden(doc) == {"type": "Flag", "object": [{"id": "z"}, "https://a/b"]}
    assert a.strip_hidden({"object": "https://a.example/1", "bto": []}) == {
        "object": "https://a.example/1"
    }


def test_audience_of_something_else_is_our_bug() -> None:
    with pytest.raises(LocalProtocolError):
        a.audience(["https://a.example/"])
