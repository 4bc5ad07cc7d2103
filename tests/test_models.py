"""The published models: round trips, required addressing and context, strictness."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from protocol import models as m
from protocol.errors import LocalProtocolError, RemoteProtocolError
from protocol.keys import encode_multikey, generate_ed25519
from protocol.vocab import AS_CONTEXT, AS_PUBLIC, CONTEXT

BASE = "https://kantine.example"
NETWORK = f"{BASE}/network"
ALICE = f"{BASE}/members/alice"
COOP = f"{NETWORK}/cooperative"
PEM = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu3L4vnpNLzVH31MeWI39\n"
    "HQIDAQAB\n"
    "-----END PUBLIC KEY-----\n"
)
MULTIBASE = encode_multikey(generate_ed25519().public_key())
T0 = datetime(2025, 4, 1, 9, 30, tzinfo=UTC)
AMS = timezone(timedelta(hours=2))


def _actor_fields(actor_id: str, username: str) -> dict[str, Any]:
    return {
        "context": CONTEXT,
        "id": actor_id,
        "preferred_username": username,
        "inbox": f"{actor_id}/inbox",
        "outbox": f"{actor_id}/outbox",
        "followers": f"{actor_id}/followers",
        "following": f"{actor_id}/following",
        "endpoints": m.Endpoints(shared_inbox=f"{BASE}/inbox"),
        "public_key": m.PublicKey(id=f"{actor_id}#main-key", owner=actor_id, public_key_pem=PEM),
        "assertion_method": [
            m.Multikey(
                id=f"{actor_id}#ed25519-key", controller=actor_id, public_key_multibase=MULTIBASE
            )
        ],
        "implements": [
            m.Implementation(
                href="https://datatracker.ietf.org/doc/html/rfc9421",
                name="RFC-9421: HTTP Message Signatures",
            )
        ],
        "manually_approves_followers": False,
        "discoverable": True,
        "published": T0,
    }


def build_examples() -> dict[str, msgspec.Struct]:
    """One realistic instance of every published type, by type name."""
    event = m.Event(
        context=CONTEXT,
        id=f"{BASE}/events/1",
        attributed_to=NETWORK,
        name="Borrel Utrecht",
        summary="Thu 1 May 19:00, Café De Zaak, Utrecht. RSVP: https://kantine.example/events/1",
        content="<p>Drinks for freelancers.</p>",
        media_type="text/html",
        start_time=datetime(2025, 5, 1, 19, 0, tzinfo=ZoneInfo("Europe/Amsterdam")),
        end_time=datetime(2025, 5, 1, 22, 0, tzinfo=AMS),
        timezone="Europe/Amsterdam",
        location=[
            m.Place(
                name="Café De Zaak",
                address=m.PostalAddress(
                    street_address="Korte Minrebroederstraat 9",
                    postal_code="3512 GG",
                    address_locality="Utrecht",
                    address_country="NL",
                ),
                latitude=52.09,
                longitude=5.12,
            ),
            m.VirtualLocation(url="https://meet.example/borrel"),
        ],
        event_status="EventScheduled",
        organizers=[ALICE],
        join_mode="free",
        maximum_attendee_capacity=30,
        remaining_attendee_capacity=12,
        participant_count=18,
        attendees=m.AttendeesCollection(id=f"{BASE}/events/1/attendees", total_items=18),
        waitlist=True,
        external_participation_url="https://tickets.example/borrel",
        tag=[m.Hashtag(name="#borrel", href=f"{BASE}/tags/borrel")],
        url=f"{BASE}/events/1",
        visibility="public",
        published=T0,
        updated=T0 + timedelta(hours=1),
        to=[AS_PUBLIC],
        cc=[f"{NETWORK}/followers"],
    )
    proposal = m.Proposal(
        context=CONTEXT,
        id=f"{BASE}/assignments/7",
        attributed_to=ALICE,
        name="Logo for a bakery",
        content="<p>A local bakery needs a logo.</p>",
        purpose="request",
        publishes=m.Intent(
            id=f"{BASE}/assignments/7#primary",
            action="deliverService",
            resource_conforms_to="https://www.wikidata.org/wiki/Q1886349",
            resource_quantity=m.Quantity(has_unit="one", has_numerical_value="1"),
            due=datetime(2025, 6, 1, 17, 0, tzinfo=AMS),
        ),
        reciprocal=m.Intent(
            id=f"{BASE}/assignments/7#reciprocal",
            action="transfer",
            resource_conforms_to="https://www.wikidata.org/wiki/Q4916",
            resource_quantity=m.Quantity(has_unit="one", has_numerical_value="450.00"),
        ),
        location=m.Place(name="Utrecht"),
        tag=[m.Hashtag(name="#design", href=f"{BASE}/tags/design")],
        visibility="cooperative",
        published=T0,
        to=[COOP],
        cc=[],
    )
    agreement = m.Agreement(
        id=f"{BASE}/offers/3#agreement",
        attributed_to=f"{BASE}/members/bob",
        stipulates=m.Commitment(
            satisfies=f"{BASE}/assignments/7#primary",
            action="deliverService",
            resource_quantity=m.Quantity(has_unit="one", has_numerical_value="1"),
        ),
        stipulates_reciprocal=m.Commitment(
            satisfies=f"{BASE}/assignments/7#reciprocal",
            action="transfer",
            resource_quantity=m.Quantity(has_unit="one", has_numerical_value="450.00"),
        ),
    )
    note = m.Note(
        context=CONTEXT,
        id=f"{BASE}/notes/1",
        attributed_to=ALICE,
        content="<p>Hello <a href='https://other.example/@carol'>@carol</a></p>",
        in_reply_to="https://other.example/notes/9",
        tag=[m.Mention(name="@carol@other.example", href="https://other.example/users/carol")],
        audience=f"{BASE}/projects/garden",
        published=T0,
        to=[f"{BASE}/projects/garden"],
        cc=[],
    )
    tombstone = m.Tombstone(id=f"{BASE}/notes/2", former_type="Note", deleted=T0)
    create = m.Create(
        context=CONTEXT,
        id=f"{BASE}/events/1#create",
        actor=NETWORK,
        object=event,
        published=T0,
        to=[AS_PUBLIC],
        cc=[f"{NETWORK}/followers"],
    )
    follow = m.Follow(
        context=CONTEXT,
        id=f"{BASE}/follows/1",
        actor=NETWORK,
        object="https://other.example/network",
        to=["https://other.example/network"],
        cc=[],
    )
    remote_follow = {
        "@context": AS_CONTEXT,
        "id": "https://other.example/follows/9",
        "type": "Follow",
        "actor": "https://other.example/users/carol",
        "object": NETWORK,
        "nickname": "a field we do not model",
    }
    return {
        "Person": m.Person(
            **_actor_fields(ALICE, "alice"),
            name="Alice Jansen",
            summary="<p>Illustrator</p>",
            url=f"{BASE}/@alice",
            icon=m.Image(url=f"{BASE}/media/alice.png", media_type="image/png"),
            attachment=[m.PropertyValue(name="Website", value="https://alice.example")],
            tag=[m.Hashtag(name="#illustration", href=f"{BASE}/tags/illustration")],
            discipline="Illustration",
            city="Utrecht",
            available_for_assignments=True,
        ),
        "Group": m.Group(
            **_actor_fields(NETWORK, "zzp-utrecht"),
            name="ZZP Utrecht",
            attributed_to=ALICE,
            cooperative=COOP,
        ),
        "Application": m.Application(**_actor_fields(f"{BASE}/actor", "relay")),
        "Event": event,
        "Proposal": proposal,
        "Agreement": agreement,
        "Note": note,
        "Tombstone": tombstone,
        "Collection": m.Collection(
            context=CONTEXT,
            id=f"{BASE}/projects/garden/participants",
            total_items=2,
            items=[ALICE, "https://other.example/users/carol"],
        ),
        "OrderedCollection": m.OrderedCollection(
            context=CONTEXT,
            id=f"{NETWORK}/outbox",
            total_items=1,
            first=f"{NETWORK}/outbox?page=1",
        ),
        "OrderedCollectionPage": m.OrderedCollectionPage(
            context=CONTEXT,
            id=f"{NETWORK}/outbox?page=1",
            part_of=f"{NETWORK}/outbox",
            ordered_items=[create],
            next=f"{NETWORK}/outbox?page=2",
        ),
        "Create": create,
        "Update": m.Update(
            context=CONTEXT,
            id=f"{BASE}/events/1#update-1",
            actor=NETWORK,
            object=event,
            published=T0,
            to=[AS_PUBLIC],
            cc=[f"{NETWORK}/followers"],
        ),
        "Delete": m.Delete(
            context=CONTEXT,
            id=f"{BASE}/notes/2#delete",
            actor=ALICE,
            object=tombstone,
            to=[AS_PUBLIC],
            cc=[],
        ),
        "Follow": follow,
        "Accept": m.Accept(
            context=CONTEXT,
            id=f"{BASE}/accepts/1",
            actor=NETWORK,
            object=remote_follow,
            to=["https://other.example/users/carol"],
            cc=[],
        ),
        "Reject": m.Reject(
            context=CONTEXT,
            id=f"{BASE}/rejects/1",
            actor=NETWORK,
            object="https://other.example/joins/4",
            summary="The event is full.",
            to=["https://other.example/users/carol"],
            cc=[],
        ),
        "TentativeAccept": m.TentativeAccept(
            context=CONTEXT,
            id=f"{BASE}/waitlist/1",
            actor=NETWORK,
            object="https://other.example/joins/5",
            to=["https://other.example/users/dave"],
            cc=[],
        ),
        "Undo": m.Undo(
            context=CONTEXT,
            id=f"{BASE}/follows/1#undo",
            actor=NETWORK,
            object=follow,
            to=["https://other.example/network"],
            cc=[],
        ),
        "Announce": m.Announce(
            context=CONTEXT,
            id=f"{BASE}/announces/1",
            actor=NETWORK,
            object=create,
            published=T0,
            to=[AS_PUBLIC],
            cc=[f"{NETWORK}/followers"],
        ),
        "Join": m.Join(
            context=CONTEXT,
            id=f"{BASE}/joins/1",
            actor=ALICE,
            object="https://other.example/events/5",
            to=["https://other.example/network"],
            cc=[],
        ),
        "Leave": m.Leave(
            context=CONTEXT,
            id=f"{BASE}/joins/1#leave",
            actor=ALICE,
            object="https://other.example/events/5",
            to=["https://other.example/network"],
            cc=[],
        ),
        "Offer": m.Offer(
            context=CONTEXT,
            id=f"{BASE}/offers/3",
            actor=f"{BASE}/members/bob",
            object=agreement,
            target=f"{BASE}/assignments/7",
            to=[ALICE],
            cc=[],
        ),
        "Flag": m.Flag(
            context=CONTEXT,
            id=f"{BASE}/flags/1",
            actor=f"{BASE}/actor",
            object=["https://other.example/users/spam", "https://other.example/notes/666"],
            content="Spam",
            to=["https://other.example/actor"],
            cc=[],
        ),
    }


EXAMPLES = build_examples()
ADDRESSED = [name for name, model in EXAMPLES.items() if "to" in model.__struct_fields__]


def test_every_published_type_has_an_example() -> None:
    assert {cls.__name__ for cls in m.PUBLISHED_TYPES} == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_round_trip(name: str) -> None:
    model = EXAMPLES[name]
    m.check(model)
    data = m.encode(model)
    assert m.decode(data, type(model)) == model
    assert m.from_dict(json.loads(data), type(model)) == model
    assert json.loads(data)["type"] == name


@pytest.mark.parametrize("name", ADDRESSED)
def test_to_cc_and_context_survive_when_empty(name: str) -> None:
    model = msgspec.structs.replace(EXAMPLES[name], to=[], cc=[], context=[])
    doc = json.loads(m.encode(model))
    assert doc["to"] == [] and doc["cc"] == [] and doc["@context"] == []
    assert "bto" not in doc and "bcc" not in doc


def test_unset_optionals_are_omitted_and_names_are_camel_case() -> None:
    doc = m.to_dict(EXAMPLES["Person"])
    assert "updated" not in doc and "image" not in doc
    assert doc["preferredUsername"] == "alice"
    assert doc["publicKey"]["publicKeyPem"] == PEM
    assert doc["endpoints"] == {"sharedInbox": f"{BASE}/inbox"}
    assert doc["assertionMethod"][0]["type"] == "Multikey"
    assert doc["manuallyApprovesFollowers"] is False
    assert doc["availableForAssignments"] is True


def test_times_encode_with_their_offset() -> None:
    doc = m.to_dict(EXAMPLES["Event"])
    assert doc["startTime"] == "2025-05-01T19:00:00+02:00"
    assert doc["endTime"] == "2025-05-01T22:00:00+02:00"
    assert doc["published"] == "2025-04-01T09:30:00Z"
    assert doc["timezone"] == "Europe/Amsterdam"


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        m.Tombstone(id=f"{BASE}/x", deleted=datetime(2025, 1, 1))
    doc = m.to_dict(EXAMPLES["Tombstone"]) | {"deleted": "2025-01-01T10:00:00"}
    with pytest.raises(RemoteProtocolError, match="timezone"):
        m.from_dict(doc, m.Tombstone)


def test_event_fields_follow_fep_8a8e_and_mobilizon() -> None:
    doc = m.to_dict(EXAMPLES["Event"])
    assert doc["location"][0]["address"]["type"] == "PostalAddress"
    assert doc["location"][1] == {"type": "VirtualLocation", "url": "https://meet.example/borrel"}
    assert doc["attendees"] == {
        "type": "Collection",
        "id": f"{BASE}/events/1/attendees",
        "totalItems": 18,
    }
    assert doc["joinMode"] == "free" and doc["participantCount"] == 18
    assert doc["eventStatus"] == "EventScheduled"


def test_proposal_follows_fep_0837() -> None:
    doc = m.to_dict(EXAMPLES["Proposal"])
    assert doc["purpose"] == "request"
    assert doc["publishes"]["type"] == "Intent"
    assert doc["publishes"]["action"] == "deliverService"
    assert doc["reciprocal"]["resourceQuantity"] == {
        "hasUnit": "one",
        "hasNumericalValue": "450.00",
    }


@pytest.mark.parametrize(
    ("name", "change", "needle"),
    [
        ("Event", {"name": 5}, "Expected `str`"),
        ("Event", {"type": "Note"}, "Invalid value 'Note'"),
        ("Event", {"colour": "red"}, "unknown field `colour`"),
        ("Event", {"id": "/events/1"}, "`$.id`"),
        ("Event", {"maximumAttendeeCapacity": -1}, "`$.maximumAttendeeCapacity`"),
        ("Event", {"joinMode": "whoever"}, "`$.joinMode`"),
        ("Follow", {"object": 5}, "`$.object`"),
        ("Follow", {"actor": "https://user:pw@kantine.example/a"}, "`$.actor`"),
        ("Person", {"publicKey": {"id": f"{ALICE}#k", "owner": ALICE}}, "publicKeyPem"),
        ("Proposal", {"purpose": "barter"}, "`$.purpose`"),
        ("Announce", {"object": 5}, "`object` must be"),
        ("Announce", {"object": ["not an IRI"]}, "absolute http(s) IRI"),
    ],
)
def test_strictness_rejects_wrong_values(name: str, change: dict[str, object], needle: str) -> None:
    doc = m.to_dict(EXAMPLES[name]) | change
    with pytest.raises(RemoteProtocolError) as info:
        m.decode(json.dumps(doc), type(EXAMPLES[name]))
    assert needle in str(info.value)
    assert info.value.status_hint == 400


@pytest.mark.parametrize("field", ["to", "cc", "@context"])
def test_addressing_and_context_are_required(field: str) -> None:
    doc = m.to_dict(EXAMPLES["Create"])
    del doc[field]
    with pytest.raises(RemoteProtocolError, match=f"missing required field `{field}`"):
        m.from_dict(doc, m.Create)


def test_check_reports_a_bad_model_as_our_fault() -> None:
    bad = m.Hashtag(name="no-hash", href=f"{BASE}/tags/x")
    with pytest.raises(LocalProtocolError):
        m.check(bad)


def test_invalid_json_is_a_remote_error() -> None:
    with pytest.raises(RemoteProtocolError, match="invalid JSON"):
        m.decode(b"{", m.Follow)


def test_foreign_embedded_document_is_kept_verbatim() -> None:
    accept = m.decode(m.encode(EXAMPLES["Accept"]), m.Accept)
    assert isinstance(accept.object, dict)
    assert accept.object["nickname"] == "a field we do not model"


def test_embedded_documents_of_ours_become_models() -> None:
    as_dict = msgspec.structs.replace(EXAMPLES["Announce"], object=m.to_dict(EXAMPLES["Create"]))
    announce = m.decode(m.encode(as_dict), m.Announce)
    assert isinstance(announce.object, m.Create)
    assert isinstance(announce.object.object, m.Event)
    assert announce.object == EXAMPLES["Create"]
    page = m.decode(m.encode(EXAMPLES["OrderedCollectionPage"]), m.OrderedCollectionPage)
    assert page.ordered_items == [EXAMPLES["Create"]]


def test_nested_references_are_upgraded_through_typed_fields() -> None:
    inner = m.Announce(
        context=CONTEXT,
        id=f"{BASE}/announces/2",
        actor=NETWORK,
        object=m.to_dict(EXAMPLES["Create"]),
        to=[AS_PUBLIC],
        cc=[],
    )
    undo = m.Undo(
        context=CONTEXT, id=f"{BASE}/announces/2#undo", actor=NETWORK, object=inner, to=[], cc=[]
    )
    decoded = m.decode(m.encode(undo), m.Undo)
    assert isinstance(decoded.object, m.Announce)
    assert decoded.object.object == EXAMPLES["Create"]


def test_announce_of_an_iri_and_of_a_list() -> None:
    by_iri = m.Announce(
        context=CONTEXT, id=f"{BASE}/a/1", actor=NETWORK, object=f"{BASE}/notes/1", to=[], cc=[]
    )
    assert m.decode(m.encode(by_iri), m.Announce) == by_iri
    with pytest.raises(TypeError):
        m.Announce(context=CONTEXT, id=f"{BASE}/a/2", actor=NETWORK, object=3.5, to=[], cc=[])


def test_encode_of_an_unencodable_value_is_our_fault() -> None:
    bad = m.Announce(
        context=CONTEXT, id=f"{BASE}/a/3", actor=NETWORK, object={"x": object()}, to=[], cc=[]
    )
    with pytest.raises(LocalProtocolError):
        m.encode(bad)


def test_models_are_frozen() -> None:
    with pytest.raises(AttributeError):
        EXAMPLES["Follow"].id = "https://elsewhere.example/"  # type: ignore[attr-defined]


def test_context_is_the_first_key_after_type_and_matches_vocab() -> None:
    doc = json.loads(m.encode(EXAMPLES["Follow"]))
    assert list(doc)[:2] == ["type", "@context"]
    assert doc["@context"] == CONTEXT


def test_a_signed_document_survives_the_models() -> None:
    """to_dict -> FEP-8b32 proof -> from_dict -> encode keeps the proof verifiable."""
    from protocol.proofs import create_proof, verify_proof

    key = generate_ed25519()
    for name in ("Create", "Event", "Person", "Announce"):
        signed = create_proof(
            m.to_dict(EXAMPLES[name]),
            key=key,
            verification_method=f"{ALICE}#ed25519-key",
            created=T0,
        )
        model = m.from_dict(signed, type(EXAMPLES[name]))
        assert isinstance(model.proof, m.DataIntegrityProof)
        again = json.loads(m.encode(model))
        assert again == signed
        verify_proof(again, key.public_key())
