"""WebFinger: acct parsing, resources, JRD build/filter/parse, host-meta, against RFC 7033 vectors."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from protocol.errors import LocalProtocolError, RemoteProtocolError
from protocol.vocab import ACTIVITY_JSON, JRD_JSON, LD_JSON
from protocol.webfinger import (
    REL_PROFILE,
    REL_SELF,
    REL_SUBSCRIBE,
    build_acct,
    build_host_meta,
    build_host_meta_jrd,
    build_jrd,
    build_webfinger_url,
    filter_rels,
    link,
    normalise_host,
    parse_acct,
    parse_jrd,
    parse_query,
    parse_resource,
)

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
RFC7033 = json.loads((VECTORS / "webfinger" / "rfc7033_examples.json").read_text())
EXAMPLES = {ex["section"]: ex for ex in RFC7033["examples"]}
MASTODON = VECTORS / "fixtures" / "mastodon" / "activitypub-webfinger.txt"


def _http_body(raw: bytes) -> tuple[dict[str, str], bytes]:
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    headers = {}
    for line in head.decode().splitlines()[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers, body.strip()


# -- acct parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("acct:alice@example.com", ("alice", "example.com")),
        ("alice@example.com", ("alice", "example.com")),
        ("@alice@example.com", ("alice", "example.com")),
        ("ACCT:alice@example.com", ("alice", "example.com")),
        ("acct:Alice@Example.COM", ("Alice", "example.com")),
        ("acct:a.b-c_d@example.com", ("a.b-c_d", "example.com")),
        ("acct:relay@127.0.0.2:8080", ("relay", "127.0.0.2:8080")),
        ("acct:relay@localhost:08080", ("relay", "localhost:8080")),
        ("acct:bob@[::1]:8443", ("bob", "[::1]:8443")),
        ("acct:bob@[0:0::1]", ("bob", "[::1]")),
        ("acct:bob@bücher.example", ("bob", "xn--bcher-kva.example")),
        ("acct:bob@BÜCHER.example", ("bob", "xn--bcher-kva.example")),
        ("acct:bob@xn--bcher-kva.example", ("bob", "xn--bcher-kva.example")),
        ("acct:bob@пример.рф", ("bob", "xn--e1afmkfd.xn--p1ai")),
        ("acct:f%6Fo@example.com", ("foo", "example.com")),
    ],
)
def test_parse_acct_good(resource: str, expected: tuple[str, str]) -> None:
    assert parse_acct(resource) == expected


@pytest.mark.parametrize(
    "resource",
    [
        "",
        "acct:",
        "acct:@example.com",  # empty user
        "acct:alice@",  # missing host
        "alice",  # no host at all
        "acct:alice",
        "@alice",
        "acct:alice@bob@example.com",  # extra '@'
        "acct:@alice@example.com",
        "@@alice@example.com",
        "acct:al ice@example.com",  # space
        " acct:alice@example.com",
        "acct:alice@example.com ",
        "acct:alice@exa mple.com",
        "acct:alice\t@example.com",
        "acct:alice@example.com\n",
        "acct:alice\x00@example.com",  # control characters
        "acct:alice\x85@example.com",
        "acct:\u0430lice@example.com",  # Cyrillic small a looks like Latin a
        "acct:alic\u0435@example.com",  # Cyrillic small ie looks like Latin e
        "acct:%D0%B0lice@example.com",  # the same, percent-encoded
        "acct:ali\u200bce@example.com",  # zero-width space
        "acct:\uff41lice@example.com",  # fullwidth small a
        "acct:\u212aelvin@example.com",  # Kelvin sign, folds to 'k'
        "acct:al%40ice@example.com",  # encoded '@' in the user part
        "acct:al%ZZice@example.com",
        "acct:%FF@example.com",  # not UTF-8
        "acct:alice@example..com",
        "acct:alice@example.com.",
        "acct:alice@-example.com",
        "acct:alice@exa/mple.com",
        "acct:alice@example.com:",
        "acct:alice@example.com:0",
        "acct:alice@example.com:65536",
        "acct:alice@example.com:80a",
        "acct:alice@[::1",
        "acct:alice@[nothost]",
        "acct:alice@1.2.3.999",
        "acct:alice@xn--zz.example",  # bogus punycode
        "acct:alice@ex\u00a0ample.com",  # no-break space
        "acct:" + "a" * 300 + "@example.com",
        "acct:alice@" + "a." * 600 + "com",
    ],
)
def test_parse_acct_bad(resource: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_acct(resource)
    assert info.value.status_hint == 400
    assert info.value.reason


def test_build_acct_round_trips() -> None:
    assert build_acct("relay", "Node.Example:8080") == "acct:relay@node.example:8080"
    assert parse_acct(build_acct("a_b", "bücher.example")) == ("a_b", "xn--bcher-kva.example")
    with pytest.raises(LocalProtocolError):
        build_acct("\u0430lice", "example.com")


def test_normalise_host() -> None:
    assert normalise_host("127.0.0.2:8081") == "127.0.0.2:8081"
    assert normalise_host("127.0.0.2:8080") != normalise_host("127.0.0.2:8081")
    assert normalise_host("EXAMPLE.com") == "example.com"
    with pytest.raises(RemoteProtocolError):
        normalise_host("")


# -- resources and queries ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("acct:carol@example.com", ("acct", "carol", "example.com")),
        ("carol@example.com", ("acct", "carol", "example.com")),
        ("@carol@example.com:8080", ("acct", "carol", "example.com:8080")),
        ("https://node.example/", ("url", "https://node.example/")),  # FEP-d556
        ("https://node.example", ("url", "https://node.example/")),
        ("HTTPS://Node.Example:8443/", ("url", "https://node.example:8443/")),
        ("https://node.example/members/ana", ("url", "https://node.example/members/ana")),
        (
            "http://blog.example.com/article/id/314",
            ("url", "http://blog.example.com/article/id/314"),
        ),
    ],
)
def test_parse_resource(resource: str, expected: tuple[str, ...]) -> None:
    assert parse_resource(resource) == expected


@pytest.mark.parametrize(
    "resource",
    [
        "",
        "https://",
        "https:///path",
        "https://user:pw@node.example/",
        "https://node.example/a b",
        "https://no de.example/",
        "acct:@host.example",
    ],
)
def test_parse_resource_bad(resource: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_resource(resource)
    assert info.value.status_hint == 400


def test_parse_resource_unknown_scheme_is_not_found() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_resource("mailto:alice@example.com")
    assert info.value.status_hint == 404


@pytest.mark.parametrize("section", ["3.1", "3.2", "4.3", "4.5 (Hosted WebFinger Services)"])
def test_rfc7033_request_targets_parse(section: str) -> None:
    target = EXAMPLES[section]["request"]["target"]
    resource, rels = parse_query(parse_qsl(urlsplit(target).query))
    assert resource[0] in ("acct", "url")
    if section == "4.3":
        assert rels == (
            "http://webfinger.example/rel/profile-page",
            "http://webfinger.example/rel/businesscard",
        )


def test_parse_query_resource_exactly_once() -> None:
    with pytest.raises(RemoteProtocolError, match="missing"):
        parse_query([("rel", "self")])
    with pytest.raises(RemoteProtocolError, match="more than once"):
        parse_query([("resource", "acct:a@b.example"), ("resource", "acct:c@b.example")])


def test_build_webfinger_url_matches_rfc_example() -> None:
    ex = EXAMPLES["3.1"]["request"]
    url = build_webfinger_url(
        ex["host"],
        "acct:carol@example.com",
        rels=["http://openid.net/specs/connect/1.0/issuer"],
    )
    assert url == f"https://{ex['host']}{ex['target']}"
    ex = EXAMPLES["4.3"]["request"]
    url = build_webfinger_url(
        ex["host"],
        "acct:bob@example.com",
        rels=[
            "http://webfinger.example/rel/profile-page",
            "http://webfinger.example/rel/businesscard",
        ],
    )
    assert url == f"https://{ex['host']}{ex['target']}"
    with pytest.raises(LocalProtocolError):
        build_webfinger_url("example.com", "acct:a@example.com", scheme="ftp")


# -- JRD building -------------------------------------------------------------------------


def test_build_rfc7033_examples() -> None:
    jrd = build_jrd(
        "acct:carol@example.com",
        links=[link("http://openid.net/specs/connect/1.0/issuer", "https://openid.example.com")],
    )
    assert jrd == EXAMPLES["3.1"]["response"]["jrd"]

    jrd = build_jrd(
        "http://blog.example.com/article/id/314",
        aliases=[
            "http://blog.example.com/cool_new_thing",
            "http://blog.example.com/steve/article/7",
        ],
        properties={
            "http://blgx.example.net/ns/version": "1.3",
            "http://blgx.example.net/ns/ext": None,
        },
        links=[
            link("copyright", "http://www.example.com/copyright"),
            link(
                "author",
                "http://blog.example.com/author/steve",
                titles={"en-us": "The Magical World of Steve", "fr": "Le Monde Magique de Steve"},
                properties={"http://example.com/role": "editor"},
            ),
        ],
    )
    assert jrd == EXAMPLES["3.2"]["response"]["jrd"]


def _bob_full() -> dict[str, Any]:
    return build_jrd(
        "acct:bob@example.com",
        aliases=["https://www.example.com/~bob/"],
        properties={"http://example.com/ns/role": "employee"},
        links=[
            link("http://webfinger.example/rel/profile-page", "https://www.example.com/~bob/"),
            link(
                "http://webfinger.example/rel/businesscard", "https://www.example.com/~bob/bob.vcf"
            ),
            link("http://webfinger.example/rel/blog", "https://blogs.example.com/bob/"),
            link(REL_SELF, "https://example.com/members/bob", ACTIVITY_JSON),
        ],
    )


def test_filter_rels_rfc7033_section_4_3() -> None:
    ex = EXAMPLES["4.3"]
    _, rels = parse_query(parse_qsl(urlsplit(ex["request"]["target"]).query))
    filtered = filter_rels(_bob_full(), rels)
    assert filtered == ex["response"]["jrd"]


def test_filter_rels_keeps_everything_without_rel_and_copes_with_unknown() -> None:
    full = _bob_full()
    assert filter_rels(full, []) == full
    only_unknown = filter_rels(full, ["http://unknown.example/rel"])
    assert only_unknown["links"] == []
    assert only_unknown["subject"] == full["subject"]
    assert only_unknown["aliases"] == full["aliases"]
    assert only_unknown["properties"] == full["properties"]
    # Registered relation types are case-insensitive.
    assert [x["rel"] for x in filter_rels(full, ["SELF"])["links"]] == [REL_SELF]
    assert len(full["links"]) == 4  # the input is not modified


def test_link_and_jrd_refuse_misuse() -> None:
    with pytest.raises(LocalProtocolError):
        link("")
    with pytest.raises(LocalProtocolError):
        link(REL_SUBSCRIBE, href="https://a.example/", template="https://a.example/{uri}")
    with pytest.raises(LocalProtocolError):
        build_jrd("", links=[])
    with pytest.raises(LocalProtocolError):
        build_jrd("acct:a@b.example", links=[{"href": "https://x.example/"}])


def test_our_actor_jrd_round_trips() -> None:
    jrd = build_jrd(
        "acct:ana@node.example",
        aliases=["https://node.example/members/ana"],
        links=[
            link(REL_SELF, "https://node.example/members/ana", ACTIVITY_JSON),
            link(REL_PROFILE, "https://node.example/@ana", "text/html"),
            link(REL_SUBSCRIBE, template="https://node.example/authorize_interaction?uri={uri}"),
        ],
    )
    parsed = parse_jrd(json.dumps(jrd).encode())
    assert parsed.subject == "acct:ana@node.example"
    assert parsed.aliases == ("https://node.example/members/ana",)
    assert parsed.self_link() == "https://node.example/members/ana"
    assert parsed.profile_page() == "https://node.example/@ana"
    assert parsed.subscribe_template() == "https://node.example/authorize_interaction?uri={uri}"


# -- JRD parsing --------------------------------------------------------------------------


@pytest.mark.parametrize("section", ["3.1", "3.2", "4.3"])
def test_parse_rfc7033_responses(section: str) -> None:
    response = EXAMPLES[section]["response"]
    assert response["headers"]["Content-Type"] == JRD_JSON
    jrd = parse_jrd(json.dumps(response["jrd"]).encode())
    assert jrd.subject == response["jrd"]["subject"]
    assert list(jrd.aliases) == response["jrd"].get("aliases", [])
    assert jrd.properties == response["jrd"].get("properties", {})
    assert [x.rel for x in jrd.links] == [x["rel"] for x in response["jrd"]["links"]]
    assert [x.href for x in jrd.links] == [x["href"] for x in response["jrd"]["links"]]
    assert jrd.self_link() is None


def test_rfc7033_section_3_2_titles_and_properties() -> None:
    jrd = parse_jrd(json.dumps(EXAMPLES["3.2"]["response"]["jrd"]).encode())
    (author,) = jrd.links_for("author")
    assert author.titles["fr"] == "Le Monde Magique de Steve"
    assert author.properties == {"http://example.com/role": "editor"}
    assert jrd.properties["http://blgx.example.net/ns/ext"] is None


def test_rfc7033_redirect_goes_to_https() -> None:
    response = EXAMPLES["4.5 (Hosted WebFinger Services)"]["response"]
    assert response["status"] == 307
    assert urlsplit(response["headers"]["Location"]).scheme == "https"


def test_mastodon_fixture() -> None:
    headers, body = _http_body(MASTODON.read_bytes())
    assert headers["content-type"].startswith(JRD_JSON)
    jrd = parse_jrd(body)
    assert jrd.subject == "acct:foo@ap.example.com"
    assert parse_acct(jrd.subject) == ("foo", "ap.example.com")
    assert jrd.self_link() == "https://ap.example.com/users/foo"
    assert jrd.subscribe_template() == "https://ap.example.com/authorize_follow?acct={uri}"
    assert jrd.profile_page() == "https://ap.example.com/@foo"
    assert "https://ap.example.com/users/foo" in jrd.aliases
    # Only the types asked for count: an Atom-only client finds no actor.
    assert jrd.self_link(types=("application/atom+xml",)) is None


def test_self_link_type_matching() -> None:
    def doc(*links: dict[str, Any]) -> bytes:
        return json.dumps({"subject": "acct:a@b.example", "links": list(links)}).encode()

    ld = {"rel": "self", "type": LD_JSON, "href": "https://b.example/a"}
    assert parse_jrd(doc(ld)).self_link() == "https://b.example/a"
    spaced = dict(ld, type='Application/LD+JSON;profile="https://www.w3.org/ns/activitystreams"')
    assert parse_jrd(doc(spaced)).self_link() == "https://b.example/a"
    plain_ld = dict(ld, type="application/ld+json")
    assert parse_jrd(doc(plain_ld)).self_link() is None
    html = {"rel": "self", "type": "text/html", "href": "https://b.example/@a"}
    untyped = {"rel": "self", "href": "https://b.example/x"}
    not_http = {"rel": "self", "type": ACTIVITY_JSON, "href": "javascript:alert(1)"}
    ap = {"rel": "self", "type": ACTIVITY_JSON, "href": "https://b.example/users/a"}
    assert parse_jrd(doc(html, untyped, not_http, ap)).self_link() == "https://b.example/users/a"


def test_parse_jrd_is_lenient() -> None:
    body = json.dumps(
        {
            "subject": "acct:a@b.example",
            "unknown": {"x": 1},
            "links": [
                {"href": "https://b.example/no-rel"},
                "not an object",
                {"rel": "self", "type": ACTIVITY_JSON, "href": "https://b.example/a", "x": 1},
                {"rel": "self", "type": None, "href": None},
            ],
        }
    ).encode()
    jrd = parse_jrd(body)
    assert [x.rel for x in jrd.links] == ["self", "self"]
    assert jrd.self_link() == "https://b.example/a"
    assert parse_jrd(b"{}").links == ()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'"acct:a@b.example"',
        b'{"subject": 12}',
        b'{"aliases": "https://b.example/a"}',
        b'{"links": {"rel": "self"}}',
        b'{"properties": []}',
        b'{"subject": "acct:a@b.example"',
    ],
)
def test_parse_jrd_rejects_non_jrd(body: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_jrd(body)
    assert info.value.status_hint == 400


# -- host-meta ----------------------------------------------------------------------------


def test_host_meta_xrd() -> None:
    xml = build_host_meta("https://node.example:8443/")
    root = ET.fromstring(xml)
    ns = "{http://docs.oasis-open.org/ns/xri/xrd-1.0}"
    assert root.tag == f"{ns}XRD"
    (lrdd,) = root.findall(f"{ns}Link")
    assert lrdd.get("rel") == "lrdd"
    assert lrdd.get("template") == "https://node.example:8443/.well-known/webfinger?resource={uri}"


def test_host_meta_escapes_and_jrd_form() -> None:
    root = ET.fromstring(build_host_meta('https://node.example/a&b"c'))
    (lrdd,) = root
    assert lrdd.get("template") == 'https://node.example/a&b"c/.well-known/webfinger?resource={uri}'
    assert build_host_meta_jrd("https://node.example") == {
        "links": [
            {
                "rel": "lrdd",
                "template": "https://node.example/.well-known/webfinger?resource={uri}",
            }
        ]
    }
    with pytest.raises(LocalProtocolError):
        build_host_meta("node.example")
