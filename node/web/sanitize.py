"""Remote text made safe to show: HTML through nh3's allowlist, plain text capped, URLs checked.

The raw document stays in the database as it arrived; pages render what these return.
Templates autoescape everything else, so plain text needs only ``text`` (which caps it).
"""

from __future__ import annotations

import html
import re

from markupsafe import Markup

__all__ = ["MAX_HTML", "MAX_TEXT", "clean_html", "paragraphs", "safe_url", "text"]

TAGS = {
    "p",
    "br",
    "a",
    "strong",
    "em",
    "b",
    "i",
    "u",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
}
ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}
#: Characters of visible text a rendered document may show (the rest is cut, with "…").
MAX_HTML = 20_000
#: Characters of a one-line field (a name, a title, a city).
MAX_TEXT = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_TAG = re.compile(r"<[^>]*>")


def text(value: object, limit: int = MAX_TEXT) -> str:
    """One line of plain text: control and direction characters gone, spaces collapsed, capped."""
    flat = " ".join(_CONTROL.sub("", str(value or "")).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _plain(markup: str) -> str:
    markup = re.sub(r"(?i)<br\s*/?>|</p>", "\n", markup)
    return html.unescape(_TAG.sub("", markup))


def paragraphs(value: str, limit: int = MAX_HTML) -> Markup:
    """Plain text as escaped paragraphs (blank lines split them), capped at ``limit``."""
    body = _CONTROL.sub("", value).strip()
    if len(body) > limit:
        body = body[: limit - 1].rstrip() + "…"
    parts = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
    return Markup("").join(
        Markup("<p>{}</p>").format(Markup("<br>").join(p.splitlines())) for p in parts
    )


def clean_html(value: object, limit: int = MAX_HTML) -> Markup:
    """A peer's HTML with only harmless tags and ``http(s)``/``mailto`` links left.

    Scripts, styles, event handlers, ``javascript:`` and ``data:`` URLs, images and
    frames go; a document whose text is longer than ``limit`` is shown as capped text.
    """
    raw = _CONTROL.sub("", str(value or ""))[: limit * 4]
    import nh3  # on first use: a node that shows no remote HTML does not load it (memory)

    cleaned = nh3.clean(
        raw,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer ugc",
        strip_comments=True,
    )
    if len(_plain(cleaned)) > limit or len(raw) == limit * 4:
        return paragraphs(_plain(cleaned), limit)
    return Markup(cleaned)


def safe_url(value: object) -> str | None:
    """``value`` if it is an absolute ``http(s)``/``mailto`` URL without spaces, else None."""
    url = str(value or "").strip()
    if not url or len(url) > 2000 or _CONTROL.search(url) or any(c.isspace() for c in url):
        return None
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("http", "https") and url.lower().startswith(scheme + "://"):
        return url
    if scheme == "mailto" and len(url) > 7:
        return url
    return None
