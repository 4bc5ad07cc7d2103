"""Key material: generate, load and dump RSA and Ed25519 keys (PEM, FEP-521a Multikey)."""

from __future__ import annotations

import base58
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "MIN_RSA_BITS",
    "PrivateKey",
    "PublicKey",
    "decode_multikey",
    "decode_multikey_private",
    "dump_private_pem",
    "dump_public_pem",
    "encode_multikey",
    "encode_multikey_private",
    "generate_ed25519",
    "generate_rsa",
    "key_kind",
    "load_private_pem",
    "load_public_pem",
]

#: Smallest RSA modulus the protocol layer accepts; node policy may ask for more.
MIN_RSA_BITS = 1024

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey

# Multicodec prefixes (unsigned varints) for Multikey values.
_ED25519_PUB = b"\xed\x01"
_ED25519_PRIV = b"\x80\x26"
_RSA_PUB = b"\x85\x24"  # 0x1205 rsa-pub, DER PKCS#1


def generate_rsa(bits: int = 2048) -> rsa.RSAPrivateKey:
    """Generate an RSA key (2048 bits by default, as every fediverse server expects)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def generate_ed25519() -> ed25519.Ed25519PrivateKey:
    """Generate an Ed25519 key."""
    return ed25519.Ed25519PrivateKey.generate()


def key_kind(key: PrivateKey | PublicKey) -> str:
    """Return ``"rsa"``, ``"ed25519"`` or ``"ecdsa-p256"`` for a key."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "rsa"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "ed25519"
    if (
        isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey)
        and key.curve.name == "secp256r1"
    ):
        return "ecdsa-p256"
    raise LocalProtocolError(f"unsupported key type {type(key).__name__}")


def dump_private_pem(key: PrivateKey) -> str:
    """Serialise a private key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def load_private_pem(pem: str | bytes, *, validate: bool = True) -> PrivateKey:
    """Load a PKCS#8 or PKCS#1 private key; raise ``LocalProtocolError`` if unusable.

    ``validate=False`` skips the RSA key's consistency check (about 50 ms for 2048
    bits): only for keys this program generated and stored itself.
    """
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(
            data, password=None, unsafe_skip_rsa_key_validation=not validate
        )
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise LocalProtocolError(f"unreadable private key: {exc}") from exc
    if not isinstance(
        key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
    ):
        raise LocalProtocolError(f"unsupported private key type {type(key).__name__}")
    return key


def dump_public_pem(key: PublicKey | PrivateKey) -> str:
    """Serialise the public half of a key as SubjectPublicKeyInfo PEM."""
    pub = _public(key)
    return pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_pem(pem: str | bytes, *, min_rsa_bits: int = MIN_RSA_BITS) -> PublicKey:
    """Load a peer's SPKI (or PKCS#1 RSA) PEM public key.

    Raises ``RemoteProtocolError`` for anything unreadable, of an unsupported type,
    or an RSA key shorter than ``min_rsa_bits``.
    """
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data.strip())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise RemoteProtocolError(f"unreadable public key: {exc}") from exc
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < min_rsa_bits:
            raise RemoteProtocolError(
                f"RSA key of {key.key_size} bits is below the minimum of {min_rsa_bits}"
            )
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
        return key
    raise RemoteProtocolError(f"unsupported public key type {type(key).__name__}")


def encode_multikey(key: PublicKey | PrivateKey) -> str:
    """Encode a public key as an FEP-521a ``publicKeyMultibase`` (``z`` + base58btc)."""
    pub = _public(key)
    if isinstance(pub, ed25519.Ed25519PublicKey):
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return "z" + base58.b58encode(_ED25519_PUB + raw).decode("ascii")
    if isinstance(pub, rsa.RSAPublicKey):
        der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        return "z" + base58.b58encode(_RSA_PUB + der).decode("ascii")
    raise LocalProtocolError(f"no Multikey encoding for {type(pub).__name__}")


def decode_multikey(value: str, *, min_rsa_bits: int = MIN_RSA_BITS) -> PublicKey:
    """Decode a ``publicKeyMultibase`` value (Ed25519 or RSA); raise ``RemoteProtocolError``."""
    raw = _multibase_decode(value)
    if raw.startswith(_ED25519_PUB):
        body = raw[len(_ED25519_PUB) :]
        if len(body) != 32:
            raise RemoteProtocolError("Ed25519 Multikey must hold 32 bytes")
        return ed25519.Ed25519PublicKey.from_public_bytes(body)
    if raw.startswith(_RSA_PUB):
        try:
            key = serialization.load_der_public_key(_pkcs1_to_spki(raw[len(_RSA_PUB) :]))
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise RemoteProtocolError(f"unreadable RSA Multikey: {exc}") from exc
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size < min_rsa_bits:
            raise RemoteProtocolError("RSA Multikey too short or not RSA")
        return key
    raise RemoteProtocolError("unsupported Multikey codec")


def encode_multikey_private(key: ed25519.Ed25519PrivateKey) -> str:
    """Encode an Ed25519 private key as ``secretKeyMultibase``."""
    raw = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return "z" + base58.b58encode(_ED25519_PRIV + raw).decode("ascii")


def decode_multikey_private(value: str) -> ed25519.Ed25519PrivateKey:
    """Decode an Ed25519 ``secretKeyMultibase`` value."""
    raw = _multibase_decode(value)
    if not raw.startswith(_ED25519_PRIV) or len(raw) != len(_ED25519_PRIV) + 32:
        raise LocalProtocolError("not an Ed25519 secretKeyMultibase")
    return ed25519.Ed25519PrivateKey.from_private_bytes(raw[len(_ED25519_PRIV) :])


def _public(key: PublicKey | PrivateKey) -> PublicKey:
    if isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        return key.public_key()
    return key


def _multibase_decode(value: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("z") or len(value) > 2048:
        raise RemoteProtocolError("Multikey must be a base58btc multibase string starting with 'z'")
    try:
        return base58.b58decode(value[1:])
    except ValueError as exc:
        raise RemoteProtocolError(f"invalid base58btc: {exc}") from exc


def _pkcs1_to_spki(pkcs1_der: bytes) -> bytes:
    """Wrap a PKCS#1 RSAPublicKey DER in a SubjectPublicKeyInfo (rsaEncryption)."""
    algid = bytes.fromhex("300d06092a864886f70d0101010500")
    bitstring = b"\x03" + _der_len(len(pkcs1_der) + 1) + b"\x00" + pkcs1_der
    body = algid + bitstring
    return b"\x30" + _der_len(len(body)) + body


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    out = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(out)]) + out
