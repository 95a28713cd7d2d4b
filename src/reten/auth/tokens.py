"""Access tokens (JWT, HS256) and opaque refresh tokens."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import jwt

from reten.kit.time import utcnow

ALGORITHM = "HS256"


def create_access_token(user_id: uuid.UUID, secret: str, ttl_seconds: int) -> str:
    now = utcnow()
    claims = {
        "sub": str(user_id),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_access_token(token: str, secret: str) -> uuid.UUID | None:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "iat", "jti"]}
        )
        return uuid.UUID(str(claims["sub"]))
    except (jwt.PyJWTError, ValueError):
        return None


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits
