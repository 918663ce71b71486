"""Connection cursors the server signs: a cursor is the page's sort key and an HMAC of it,
keyed by the server's secret and bound to one connection.

A cursor the server did not issue (forged, edited, from another connection, or from a server
with another secret) is refused as VALIDATION_FAILED on `after` before its key is read, so
no client-made value ever reaches a query as a page position.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from wardgraph import errors

# 128 bits of the SHA-256 HMAC: forging one is 2^128 guesses, and a page URL stays short.
MAC_BYTES = 16
# A cursor of this schema is a few short values; anything longer is not one of ours.
MAX_CURSOR_LENGTH = 512


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorSigner:
    """Signs and checks the cursors of one connection (`kind`)."""

    def __init__(self, secret: str, kind: str) -> None:
        self._key = hashlib.sha256(b"wardgraph cursor\x00" + secret.encode()).digest()
        self.kind = kind

    def _mac(self, payload: bytes) -> bytes:
        message = self.kind.encode() + b"\x00" + payload
        return hmac.new(self._key, message, hashlib.sha256).digest()[:MAC_BYTES]

    def encode(self, key: list[Any]) -> str:
        payload = json.dumps(key, default=str, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def decode(self, cursor: str | None, length: int) -> list[Any] | None:
        """The sort key in a cursor this connection issued, or VALIDATION_FAILED on `after`."""
        if cursor is None:
            return None
        refused = errors.invalid("after", "Not a cursor from this connection")
        payload_text, dot, mac_text = cursor.partition(".")
        if not dot or len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
            raise refused
        try:
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except (ValueError, binascii.Error):
            raise refused from None
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise refused
        key = json.loads(payload)
        if not isinstance(key, list) or len(key) != length:
            raise refused
        return key
