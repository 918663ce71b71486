"""Authentication: user JWTs, partner tokens and passwords.

User tokens are JWTs signed HS256 with WARDGRAPH_JWT_SECRET (or RS256, verified with
WARDGRAPH_JWT_PUBLIC_KEY, for an external identity provider). Partner tokens are opaque
('wgp_' + 256 bits from the OS's CSPRNG); only their SHA-256 is stored and looked up.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from wardgraph.auth.claims import USER_ROLES, Claims, Role
from wardgraph.config import Settings

PARTNER_TOKEN_PREFIX = "wgp_"  # noqa: S105 - a prefix, not a secret
PARTNER_TOKEN_BYTES = 32  # 256 bits

_hasher = PasswordHasher()
# Verified when the tenant or e-mail is unknown, so that answer takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AuthError(Exception):
    """The presented credentials are not valid (the reason is for logs, not for clients)."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-work check: an absent hash still costs one argon2 verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def new_partner_token() -> tuple[str, bytes]:
    """A fresh partner token and the SHA-256 digest that is stored in its place."""
    token = PARTNER_TOKEN_PREFIX + secrets.token_urlsafe(PARTNER_TOKEN_BYTES)
    return token, partner_token_hash(token)


def partner_token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def is_partner_token(token: str) -> bool:
    return token.startswith(PARTNER_TOKEN_PREFIX)


def issue_user_token(settings: Settings, claims: Claims, now: datetime, ttl: timedelta) -> str:
    """A signed JWT carrying the user's tenant, role and facilities."""
    if not settings.jwt_secret:
        raise AuthError("no JWT secret configured")
    payload = {
        "iss": settings.jwt_issuer,
        "sub": str(claims.user_id),
        "tid": str(claims.tenant_id),
        "role": claims.role.value,
        "fac": [str(f) for f in claims.facility_ids],
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if settings.jwt_audience:
        payload["aud"] = settings.jwt_audience
    return jwt.encode(payload, settings.jwt_secret, algorithm="HS256")


# Tokens whose signature and claims were verified, remembered: a tablet polling the dashboard
# sends the same token for its whole life, and verifying it costs about a quarter of a
# millisecond. Only successes are kept (an exception is never cached); what can change with time
# is checked on every request: expiry against the request's clock below, and nothing else a
# remembered token depends on changes (the key is part of the cache key).
VERIFIED_TOKENS = 4096


@lru_cache(maxsize=VERIFIED_TOKENS)
def _verified_payload(token: str, secret: str | None, public_key: str | None,
                      issuer: str | None, audience: str | None) -> dict[str, Any]:
    """The payload of a token whose header, signature and claims hold (AuthError otherwise)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise AuthError("malformed token") from error
    algorithm = header.get("alg")
    if algorithm == "HS256" and secret:
        key = secret
    elif algorithm == "RS256" and public_key:
        key = public_key
    else:
        raise AuthError(f"algorithm {algorithm!r} is not accepted")
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "iat", "sub", "tid", "role"], "verify_exp": False},
        )
    except jwt.PyJWTError as error:
        raise AuthError(str(error)) from error
    return payload


def decode_user_token(settings: Settings, token: str, now: datetime) -> Claims:
    """The claims of a valid user JWT, or AuthError."""
    payload = _verified_payload(token, settings.jwt_secret or None, settings.jwt_public_key or None,
                                settings.jwt_issuer, settings.jwt_audience)
    # Expiry is checked against the request's clock (which tests can pin), not the OS's.
    if int(payload["exp"]) <= now.timestamp():
        raise AuthError("token expired")
    try:
        role = Role(payload["role"])
        if role not in USER_ROLES:
            raise ValueError(role)
        return Claims(
            tenant_id=UUID(payload["tid"]),
            role=role,
            user_id=UUID(payload["sub"]),
            facility_ids=tuple(UUID(f) for f in payload.get("fac", [])),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), tz=now.tzinfo),
        )
    except (ValueError, TypeError) as error:
        raise AuthError("token claims are malformed") from error
