"""Origin rules: IRIs, origins and hosts, signer owns actor, objects on their actor's origin."""

from __future__ import annotations

import pytest

from protocol.errors import OwnershipError, RemoteProtocolError
from protocol.validation import (
    MAX_IRI_LENGTH,
    check_object_origin,
    check_signer_owns_actor,
    host_of,
    origin,
    same_origin,
    validate_iri,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Example.COM/users/a", "https://example.com"),
        ("HTTPS://example.com:443/x", "https://example.com"),
        ("http://example.com:80/x?y#z", "http://example.com"),
        ("https://example.com:8443/", "https://example.com:8443"),
        ("http://example.com:443/", "http://example.com:443"),
        ("http://127.0.0.2:8080/actor", "http://127.0.0.2:8080"),
        ("https://[2001:DB8::1]:8443/a", "https://[2001:db8::1]:8443"),
        ("https://[2001:db8::1]/a", "https://[2001:db8::1]"),
        ("https://example.com", "https://example.com"),
    ],
)
def test_origin(url: str, expected: str) -> None:
    assert origin(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.2:8080/a", "127.0.0.2:8080"),
        ("http://127.0.0.2:8081/a", "127.0.0.2:8081"),
        ("https://Social.Example/a", "social.example"),
        ("https://social.example:443/a", "social.example"),
        ("http://social.example:443/a", "social.example:443"),
        ("https://[::1]:8080/", "[::1]:8080"),
    ],
)
def test_host_of(url: str, expected: str) -> None:
    assert host_of(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "mailto:a@example.com",
        "acct:alice@example.com",
        "//example.com/x",
        "/users/a",
        "#main-key",
        "https://",
        "https://example.com:99999/",
        "https://example.com:port/",
        "https://[::1/",
        "",
        None,
        42,
    ],
)
def test_origin_refuses_what_is_not_an_http_url(url: object) -> None:
    with pytest.raises(RemoteProtocolError):
        origin(url)  # type: ignore[arg-type]


def test_same_origin() -> None:
    assert same_origin("https://a.example/users/x", "https://A.example:443/notes/1")
    assert not same_origin("https://a.example/", "http://a.example/")
    assert not same_origin("https://a.example/", "https://a.example:8443/")
    assert not same_origin("https://a.example/", "https://b.a.example/")
    assert not same_origin("http://127.0.0.2:8080/", "http://127.0.0.2:8081/")


@pytest.mark.parametrize(
    "iri",
    [
        "https://a.example/users/alice",
        "https://a.example/users/alice#main-key",
        "http://127.0.0.1:8080/actor",
        "https://a.example/@alice",
        "https://a.example/search?q=caf%C3%A9",
        "https://bücher.example/ü",
    ],
)
def test_validate_iri_accepts(iri: str) -> None:
    assert validate_iri(iri) == iri


@pytest.mark.parametrize(
    ("iri", "reason"),
    [
        ("#main-key", "not an absolute"),
        ("/users/alice", "not an absolute"),
        ("users/alice", "not an absolute"),
        ("javascript:alert(1)", "not an absolute"),
        ("https://user:pw@a.example/x", "credentials"),
        ("https://user@a.example/x", "credentials"),
        ("https:///path", "no host"),
        ("https://a.example/ x", "forbidden character"),
        ("https://a.example/\nx", "forbidden character"),
        ("https://a.example/<x>", "forbidden character"),
        ("https://a.example:0x1/", "malformed"),
        ("https://a.example/" + "x" * MAX_IRI_LENGTH, "longer than"),
        (None, "must be a string"),
        (["https://a.example/"], "must be a string"),
    ],
)
def test_validate_iri_refuses(iri: object, reason: str) -> None:
    with pytest.raises(RemoteProtocolError, match=reason):
        validate_iri(iri)


def test_signer_owns_actor() -> None:
    check_signer_owns_actor(
        "https://a.example/users/x#main-key",
        "https://a.example/users/x",
        "https://a.example/users/x",
    )


@pytest.mark.parametrize(
    ("key_id", "owner", "actor"),
    [
        # the key belongs to someone else
        (
            "https://a.example/users/y#main-key",
            "https://a.example/users/y",
            "https://a.example/users/x",
        ),
        # no owner given
        ("https://a.example/users/x#main-key", None, "https://a.example/users/x"),
        # the owner claims the actor, but the key lives on another origin
        (
            "https://evil.example/keys/1",
            "https://a.example/users/x",
            "https://a.example/users/x",
        ),
        # another port is another origin
        (
            "http://127.0.0.2:8081/users/x#main-key",
            "http://127.0.0.2:8080/users/x",
            "http://127.0.0.2:8080/users/x",
        ),
    ],
)
def test_signer_does_not_own_actor(key_id: str, owner: str | None, actor: str) -> None:
    with pytest.raises(OwnershipError) as info:
        check_signer_owns_actor(key_id, owner, actor)
    assert info.value.status_hint == 403


def test_object_origin() -> None:
    check_object_origin("https://a.example/users/x", "https://A.example/notes/1")
    with pytest.raises(OwnershipError, match="not on the origin"):
        check_object_origin("https://a.example/users/x", "https://b.example/notes/1")
    with pytest.raises(OwnershipError):
        check_object_origin("https://a.example/users/x", "http://a.example/notes/1")
    with pytest.raises(RemoteProtocolError):
        check_object_origin("https://a.example/users/x", "urn:uuid:1234")
