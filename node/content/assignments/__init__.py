"""Open assignments (FEP-0837 proposals) and the offers members make on them.

- ``service``: publish, edit, fill, withdraw, remove; the board;
- ``offers``: Offer{Agreement} out and in, Accept/Reject both ways;
- ``documents``: the wire shapes (Proposal, Offer, Accept/Reject) and their plain view;
- ``api``: /api/v1/assignments, /api/v1/offers, /api/v1/board;
- ``cli``: ``kantine assignment ...``.
"""

from __future__ import annotations

from .api import routes
from .cli import register_cli
from .service import Service

__all__ = ["Service", "register_cli", "routes"]
