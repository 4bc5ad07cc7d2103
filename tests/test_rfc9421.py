"""RFC 9421 signatures: Appendix B vectors, derived components, fields, tampering, errors."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from multidict import CIMultiDict, CIMultiDictProxy

from protocol.errors import LocalProtocolError, RemoteProtocolError, SignatureError
from protocol.httpsig.rfc9421 import (
    ParsedSignature,
    Request,
    check_window,
    infer_alg,
    parse_signatures,
    sign_basic_request,
    sign_request,
    sign_response,
    signature_base,
    verify_signature,
)
from protocol.keys import load_private_pem, load_public_pem

VECTORS = json.loads(
    (
        Path(__file__).resolve().parents[2] / "shared/vectors/rfc9421/rfc9421_appendix_b.json"
    ).read_text()
)
EXAMPLES = VECTORS["examples"]
MESSAGE_OF = {"B.3": "B.3-signed-proxy-request"}
SECRET = base64.b64decode(VECTORS["keys"]["test-shared-secret"]["base64"])


def _public(key_id: str) -> object:
    if key_id == "test-shared-secret":
        return SECRET
    return load_public_pem(VECTORS["keys"][key_id]["public_pem"])


def _private(key_id: str) -> object:
    if key_id == "test-shared-secret":
        return SECRET
    return load_private_pem(VECTORS["keys"][key_id]["private_pem"])


def _message(name: str) -> tuple[str | None, str | None, int | None, list[tuple[str, str]]]:
    """(method, url, status, header pairs) of a vector message."""
    msg = VECTORS["messages"][name]
    fields = [(n, v) for n, v in msg["fields"]]
    first = msg["start_line"].split(" ")
    if first[0].startswith("HTTP/"):
        return None, None, int(first[1]), fields
    host = next(v for n, v in fields if n.lower() == "host")
    return first[0], f"https://{host}{first[1]}", None, fields


def _signed_vector(example: str) -> tuple[str | None, str | None, int | None, list, dict]:
    vec = EXAMPLES[example]
    method, url, status, fields = _message(MESSAGE_OF.get(example, vec["message"]))
    if not any(n.lower() == "signature" for n, _ in fields):
        fields = [*fields, ("Signature-Input", vec["signature_input"])]
        fields.append(("Signature", vec["signature"]))
    return method, url, status, fields, vec


# --- Appendix B -------------------------------------------------------------------------------


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_vector_signature_base_is_exact(example: str) -> None:
    method, url, status, fields, vec = _signed_vector(example)
    [parsed] = parse_signatures(fields)
    assert parsed.label == vec["label"]
    assert signature_base(method, url, fields, parsed, status=status) == vec["signature_base"]


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_vector_verifies(example: str) -> None:
    method, url, status, fields, vec = _signed_vector(example)
    [parsed] = parse_signatures(fields)
    key = _public(vec["keyid"])
    verify_signature(method, url, fields, parsed, key, alg=vec["alg"], status=status)


@pytest.mark.parametrize("example", ["B.2.1", "B.2.2", "B.2.3"])
def test_rsa_pss_vector_fails_as_pkcs1(example: str) -> None:
    method, url, _, fields, vec = _signed_vector(example)
    [parsed] = parse_signatures(fields)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(method, url, fields, parsed, _public(vec["keyid"]))  # inferred v1.5


@pytest.mark.parametrize("example", [k for k, v in EXAMPLES.items() if v["deterministic"]])
def test_deterministic_vectors_resign_exactly(example: str) -> None:
    vec = EXAMPLES[example]
    method, url, _, fields = _message(vec["message"])
    fields = [(n, v) for n, v in fields if n.lower() not in {"signature", "signature-input"}]
    [parsed] = parse_signatures(
        [("Signature-Input", vec["signature_input"]), ("Signature", vec["signature"])]
    )
    out = sign_request(
        method or "",
        url or "",
        fields,
        key=_private(vec["keyid"]),
        key_id=vec["keyid"],
        alg=vec["alg"],
        components=parsed.components,
        created=parsed.params["created"],
        label=vec["label"],
        include_alg=False,
    )
    assert out == {"Signature-Input": vec["signature_input"], "Signature": vec["signature"]}


@pytest.mark.parametrize("variant", EXAMPLES["B.4"]["still_valid_variants"])
def test_b4_transformed_messages_still_verify(variant: str) -> None:
    method, url, _, fields = _message(variant)
    [parsed] = parse_signatures(fields)
    verify_signature(method, url, fields, parsed, _public("test-key-ed25519"))


@pytest.mark.parametrize("variant", EXAMPLES["B.4"]["invalid_variants"])
def test_b4_invalid_transformations_fail(variant: str) -> None:
    method, url, _, fields = _message(variant)
    [parsed] = parse_signatures(fields)
    with pytest.raises(SignatureError, match="signature does not verify"):
        verify_signature(method, url, fields, parsed, _public("test-key-ed25519"))


def test_our_rsa_pss_signature_verifies() -> None:
    method, url, _, fields = _message("test-request")
    components = ['"@authority"', '"content-digest"', '"@query-param";name="Pet"']
    out = sign_request(
        method or "",
        url or "",
        fields,
        key=_private("test-key-rsa-pss"),
        key_id="test-key-rsa-pss",
        alg="rsa-pss-sha512",
        components=components,
        created=1618884473,
        tag="header-example",
    )
    assert out["Signature-Input"] == (
        'sig1=("@authority" "content-digest" "@query-param";name="Pet");created=1618884473;'
        'keyid="test-key-rsa-pss";alg="rsa-pss-sha512";tag="header-example"'
    )
    [parsed] = parse_signatures([*fields, *out.items()])
    verify_signature(method, url, fields, parsed, _public("test-key-rsa-pss"))


def test_our_ecdsa_response_signature_verifies() -> None:
    _, _, status, fields = _message("test-response")
    assert status == 200
    out = sign_response(
        200,
        fields,
        key=_private("test-key-ecc-p256"),
        key_id="test-key-ecc-p256",
        alg="ecdsa-p256-sha256",
        components=["@status", "content-type", "content-digest", "content-length"],
        created=1618884473,
        label="sig-b24",
        include_alg=False,
    )
    assert out["Signature-Input"] == EXAMPLES["B.2.4"]["signature_input"]
    [parsed] = parse_signatures([*fields, *out.items()])
    assert len(parsed.signature) == 64
    assert (
        signature_base(None, None, fields, parsed, status=200)
        == (EXAMPLES["B.2.4"]["signature_base"])
    )
    key = _public("test-key-ecc-p256")
    verify_signature(None, None, fields, parsed, key, status=200)  # alg inferred from key
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(None, None, fields, parsed, key, status=503)


def test_response_with_request_bound_components() -> None:
    """RFC 9421 2.4: a response signs components of the request it answers (";req")."""
    rmethod, rurl, _, rfields = _message("test-request")
    fields = [
        ("Content-Type", "application/json"),
        ("Content-Digest", "sha-512=:0Y6iCBzGg5rZtoXS95Ijz03mslf6KAMCloESHObfwnHJDbkkWWQz6PhhU9kxsTbARtY2PTBOzq24uJFpHsMuAg==:"),
    ]  # fmt: skip
    request = Request(rmethod or "", rurl or "", rfields)
    components = ["@status", "content-digest", "content-type", '"@authority";req']
    components += ['"@method";req', '"@path";req', '"content-digest";req']
    key = ec.generate_private_key(ec.SECP256R1())
    out = sign_response(
        503,
        fields,
        key=key,
        key_id="test-key-ecc-p256",
        alg="ecdsa-p256-sha256",
        components=components,
        created=1618884479,
        request=request,
        label="reqres",
        include_alg=False,
    )
    [parsed] = parse_signatures(out)
    assert signature_base(None, None, fields, parsed, status=503, request=request) == (
        '"@status": 503\n'
        '"content-digest": sha-512=:0Y6iCBzGg5rZtoXS95Ijz03mslf6KAMCloESHObfwnHJDbkkWWQz6PhhU9kxsTbARtY2PTBOzq24uJFpHsMuAg==:\n'
        '"content-type": application/json\n'
        '"@authority";req: example.com\n'
        '"@method";req: POST\n'
        '"@path";req: /foo\n'
        '"content-digest";req: sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:\n'
        '"@signature-params": ("@status" "content-digest" "content-type" "@authority";req '
        '"@method";req "@path";req "content-digest";req);created=1618884479;keyid="test-key-ecc-p256"'
    )  # fmt: skip
    pub = key.public_key()
    verify_signature(None, None, fields, parsed, pub, status=503, request=request)
    other = Request("POST", "https://example.com/bar", rfields)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(None, None, fields, parsed, pub, status=503, request=other)
    with pytest.raises(SignatureError, match="covered component needs the request"):
        verify_signature(None, None, fields, parsed, pub, status=503)


# --- derived components and fields --------------------------------------------------------------


def _line(url: str, component: str, headers=(), method: str = "GET") -> str:
    base = signature_base(method, url, headers, [component], params={"created": 1})
    return base.split("\n")[0]


@pytest.mark.parametrize(
    ("url", "component", "expected"),
    [
        ("https://www.example.com/path?param=value", "@method", '"@method": GET'),
        (
            "https://www.example.com/path?param=value",
            "@target-uri",
            '"@target-uri": https://www.example.com/path?param=value',
        ),
        ("https://www.example.com/path?param=value", "@authority", '"@authority": www.example.com'),
        ("HTTPS://WWW.Example.com:443/", "@authority", '"@authority": www.example.com'),
        ("http://example.com:80/", "@authority", '"@authority": example.com'),
        ("http://127.0.0.2:8080/x", "@authority", '"@authority": 127.0.0.2:8080'),
        ("https://[::1]:8443/x", "@authority", '"@authority": [::1]:8443'),
        ("HTTPS://www.example.com/", "@scheme", '"@scheme": https'),
        ("https://e.com/path?param=value", "@request-target", '"@request-target": /path?param=value'),
        ("https://e.com/path?param=value", "@path", '"@path": /path'),
        ("https://e.com", "@path", '"@path": /'),
        ("https://e.com/path?param=value&foo=bar&baz=bat%2Dman", "@query", '"@query": ?param=value&foo=bar&baz=bat%2Dman'),
        ("https://e.com/path?queryString", "@query", '"@query": ?queryString'),
        ("https://e.com/path", "@query", '"@query": ?'),
        ("https://e.com/path?", "@query", '"@query": ?'),
        ("https://e.com/p?param=value&foo=bar", '"@query-param";name="foo"', '"@query-param";name="foo": bar'),
        ("https://e.com/p?var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something", '"@query-param";name="var"', '"@query-param";name="var": this%20is%20a%20big%0Avalue'),
        ("https://e.com/p?var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something", '"@query-param";name="bar"', '"@query-param";name="bar": with%20plus%20whitespace'),
        ("https://e.com/p?var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something", '"@query-param";name="fa%C3%A7ade%22%3A%20"', '"@query-param";name="fa%C3%A7ade%22%3A%20": something'),
        ("https://e.com/p?a=~!'()", "@query-param;name=\"a\"", '"@query-param";name="a": %7E%21%27%28%29'),
        ("https://e.com/p?empty=", '"@query-param";name="empty"', '"@query-param";name="empty": '),
    ],
)  # fmt: skip
def test_derived_components(url: str, component: str, expected: str) -> None:
    assert _line(url, component) == expected


def test_query_param_missing_or_repeated_is_an_error() -> None:
    with pytest.raises(LocalProtocolError, match='covered component missing: "@query-param"'):
        _line("https://e.com/p?a=1", '"@query-param";name="b"')
    with pytest.raises(LocalProtocolError, match="more than once"):
        _line("https://e.com/p?a=1&a=2", '"@query-param";name="a"')


RFC_FIELDS = [
    ("Host", "www.example.com"),
    ("Date", "Tue, 20 Apr 2021 02:07:56 GMT"),
    ("X-OWS-Header", "   Leading and trailing whitespace.   "),
    ("X-Obs-Fold-Header", "Obsolete\r\n    line folding."),
    ("Cache-Control", "max-age=60"),
    ("Cache-Control", "   must-revalidate"),
    ("Example-Dict", " a=1,    b=2;x=1;y=2,   c=(a   b   c)"),
    ("X-Empty-Header", ""),
    ("Example-Header", "value, with, lots"),
    ("Example-Header", "of, commas"),
]


@pytest.mark.parametrize(
    ("component", "expected"),
    [
        ("host", '"host": www.example.com'),
        ("date", '"date": Tue, 20 Apr 2021 02:07:56 GMT'),
        ("x-ows-header", '"x-ows-header": Leading and trailing whitespace.'),
        ("x-obs-fold-header", '"x-obs-fold-header": Obsolete line folding.'),
        ("cache-control", '"cache-control": max-age=60, must-revalidate'),
        ("example-dict", '"example-dict": a=1,    b=2;x=1;y=2,   c=(a   b   c)'),
        ("x-empty-header", '"x-empty-header": '),
        ('"example-dict";sf', '"example-dict";sf: a=1, b=2;x=1;y=2, c=(a b c)'),
        ('"example-dict";key="a"', '"example-dict";key="a": 1'),
        ('"example-dict";key="b"', '"example-dict";key="b": 2;x=1;y=2'),
        ('"example-dict";key="c"', '"example-dict";key="c": (a b c)'),
        ("example-header", '"example-header": value, with, lots, of, commas'),
        (
            '"example-header";bs',
            '"example-header";bs: :dmFsdWUsIHdpdGgsIGxvdHM=:, :b2YsIGNvbW1hcw==:',
        ),
    ],
)
def test_fields_rfc_section_2_1(component: str, expected: str) -> None:
    assert _line("https://www.example.com/", component, RFC_FIELDS) == expected


def test_field_errors() -> None:
    with pytest.raises(LocalProtocolError, match="covered component missing: content-digest"):
        _line("https://e.com/", "content-digest", RFC_FIELDS)
    with pytest.raises(
        LocalProtocolError, match='covered component missing: "example-dict";key="z"'
    ):
        _line("https://e.com/", '"example-dict";key="z"', RFC_FIELDS)
    with pytest.raises(LocalProtocolError, match="no structured type known"):
        _line("https://e.com/", '"x-ows-header";sf', RFC_FIELDS)
    with pytest.raises(LocalProtocolError, match="cannot be combined"):
        _line("https://e.com/", '"example-dict";bs;sf', RFC_FIELDS)
    with pytest.raises(LocalProtocolError, match="unsupported component parameters"):
        _line("https://e.com/", '"example-dict";tr', RFC_FIELDS)
    with pytest.raises(LocalProtocolError, match="not ASCII"):
        _line("https://e.com/", "x-name", [("X-Name", "Zoë")])
    assert _line("https://e.com/", '"x-name";bs', [("X-Name", "Zoë")]) == '"x-name";bs: :Wm/Dqw==:'


@pytest.mark.parametrize(
    "headers",
    [
        {"accept": "application/json, */*"},
        {"ACCEPT": "application/json, */*"},
        [("Accept", "application/json"), ("accept", "*/*")],
        CIMultiDictProxy(CIMultiDict([("Accept", "application/json"), ("ACCEPT", "*/*")])),
    ],
)
def test_header_containers_are_case_insensitive_and_combined(headers: object) -> None:
    assert _line("https://e.com/", "accept", headers) == '"accept": application/json, */*'


def test_component_errors_in_requests_and_responses() -> None:
    with pytest.raises(LocalProtocolError, match="@status is only valid in a response"):
        _line("https://e.com/", "@status")
    with pytest.raises(LocalProtocolError, match="needs ';req'"):
        signature_base(None, None, [], ["@method"], status=200)
    with pytest.raises(LocalProtocolError, match="only valid in a response"):
        _line("https://e.com/", '"@method";req')
    with pytest.raises(LocalProtocolError, match="unknown derived component"):
        _line("https://e.com/", "@fragment")
    with pytest.raises(LocalProtocolError, match="component listed twice"):
        signature_base("GET", "https://e.com/", [], ["@method", '"@method"'])
    with pytest.raises(LocalProtocolError, match="invalid component name"):
        _line("https://e.com/", "Accept", [("Accept", "x")])
    with pytest.raises(LocalProtocolError, match="signature parameter created has the wrong type"):
        signature_base("GET", "https://e.com/", [], ["@method"], params={"created": "1"})


# --- signing and verifying our own --------------------------------------------------------------

URL = "https://remote.example/users/alice/inbox?x=1"
BODY_DIGEST = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
HEADERS = {
    "Host": "remote.example",
    "Date": "Sat, 01 Mar 2025 10:00:00 GMT",
    "Content-Type": "application/activity+json",
    "Content-Digest": BODY_DIGEST,
}
COMPONENTS = ["@method", "@target-uri", "@authority", "content-digest", "content-type", "date"]


def _keys() -> list[tuple[str, object, object]]:
    ed = ed25519.Ed25519PrivateKey.generate()
    rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ecc = ec.generate_private_key(ec.SECP256R1())
    return [
        ("ed25519", ed, ed.public_key()),
        ("rsa-v1_5-sha256", rs, rs.public_key()),
        ("rsa-pss-sha512", rs, rs.public_key()),
        ("ecdsa-p256-sha256", ecc, ecc.public_key()),
        ("hmac-sha256", b"s" * 32, b"s" * 32),
    ]


def _sign(alg: str, key: object, headers=HEADERS, **kw: object) -> dict[str, str]:
    kw.setdefault("components", COMPONENTS)
    return sign_request(
        "POST",
        URL,
        headers,
        key=key,
        key_id="https://a.example/k",
        alg=alg,
        created=1740823200,
        **kw,
    )


@pytest.mark.parametrize(("alg", "private", "public"), _keys(), ids=lambda v: str(v)[:16])
def test_round_trip_every_algorithm(alg: str, private: object, public: object) -> None:
    out = _sign(alg, private, nonce="n-1", expires=1740823500)
    [parsed] = parse_signatures({**HEADERS, **out})
    assert parsed.params == {
        "created": 1740823200,
        "expires": 1740823500,
        "keyid": "https://a.example/k",
        "alg": alg,
        "nonce": "n-1",
    }
    assert parsed.component_names == tuple(COMPONENTS)
    assert parsed.key_id == "https://a.example/k"
    verify_signature("POST", URL, HEADERS, parsed, public)
    verify_signature("POST", URL, HEADERS, parsed, public, alg=alg)


def _ed25519_signed() -> tuple[ParsedSignature, ed25519.Ed25519PublicKey]:
    key = ed25519.Ed25519PrivateKey.generate()
    [parsed] = parse_signatures({**HEADERS, **_sign("ed25519", key)})
    return parsed, key.public_key()


@pytest.mark.parametrize("name", ["Content-Digest", "Date", "Content-Type"])
def test_one_changed_byte_of_a_covered_header_fails(name: str) -> None:
    parsed, pub = _ed25519_signed()
    value = HEADERS[name]
    tampered = {**HEADERS, name: value[:-3] + chr(ord(value[-3]) ^ 1) + value[-2:]}
    with pytest.raises(SignatureError, match="signature does not verify"):
        verify_signature("POST", URL, tampered, parsed, pub)


def test_uncovered_header_may_change() -> None:
    parsed, pub = _ed25519_signed()
    verify_signature("POST", URL, {**HEADERS, "User-Agent": "x"}, parsed, pub)


def test_one_changed_byte_of_the_signature_fails() -> None:
    parsed, pub = _ed25519_signed()
    sig = bytearray(parsed.signature)
    sig[10] ^= 0x01
    bad = ParsedSignature(
        parsed.label, parsed.components, parsed.params, bytes(sig), parsed.signature_params
    )
    with pytest.raises(SignatureError, match="signature does not verify") as info:
        verify_signature("POST", URL, HEADERS, bad, pub)
    assert info.value.status_hint == 401


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("PUT", URL),
        ("POST", "https://remote.example/users/alice/inbox?x=2"),
        ("POST", "https://remote.example/users/alicf/inbox?x=1"),
        ("POST", "https://remote.example:8443/users/alice/inbox?x=1"),
    ],
)
def test_changed_method_or_target_fails(method: str, url: str) -> None:
    parsed, pub = _ed25519_signed()
    with pytest.raises(SignatureError, match="signature does not verify"):
        verify_signature(method, url, HEADERS, parsed, pub)


def test_covered_component_absent_fails() -> None:
    parsed, pub = _ed25519_signed()
    headers = {k: v for k, v in HEADERS.items() if k != "Content-Digest"}
    with pytest.raises(SignatureError, match="covered component missing: content-digest"):
        verify_signature("POST", URL, headers, parsed, pub)


def test_signature_params_are_covered() -> None:
    parsed, pub = _ed25519_signed()
    bumped = parsed.signature_params.replace("created=1740823200", "created=1740823201")
    bad = ParsedSignature(
        parsed.label, parsed.components, {**parsed.params}, parsed.signature, bumped
    )
    with pytest.raises(SignatureError, match="signature does not verify"):
        verify_signature("POST", URL, HEADERS, bad, pub)


def test_alg_rules() -> None:
    parsed, pub = _ed25519_signed()
    with pytest.raises(SignatureError, match="alg mismatch"):
        verify_signature("POST", URL, HEADERS, parsed, pub, alg="rsa-v1_5-sha256")
    rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(SignatureError, match="key type does not match alg ed25519"):
        verify_signature("POST", URL, HEADERS, parsed, rs.public_key())
    weird = ParsedSignature(
        parsed.label, parsed.components, {**parsed.params, "alg": "rsa-sha1"}, b"", ""
    )
    with pytest.raises(SignatureError, match="unsupported alg: rsa-sha1"):
        verify_signature("POST", URL, HEADERS, weird, pub)
    assert infer_alg(rs) == infer_alg(rs.public_key()) == "rsa-v1_5-sha256"
    assert infer_alg(pub) == "ed25519"
    assert infer_alg(ec.generate_private_key(ec.SECP256R1())) == "ecdsa-p256-sha256"
    assert infer_alg(b"secret") == "hmac-sha256"
    with pytest.raises(LocalProtocolError, match="cannot sign ed25519"):
        _sign("ed25519", rs)
    with pytest.raises(LocalProtocolError, match="unsupported alg"):
        _sign("rsa-sha256", rs)


def test_rsa_without_alg_param_is_pkcs1() -> None:
    rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    out = _sign("rsa-v1_5-sha256", rs, include_alg=False)
    [parsed] = parse_signatures({**HEADERS, **out})
    assert "alg" not in parsed.params
    verify_signature("POST", URL, HEADERS, parsed, rs.public_key())


# --- parsing ---------------------------------------------------------------------------------


def test_parse_several_signatures_in_order() -> None:
    headers = [
        ("Signature-Input", 'b=("@method");created=2;keyid="k2"'),
        ("Signature-Input", 'a=("@query-param";name="Pet" "content-digest");created=1'),
        ("Signature", "a=:AAEC:, b=:AwQF:"),
    ]
    first, second = parse_signatures(headers)
    assert (first.label, first.signature, first.params) == (
        "b",
        b"\x03\x04\x05",
        {"created": 2, "keyid": "k2"},
    )
    assert second.components == ('"@query-param";name="Pet"', '"content-digest"')
    assert second.component_names == ("@query-param", "content-digest")
    assert second.signature_params == '("@query-param";name="Pet" "content-digest");created=1'


def test_signature_params_are_reserialised_canonically() -> None:
    [parsed] = parse_signatures(
        {"Signature-Input": 'l=(  "@method"   "@path" );created=5', "Signature": "l=:AA==:"}
    )
    assert parsed.signature_params == '("@method" "@path");created=5'


@pytest.mark.parametrize(
    ("headers", "error", "reason"),
    [
        ({"Signature": "a=:AA==:"}, SignatureError, "missing Signature-Input"),
        ({"Signature-Input": 'a=("@method")'}, SignatureError, "missing Signature header"),
        ({"Signature-Input": 'a=("@method")', "Signature": "b=:AA==:"}, SignatureError, "no Signature for label a"),
        ({"Signature-Input": "a=(@method)", "Signature": "a=:AA==:"}, RemoteProtocolError, "malformed Signature-Input"),
        ({"Signature-Input": 'a=("@method")', "Signature": "a=:A!:"}, RemoteProtocolError, "malformed Signature"),
        ({"Signature-Input": '"@method"', "Signature": "a=:AA==:"}, RemoteProtocolError, "malformed Signature-Input"),
        ({"Signature-Input": 'a="@method"', "Signature": "a=:AA==:"}, RemoteProtocolError, "not an inner list"),
        ({"Signature-Input": 'a=("@method")', "Signature": 'a="AA=="'}, RemoteProtocolError, "not a byte sequence"),
        ({"Signature-Input": "a=(method)", "Signature": "a=:AA==:"}, RemoteProtocolError, "not a string"),
        ({"Signature-Input": 'a=();created="1"', "Signature": "a=:AA==:"}, RemoteProtocolError, "created of a has the wrong type"),
        ({"Signature-Input": "a=();keyid=1", "Signature": "a=:AA==:"}, RemoteProtocolError, "keyid of a has the wrong type"),
    ],
)  # fmt: skip
def test_parse_errors(headers: dict, error: type, reason: str) -> None:
    with pytest.raises(error, match=reason) as info:
        parse_signatures(headers)
    assert info.value.status_hint == (401 if error is SignatureError else 400)


def test_received_malformed_components_are_signature_errors() -> None:
    headers = {"Signature-Input": 'a=("@method" "@method");created=1', "Signature": "a=:AA==:"}
    [parsed] = parse_signatures(headers)
    with pytest.raises(SignatureError, match="component listed twice"):
        verify_signature("GET", URL, headers, parsed, b"k")


# --- time window -----------------------------------------------------------------------------

NOW = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
T = int(NOW.timestamp())


def test_check_window() -> None:
    check_window({"created": T}, NOW)
    check_window({"created": T + 30, "expires": T + 60}, NOW)
    check_window({}, NOW, require_created=False)
    for params, reason in [
        ({}, "no created"),
        ({"created": T + 3600}, "created in the future"),
        ({"created": T - 7200}, "too old"),
        ({"created": T - 600, "expires": T - 300}, "expired"),
        ({"created": "x"}, "not an integer"),
    ]:
        with pytest.raises(SignatureError, match=reason):
            check_window(params, NOW)
    check_window({"created": T - 7200}, NOW, max_age=timedelta(hours=3))


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/inbox",
        "http://127.0.0.1:8080/users/a/inbox",
        "https://Example.COM:443/a%20b/inbox?x=1&y=%2F",
        "https://user:pw@example.com/inbox?",
        "http://[::1]:9000/inbox#frag",
    ],
)
@pytest.mark.parametrize("with_type", [True, False])
def test_basic_signing_gives_the_general_bytes(url: str, with_type: bool) -> None:
    """The short path for the usual delivery is the general signer, byte for byte
    (Ed25519 signatures are deterministic)."""
    key = ed25519.Ed25519PrivateKey.generate()
    fields = {"content-digest": "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"}
    if with_type:
        fields["content-type"] = (
            '  application/ld+json; profile="https://www.w3.org/ns/activitystreams" '
        )
    components = ["@method", "@target-uri", *fields]
    kwargs = dict(
        key=key, key_id="https://a.example/u#ed25519-key", alg="ed25519", created=1_700_000_000
    )
    basic = sign_basic_request("POST", url, fields, components=components, **kwargs)
    general = sign_request("POST", url, list(fields.items()), components=components, **kwargs)
    assert basic == general
    parsed = parse_signatures(
        {"Signature-Input": basic["Signature-Input"], "Signature": basic["Signature"], **fields}
    )
    verify_signature("POST", url, fields, parsed[0], key.public_key(), alg="ed25519")


def test_basic_signing_refuses_what_cannot_be_signed() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(LocalProtocolError):
        sign_basic_request(
            "POST",
            "https://example.com:99999/inbox",
            {},
            key=key,
            key_id="k",
            alg="ed25519",
            components=["@method", "@target-uri"],
            created=1,
        )
    with pytest.raises(LocalProtocolError):
        sign_basic_request(
            "POST",
            "https://example.com/inbox",
            {"content-type": "text/plain\r\nX-Injected: 1"},
            key=key,
            key_id="k",
            alg="ed25519",
            components=["@method", "content-type"],
            created=1,
        )
