"""A Mastodon-like remote server for tests: actors with RSA keys, signed POSTs, a recording inbox.

Its verification of what Kantine delivers is written here, independently of
``protocol/`` (``cryptography`` and the draft-cavage text only), so a test that
passes shows a second implementation agrees with ours.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from nodes import free_port, wait_for

__all__ = ["FakeActor", "FakePeer", "Received", "independent_verify_cavage"]

_PARAM = re.compile(r'(\w+)="([^"]*)"')


def independent_verify_cavage(
    method: str,
    path_qs: str,
    headers: Any,
    body: bytes,
    public_pem: str,
    *,
    now: datetime | None = None,
) -> str:
    """Verify a draft-cavage rsa-sha256 request the way Mastodon does; return the keyId.

    ``now`` is the verifier's time for the Date check (default: the real time).
    """
    params = dict(_PARAM.findall(headers["Signature"]))
    covered = params["headers"].split()
    for required in ("(request-target)", "host", "date", "digest"):
        assert required in covered, f"{required} not signed"
    digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert headers["Digest"] == digest, "digest mismatch"
    now = now or datetime.now(UTC)
    age = abs((now - parsedate_to_datetime(headers["Date"])).total_seconds())
    assert age < 3600, "stale Date"
    lines = []
    for name in covered:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {path_qs}")
        else:
            lines.append(f"{name}: {headers[name]}")
    key = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    try:
        key.verify(
            base64.b64decode(params["signature"]),
            "\n".join(lines).encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature as exc:
        raise AssertionError("signature does not verify") from exc
    return params["keyId"]


@dataclass
class FakeActor:
    username: str
    base: str
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    shared_inbox: bool = True  # False: no endpoints.sharedInbox (each actor is its own target)

    @property
    def id(self) -> str:
        return f"{self.base}/users/{self.username}"

    @property
    def key_id(self) -> str:
        return self.id + "#main-key"

    def document(self) -> dict[str, Any]:
        pem = (
            self.key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        document = {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": self.id,
            "type": "Person",
            "preferredUsername": self.username,
            "name": self.username.title(),
            "inbox": self.id + "/inbox",
            "outbox": self.id + "/outbox",
            "followers": self.id + "/followers",
            "following": self.id + "/following",
            "endpoints": {"sharedInbox": self.base + "/inbox"},
            "publicKey": {"id": self.key_id, "owner": self.id, "publicKeyPem": pem},
        }
        if not self.shared_inbox:
            del document["endpoints"]
        return document

    def sign(
        self, method: str, url: str, body: bytes | None, *, date: datetime | None = None
    ) -> dict[str, str]:
        """Sign like Mastodon: (request-target) host date digest content-type, rsa-sha256."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {
            "Host": parts.netloc,
            "Date": format_datetime(date or datetime.now(UTC), usegmt=True),
        }
        covered = ["(request-target)", "host", "date"]
        if body is not None:
            headers["Digest"] = (
                "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
            )
            headers["Content-Type"] = "application/activity+json"
            covered += ["digest", "content-type"]
        lines = [f"(request-target): {method.lower()} {path}"]
        lines += [
            f"{name}: {headers[name.title() if name != 'content-type' else 'Content-Type']}"
            for name in covered[1:]
        ]
        signature = base64.b64encode(
            self.key.sign("\n".join(lines).encode(), padding.PKCS1v15(), hashes.SHA256())
        ).decode()
        headers["Signature"] = (
            f'keyId="{self.key_id}",algorithm="rsa-sha256",headers="{" ".join(covered)}",'
            f'signature="{signature}"'
        )
        return headers


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    key_id: str | None
    error: str | None

    @property
    def json(self) -> Any:
        return msgspec.json.decode(self.body)


class FakePeer:
    """A remote server on loopback hosting actors; its inbox verifies and records deliveries."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host, self.port = host, port or free_port(host)
        self.base = f"http://{self.host}:{self.port}"
        self.actors: dict[str, FakeActor] = {}
        self.received: list[Received] = []
        self.inbox_status = 202
        self.inbox_delay = 0.0  # seconds the inbox holds each request after recording it
        self.shared_inbox = True  # whether actors created from now on advertise the shared inbox
        self.key_resolver: Any = None  # async (key_id) -> public PEM, for verifying deliveries
        self.inbox_headers: dict[str, str] = {}  # added to every inbox answer (e.g. Retry-After)
        self.clock: Any = None  # () -> aware datetime the inbox checks Date against (default: real)
        self.fetches: list[str] = []  # paths of every actor document GET served
        self.inbox_gate: Any = None  # an asyncio.Event: if set, the inbox waits for it to answer
        self.documents: dict[str, Any] = {}  # path -> JSON document (or raw bytes) for GET
        self.redirects: dict[str, str] = {}  # path -> Location answered with a 302
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request received
        self._runner: web.AppRunner | None = None

    def actor(self, username: str) -> FakeActor:
        if username not in self.actors:
            self.actors[username] = FakeActor(username, self.base, shared_inbox=self.shared_inbox)
        return self.actors[username]

    async def start(self) -> FakePeer:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/users/{name}", self._actor)
        app.router.add_post("/users/{name}/inbox", self._inbox)
        app.router.add_post("/inbox", self._inbox)
        app.router.add_get("/.well-known/webfinger", self._webfinger)
        app.router.add_get("/{path:.*}", self._document)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        if request.method == "GET" and request.path in self.redirects:
            raise web.HTTPFound(self.redirects[request.path])
        return await handler(request)

    async def _document(self, request: web.Request) -> web.Response:
        document = self.documents.get(request.path)
        if document is None:
            raise web.HTTPNotFound()
        if isinstance(document, bytes):  # served as is: broken documents for tests
            return web.Response(body=document, content_type="application/activity+json")
        return web.json_response(document, content_type="application/activity+json")

    async def _actor(self, request: web.Request) -> web.Response:
        self.fetches.append(request.path)
        actor = self.actors.get(request.match_info["name"])
        if actor is None:
            raise web.HTTPNotFound()
        return web.json_response(actor.document(), content_type="application/activity+json")

    async def _webfinger(self, request: web.Request) -> web.Response:
        user = request.query.get("resource", "").removeprefix("acct:").split("@")[0]
        actor = self.actors.get(user)
        if actor is None:
            raise web.HTTPNotFound()
        return web.json_response(
            {
                "subject": f"acct:{user}@{self.host}:{self.port}",
                "links": [{"rel": "self", "type": "application/activity+json", "href": actor.id}],
            },
            content_type="application/jrd+json",
        )

    async def _inbox(self, request: web.Request) -> web.Response:
        body = await request.read()
        key_id = error = None
        try:
            params = dict(_PARAM.findall(request.headers.get("Signature", "")))
            pem = await self._public_pem(params.get("keyId", ""))
            key_id = independent_verify_cavage(
                request.method,
                request.path_qs,
                request.headers,
                body,
                pem,
                now=self.clock() if self.clock else None,
            )
        except (AssertionError, KeyError, ValueError, aiohttp.ClientError) as exc:
            error = str(exc) or type(exc).__name__
        self.received.append(Received(request.path, dict(request.headers), body, key_id, error))
        if self.inbox_gate is not None:
            await self.inbox_gate.wait()
        if self.inbox_delay:
            await asyncio.sleep(self.inbox_delay)
        if error:
            return web.json_response({"error": error}, status=401)
        return web.Response(status=self.inbox_status, headers=self.inbox_headers)

    async def _public_pem(self, key_id: str) -> str:
        """Fetch the signer's actor (unsigned GET, as a lenient server would) and read its PEM."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                key_id.split("#")[0], headers={"Accept": "application/activity+json"}
            ) as resp,
        ):
            doc = msgspec.json.decode(await resp.read())
        key = doc["publicKey"]
        if key["id"] != key_id:
            raise KeyError(f"actor does not publish {key_id}")
        return str(key["publicKeyPem"])

    async def post(
        self, actor: FakeActor, url: str, activity: dict[str, Any], **sign_kw: Any
    ) -> tuple[int, str]:
        """POST a signed activity as ``actor``; return (status, body text)."""
        body = msgspec.json.encode(activity)
        headers = actor.sign("POST", url, body, **sign_kw)
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=headers) as resp,
        ):
            return resp.status, await resp.text()

    def activity(self, actor: FakeActor, kind: str, obj: Any, **extra: Any) -> dict[str, Any]:
        return {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{actor.id}/activities/{uuid.uuid4()}",
            "type": kind,
            "actor": actor.id,
            "object": obj,
            **extra,
        }

    def received_ids(self, activity_id: str) -> list[Received]:
        """Every POST that reached this peer carrying the activity ``activity_id``."""
        return [r for r in self.received if _activity_id(r.body) == activity_id]

    async def follow(self, actor: FakeActor, node_url: str, target: str, **sign_kw: Any) -> str:
        """``actor`` follows ``target`` through the node's shared inbox; wait for the Accept.

        Returns the Follow's id.
        """
        follow = self.activity(actor, "Follow", target)
        status, text = await self.post(actor, node_url + "/inbox", follow, **sign_kw)
        assert status == 202, text
        await wait_for(
            lambda: [
                r
                for r in self.received
                if r.error is None
                and r.path == f"/users/{actor.username}/inbox"
                and _json_field(r.body, "type") == "Accept"
            ]
        )
        return str(follow["id"])


def _json_field(body: bytes, name: str) -> Any:
    try:
        doc = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    return doc.get(name) if isinstance(doc, dict) else None


def _activity_id(body: bytes) -> Any:
    return _json_field(body, "id")
