"""Kantine's node: the aiohttp service."""
