"""The exception tree: every error says whose fault it was and suggests an HTTP status.

ProtocolError                 base; ``status_hint`` is the suggested HTTP status
├── LocalProtocolError        we (the caller) misused the library: a bug here, 500
└── RemoteProtocolError       a peer sent something malformed or unverifiable, 400
    ├── SignatureError        an HTTP signature or digest failed, 401
    ├── ProofError            an FEP-8b32 integrity proof failed, 401
    ├── OwnershipError        the signer does not own what it claims, 403
    └── PayloadTooLarge       a body or document over its limit, 413
"""

from __future__ import annotations

__all__ = [
    "LocalProtocolError",
    "OwnershipError",
    "PayloadTooLarge",
    "ProofError",
    "ProtocolError",
    "RemoteProtocolError",
    "SignatureError",
]


class ProtocolError(Exception):
    """Base of every error this library raises."""

    status_hint: int = 400

    def __init__(self, reason: str, *, status_hint: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if status_hint is not None:
            self.status_hint = status_hint


class LocalProtocolError(ProtocolError):
    """The caller used the library wrongly (a bug on our side)."""

    status_hint = 500


class RemoteProtocolError(ProtocolError):
    """A peer sent something malformed or unverifiable."""

    status_hint = 400


class SignatureError(RemoteProtocolError):
    """An HTTP signature, its parameters or the body digest did not verify."""

    status_hint = 401


class ProofError(RemoteProtocolError):
    """An FEP-8b32 data-integrity proof is missing, malformed or does not verify."""

    status_hint = 401


class OwnershipError(RemoteProtocolError):
    """The signer does not own the actor or object it speaks for."""

    status_hint = 403


class PayloadTooLarge(RemoteProtocolError):
    """A body or document exceeds the limit the caller set."""

    status_hint = 413
