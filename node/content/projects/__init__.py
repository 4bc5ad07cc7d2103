"""Shared projects (FEP-1b12 groups), member follows and feed, and the co-operative calendar.

- ``service``: project actors, participants (``Join``/``Accept``/``Leave``), posting, and
  the relay: what participants address to a project is ``Announce``d to its followers;
- ``relay``: the Announce spliced around the participant's activity, byte for byte;
- ``listing``: the calendar (local and received meetups) and a member's feed;
- ``api``: the JSON API and the participants collection; ``cli``: ``kantine project …``.
"""

from __future__ import annotations

from .api import routes
from .cli import register_cli
from .service import ProjectError, ProjectRef, Service

__all__ = ["ProjectError", "ProjectRef", "Service", "register_cli", "routes"]
