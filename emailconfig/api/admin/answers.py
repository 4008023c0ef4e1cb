"""The answers each admin operation documents: its own, and the errors it can give."""

from __future__ import annotations

from typing import Any

from emailconfig.api.schemas import ErrorOut


def reading(schema: Any, *, found: bool = False) -> dict[int, Any]:
    """400 (a parameter that breaks the document), 401 (no valid admin token), 404 (an object
    outside the token's stages), 503 (the database is away)."""
    return {200: schema, **_errors(400, 401, 503, *([404] if found else []))}


def writing(
    schema: Any, *, created: bool = False, found: bool = False, conflict: bool = False
) -> dict[int, Any]:
    """As reading, with 403 (a read token, or an owner who may not change it) and 409 (a
    stale edit, or what the current state refuses)."""
    extra = ([404] if found else []) + ([409] if conflict else [])
    return {201 if created else 200: schema, **_errors(400, 401, 403, 503, *extra)}


def _errors(*codes: int) -> dict[int, Any]:
    return dict.fromkeys(codes, ErrorOut)
