"""Kantine's sans-I/O ActivityPub library: bytes and dicts in, typed values out.

Nothing in this package opens a socket, reads the clock or the environment:
time, keys and look-ups are arguments. ``node`` imports ``protocol``; never the
reverse (``tests/test_architecture.py`` enforces it).
"""
