"""RFC 8785 JSON Canonicalization Scheme (JCS): one JSON value in, its canonical UTF-8 bytes out."""

from __future__ import annotations

from typing import Any

import rfc8785

from .errors import RemoteProtocolError

__all__ = ["canonicalize"]


def canonicalize(obj: Any) -> bytes:
    """Return the RFC 8785 canonical serialisation of ``obj`` as UTF-8 bytes.

    ``obj`` is what ``json.loads`` produces (dicts, lists, str, int, float, bool,
    None). Values JCS cannot represent raise ``RemoteProtocolError``: NaN and
    infinities, integers outside the IEEE 754 safe range (±(2**53 - 1)), strings
    or keys with lone surrogates, non-string keys, other Python types, and
    nesting too deep to serialise. Callers that canonicalise their own documents
    turn that into a ``LocalProtocolError``.
    """
    try:
        return rfc8785.dumps(obj)
    except rfc8785.CanonicalizationError as exc:
        raise RemoteProtocolError(f"value cannot be canonicalised (RFC 8785): {exc}") from exc
    except UnicodeError as exc:
        # rfc8785 sorts keys by their UTF-16 encoding; a lone surrogate fails there.
        raise RemoteProtocolError("value cannot be canonicalised (RFC 8785): invalid key") from exc
    except RecursionError as exc:
        raise RemoteProtocolError("value nested too deeply to canonicalise") from exc
