"""Opaque global ids: base64url of '<Type>:<uuid>'.

A malformed id, an id of another type, a random id and another tenant's id all decode to the
same NOT_FOUND: nothing in the answer tells them apart.
"""

from __future__ import annotations

import base64
import binascii
from uuid import UUID

from wardgraph import errors


def encode(type_name: str, db_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{db_id}".encode()).decode().rstrip("=")


def parse(global_id: str) -> tuple[str, UUID] | None:
    """(type name, uuid), or None when the id is not one of ours."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, raw = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        return type_name, UUID(raw)
    except (ValueError, binascii.Error, UnicodeError):
        return None


def decode(global_id: str, type_name: str) -> UUID:
    """The uuid of an id of the given type, or NOT_FOUND."""
    parsed = parse(global_id)
    if parsed is None or parsed[0] != type_name:
        raise errors.not_found()
    return parsed[1]


def decode_input(global_id: str, type_name: str, field: str) -> UUID:
    """An id given in a mutation input: NOT_FOUND when it names nothing you can see."""
    del field  # the answer is NOT_FOUND either way; the parameter documents the caller
    return decode(global_id, type_name)
