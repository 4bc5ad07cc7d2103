"""FEP-8b32 object integrity proofs: DataIntegrityProof with eddsa-jcs-2022, and the owner rule."""

from __future__ import annotations

import copy
import hashlib
import re
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import jcs
from .errors import LocalProtocolError, OwnershipError, ProofError, RemoteProtocolError
from .vocab import ACTOR_TYPES

__all__ = [
    "CRYPTOSUITE",
    "PROOF_PURPOSE",
    "PROOF_TYPE",
    "build_proof_config",
    "check_proof_owner",
    "create_proof",
    "document_owner",
    "format_created",
    "hash_data",
    "proof_verification_method",
    "verification_method_controller",
    "verify_proof",
]

PROOF_TYPE: Final = "DataIntegrityProof"
CRYPTOSUITE: Final = "eddsa-jcs-2022"
#: The only purpose FEP-8b32 allows.
PROOF_PURPOSE: Final = "assertionMethod"

# A legacy LD signature (Mastodon's RsaSignature2017) is added after the proof
# and removed before verifying it (FEP-8b32, backward compatibility).
_LEGACY_SIGNATURE: Final = "signature"
# An Ed25519 signature is 64 bytes: 87 or 88 base58 characters; refuse long input
# before the (quadratic) base58 decoder sees it.
_MAX_PROOF_VALUE: Final = 100
# XML Schema dateTime, as Data Integrity requires for `created` and `expires`.
_DATETIME = re.compile(r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")


# --- eddsa-jcs-2022 primitives -------------------------------------------------------


def format_created(created: datetime) -> str:
    """Serialise an aware datetime as RFC 3339 UTC with seconds precision (``...T23:36:38Z``)."""
    if created.tzinfo is None or created.utcoffset() is None:
        raise LocalProtocolError("proof time must be an aware datetime")
    utc = created.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    return utc.isoformat() + "Z"


def build_proof_config(document: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Return the eddsa-jcs-2022 proof configuration: ``options`` with the document's ``@context``.

    ``options`` is the proof without ``proofValue``. Raises ``ProofError`` when its
    type or cryptosuite is not ours or ``created`` is not a dateTime.
    """
    if options.get("type") != PROOF_TYPE:
        raise ProofError(f"unsupported proof type {_show(options.get('type'))}")
    if options.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError(f"unsupported cryptosuite {_show(options.get('cryptosuite'))}")
    if "created" in options:
        _parse_datetime(options["created"], "created")
    config = {key: value for key, value in options.items() if key != "@context"}
    if "@context" in document:
        config["@context"] = document["@context"]
    return config


def hash_data(document: dict[str, Any], proof_config: dict[str, Any]) -> bytes:
    """Return SHA-256(JCS(proof_config)) || SHA-256(JCS(document)): the 64 bytes that get signed."""
    config_hash = hashlib.sha256(jcs.canonicalize(proof_config)).digest()
    document_hash = hashlib.sha256(jcs.canonicalize(document)).digest()
    return config_hash + document_hash


# --- creating ------------------------------------------------------------------------


def create_proof(
    document: dict[str, Any],
    *,
    key: Ed25519PrivateKey,
    verification_method: str,
    created: datetime,
    proof_purpose: str = PROOF_PURPOSE,
) -> dict[str, Any]:
    """Return a new dict: ``document`` plus an eddsa-jcs-2022 ``proof``; the input is not touched.

    The proof carries the document's ``@context`` (eddsa-jcs-2022 "Create Proof"
    step 2, as in FEP-8b32's examples). Raises ``LocalProtocolError`` for a
    document that already has a proof or cannot be canonicalised, a naive
    ``created``, or a key that is not Ed25519.
    """
    if not isinstance(document, dict):
        raise LocalProtocolError("only a JSON object can carry a proof")
    if "proof" in document:
        raise LocalProtocolError("document already carries a proof")
    if isinstance(document.get(_LEGACY_SIGNATURE), dict):
        raise LocalProtocolError("add the integrity proof before a legacy LD signature")
    if not isinstance(key, Ed25519PrivateKey):
        raise LocalProtocolError("eddsa-jcs-2022 needs an Ed25519 private key")
    if not isinstance(verification_method, str) or not _is_method_uri(verification_method):
        raise LocalProtocolError("verification_method must be an HTTP(S) URI or a DID URL")
    if not isinstance(proof_purpose, str) or not proof_purpose:
        raise LocalProtocolError("proof_purpose must be a non-empty string")

    unsecured = copy.deepcopy(document)
    proof: dict[str, Any] = {}
    if "@context" in unsecured:
        proof["@context"] = copy.deepcopy(unsecured["@context"])
    proof.update(
        {
            "type": PROOF_TYPE,
            "cryptosuite": CRYPTOSUITE,
            "verificationMethod": verification_method,
            "proofPurpose": proof_purpose,
            "created": format_created(created),
        }
    )
    try:
        signed_bytes = hash_data(unsecured, build_proof_config(unsecured, proof))
    except RemoteProtocolError as exc:
        raise LocalProtocolError(f"cannot sign this document: {exc.reason}") from exc
    proof["proofValue"] = "z" + base58.b58encode(key.sign(signed_bytes)).decode("ascii")
    unsecured["proof"] = proof
    return unsecured


# --- verifying -----------------------------------------------------------------------


def proof_verification_method(document: dict[str, Any]) -> str:
    """Return the proof's ``verificationMethod`` so the caller can fetch the key.

    Raises ``ProofError`` when the document has no proof, more than one, or one
    that is malformed, of another type or cryptosuite, or not for assertionMethod.
    """
    return _single_proof(document)["verificationMethod"]


def verify_proof(
    document: dict[str, Any], public_key: Ed25519PublicKey, *, now: datetime | None = None
) -> dict[str, Any]:
    """Verify the document's eddsa-jcs-2022 proof against ``public_key``; return the proof.

    ``now`` (optional, aware) rejects a proof whose ``expires`` has passed. The
    caller still has to check that the key belongs to the verification method's
    controller and that the controller owns the document (``check_proof_owner``).
    Raises ``ProofError`` naming the reason.
    """
    if now is not None and now.utcoffset() is None:
        raise LocalProtocolError("now must be an aware datetime")
    proof = _single_proof(document)
    if not isinstance(public_key, Ed25519PublicKey):
        raise ProofError("verification method is not an Ed25519 key")
    if "expires" in proof:
        expires = _parse_datetime(proof["expires"], "expires")
        if now is not None and _aware(expires) <= now:
            raise ProofError("proof expired")
    signature = _decode_proof_value(proof["proofValue"])

    unsecured = {
        key: value
        for key, value in document.items()
        if key != "proof" and not (key == _LEGACY_SIGNATURE and isinstance(value, dict))
    }
    options = {key: value for key, value in proof.items() if key != "proofValue"}
    if "@context" in options:
        if not _starts_with(document.get("@context"), options["@context"]):
            raise ProofError("proof @context differs from document @context")
        unsecured["@context"] = options["@context"]
    config = build_proof_config(unsecured, options)
    try:
        signed_bytes = hash_data(unsecured, config)
    except RemoteProtocolError as exc:
        raise ProofError(f"document cannot be canonicalised: {exc.reason}") from exc
    try:
        public_key.verify(signature, signed_bytes)
    except InvalidSignature as exc:
        raise ProofError("proof does not verify") from exc
    return proof


def _single_proof(document: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise ProofError("document is not a JSON object")
    if "proof" not in document:
        raise ProofError("document has no proof")
    proof = document["proof"]
    if isinstance(proof, list):
        if len(proof) != 1:
            raise ProofError("document carries more than one proof" if proof else "empty proof")
        proof = proof[0]
    if not isinstance(proof, dict):
        raise ProofError("proof is not a JSON object")
    if proof.get("type") != PROOF_TYPE:
        raise ProofError(f"unsupported proof type {_show(proof.get('type'))}")
    if proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError(f"unsupported cryptosuite {_show(proof.get('cryptosuite'))}")
    if proof.get("proofPurpose") != PROOF_PURPOSE:
        raise ProofError(
            f"proof purpose must be assertionMethod, not {_show(proof.get('proofPurpose'))}"
        )
    method = proof.get("verificationMethod")
    if not isinstance(method, str) or not _is_method_uri(method):
        raise ProofError("proof verificationMethod must be an HTTP(S) URI or a DID URL")
    if not isinstance(proof.get("proofValue"), str):
        raise ProofError("proof has no proofValue")
    return proof


def _decode_proof_value(value: str) -> bytes:
    if not value.startswith("z") or len(value) > _MAX_PROOF_VALUE:
        raise ProofError("proofValue is not a base58btc multibase string")
    try:
        raw = base58.b58decode(value[1:])
    except ValueError as exc:
        raise ProofError("proofValue is not valid base58btc") from exc
    if len(raw) != 64:
        raise ProofError("proofValue is not a 64-byte Ed25519 signature")
    return raw


def _starts_with(document_context: Any, proof_context: Any) -> bool:
    """The document's @context begins with every entry of the proof's, in order."""
    doc = document_context if isinstance(document_context, list) else [document_context]
    head = proof_context if isinstance(proof_context, list) else [proof_context]
    return document_context is not None and doc[: len(head)] == head


def _parse_datetime(value: Any, name: str) -> datetime:
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        raise ProofError(f"proof {name} is not a valid dateTime")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise ProofError(f"proof {name} is not a valid dateTime") from exc


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _is_method_uri(value: str) -> bool:
    if value.startswith("did:"):
        return len(value) > 4
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- ownership (FEP-fe34) ------------------------------------------------------------


def verification_method_controller(verification_method: str) -> str:
    """Return the verification method without its fragment: the actor id for ``actor#key``.

    Pure: the caller fetches that document and checks that its ``assertionMethod``
    lists ``verification_method``. A method without a fragment is returned as is.
    """
    return verification_method.split("#", 1)[0]


def document_owner(document: dict[str, Any]) -> str | None:
    """Return the FEP-fe34 owner of a document, or None when it names none.

    Actor documents own themselves; an activity is owned by its ``actor``; any
    other object (a Note, an Event, a Tombstone) by its ``attributedTo``. An
    embedded object counts by its ``id``; of several, the first counts.
    """
    if not isinstance(document, dict):
        return None
    types = document.get("type")
    type_list = types if isinstance(types, list) else [types]
    if any(isinstance(t, str) and t in ACTOR_TYPES for t in type_list):
        own = document.get("id")
        return own if isinstance(own, str) else None
    if "actor" in document:
        return _first_id(document["actor"])
    if "attributedTo" in document:
        return _first_id(document["attributedTo"])
    return None


def check_proof_owner(document: dict[str, Any], controller: str) -> None:
    """Raise ``OwnershipError`` unless ``controller`` owns ``document``.

    The controller (the actor whose key made the proof) must be the document's
    owner, and live on the same origin as the document's ``id`` when it has one.
    """
    owner = document_owner(document)
    if owner is None:
        raise OwnershipError("document names no owner (actor or attributedTo)")
    if owner != controller:
        raise OwnershipError(f"proof by {_show(controller)} on a document owned by {_show(owner)}")
    doc_id = document.get("id")
    if doc_id is not None and (
        not isinstance(doc_id, str) or _origin(doc_id) != _origin(controller)
    ):
        raise OwnershipError("document id is not on its owner's origin")


def _first_id(value: Any) -> str | None:
    if isinstance(value, list):
        if not value:
            return None
        value = value[0]
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _origin(url: str) -> tuple[str, str, int | None]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OwnershipError(f"unparseable URL {_show(url)}") from exc
    scheme = parts.scheme.lower()
    if port is None:
        port = {"https": 443, "http": 80}.get(scheme)
    return scheme, (parts.hostname or ""), port
