"""Calendars and feeds: iCalendar (RFC 5545) and Atom, built from stored events and assignments.

- ``events``: what a stored ``Event`` document (ours or a peer's) says, read defensively;
- ``ics``: an iCalendar document of events, with their time zones (VTIMEZONE / TZID);
- ``atom``: an Atom feed (RFC 4287), with ``feedgen``.

The routes that serve them live in ``node.web.calendars``; only ``public`` objects go
into public feeds (DESIGN.md, Visibility).
"""
