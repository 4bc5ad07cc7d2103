"""Every ``web.AppKey`` of the node, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from .clock import Clock
from .config import Settings
from .metrics import Metrics
from .storage.db import Database
from .urls import Urls

if TYPE_CHECKING:
    pass

__all__ = [
    "CLIENT",
    "CLOCK",
    "DB",
    "DELIVERY",
    "FEDERATION",
    "FETCHER",
    "INBOX_WRITER",
    "JINJA",
    "LIMITERS",
    "METRICS",
    "PROCESSOR",
    "REQUEST_ID",
    "SETTINGS",
    "URLS",
]

SETTINGS = web.AppKey("settings", Settings)
URLS = web.AppKey("urls", Urls)
CLOCK = web.AppKey("clock", Clock)  # type: ignore[arg-type]
DB = web.AppKey("db", Database)
METRICS = web.AppKey("metrics", Metrics)
CLIENT = web.AppKey("client", aiohttp.ClientSession)
FETCHER = web.AppKey("fetcher", "Fetcher")
FEDERATION = web.AppKey("federation", "Federation")
DELIVERY = web.AppKey("delivery", "DeliveryWorker")
PROCESSOR = web.AppKey("processor", "Processor")
INBOX_WRITER = web.AppKey("inbox_writer", "InboxWriter")  # node.storage.inbox
JINJA = web.AppKey("jinja", "jinja2.Environment")  # the web pages' templates (node.web)
LIMITERS = web.AppKey("limiters", "Limiters")  # node.guards.Limiters
REQUEST_ID = web.RequestKey("request_id", str)
