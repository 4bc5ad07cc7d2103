"""Members' passwords: argon2id hashes, checked off the event loop; ``kantine member passwd``."""

from __future__ import annotations

import argparse
import asyncio
import functools
import getpass
import sys
from typing import Any

from ..clock import iso
from ..storage import sessions as sessions_db
from ..storage.db import Database

__all__ = ["MAX_LENGTH", "MIN_LENGTH", "check_password", "hash_password", "passwd", "verify"]

MIN_LENGTH, MAX_LENGTH = 10, 1024
#: Verified against when a username has no password, so both cases take as long.
_DUMMY = "no password here; this only spends the same time"  # hashed on first use


@functools.cache
def _argon2() -> tuple[Any, str, tuple[type[Exception], ...]]:
    """(hasher, a hash of ``_DUMMY``, the errors of a failed check), made on first use: a
    node that nobody signs in to never loads argon2 (memory) nor hashes at start-up."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters
    return hasher, hasher.hash(_DUMMY), (VerificationError, InvalidHashError)


def check_password(password: str) -> str | None:
    """Why ``password`` is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    return None


def hash_password(password: str) -> str:
    return _argon2()[0].hash(password)


async def verify(db: Database, username: str, password: str) -> bool:
    """Whether ``password`` is ``username``'s (argon2 runs in a thread: it is slow on purpose)."""
    stored = await sessions_db.get_password(db, username)
    if len(password) > MAX_LENGTH:
        return False

    def check() -> bool:
        hasher, dummy, failed = _argon2()
        try:
            return hasher.verify(stored or dummy, password) and stored is not None
        except failed:
            return False

    return await asyncio.to_thread(check)


async def passwd(args: argparse.Namespace) -> int:
    """``kantine member passwd USERNAME [--password-stdin]``: set a member's web password."""
    from ..commands import CommandError, runtime_for

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"New password for {args.username}: ")
        if getpass.getpass("Again: ") != password:
            raise CommandError("the two passwords differ")
    reason = check_password(password)
    if reason is not None:
        raise CommandError(reason)
    hashed = await asyncio.to_thread(hash_password, password)
    async with runtime_for(args) as rt:
        member = await rt.services["members"].get(args.username)
        now = iso(rt.clock())
        await rt.db.write(lambda c: sessions_db.set_password(c, member.username, hashed, now))
    print(f"set the password of {args.username}; their open sessions are signed out")
    return 0
