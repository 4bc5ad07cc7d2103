"""The JSON API for members and admins (bearer tokens), under /api/v1."""
