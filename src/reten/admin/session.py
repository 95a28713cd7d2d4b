"""The panel's cookies and CSRF tokens (itsdangerous signatures keyed by RETEN_SECRET_KEY).

- `reten_session`: the signed refresh token of the login (see `auth.service.user_of_session`).
  The signature carries a timestamp, so a cookie older than RETEN_ADMIN_SESSION_TTL_SECONDS is
  refused even if a browser kept it; logout revokes the login server-side.
- `reten_login`: a random nonce set by the login page, so the login form has a CSRF token too
  (a forged login would sign the victim into the attacker's account).
- CSRF tokens are signatures over a digest of whichever of those two cookies the request
  carries: bound to the session, never stored, and useless with another session's cookie.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response
from itsdangerous import BadData, URLSafeTimedSerializer

from reten.config import Environment, Settings
from reten.kit.crypto import sha256_hex

SESSION_COOKIE = "reten_session"
LOGIN_COOKIE = "reten_login"
TENANT_COOKIE = "reten_tenant"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOGIN_NONCE_SECONDS = 3600


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=f"reten.admin.{purpose}")


def _set(response: Response, settings: Settings, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.env != Environment.DEVELOPMENT,
    )


def clear(response: Response, settings: Settings, name: str) -> None:
    _set(response, settings, name, "", 0)


def start_session(response: Response, settings: Settings, refresh_token: str) -> None:
    signed = _serializer(settings, "session").dumps(refresh_token)
    _set(response, settings, SESSION_COOKIE, signed, settings.admin_session_ttl_seconds)
    clear(response, settings, LOGIN_COOKIE)


def session_token(request: Request, settings: Settings) -> str | None:
    """The refresh token in a valid, unexpired session cookie, or None."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        token = _serializer(settings, "session").loads(
            raw, max_age=settings.admin_session_ttl_seconds
        )
    except BadData:
        return None
    return token if isinstance(token, str) else None


def set_tenant(response: Response, settings: Settings, tenant_id: str) -> None:
    # Not a secret and not trusted: membership is checked against storage on every request.
    _set(response, settings, TENANT_COOKIE, tenant_id, settings.admin_session_ttl_seconds)


def login_nonce(request: Request, response: Response, settings: Settings) -> str:
    """The login page's nonce: the one the browser holds, or a new one set on `response`."""
    nonce = request.cookies.get(LOGIN_COOKIE)
    if not nonce or len(nonce) > 64:
        nonce = secrets.token_urlsafe(24)
        _set(response, settings, LOGIN_COOKIE, nonce, LOGIN_NONCE_SECONDS)
    return nonce


def _binding(value: str) -> str:
    return sha256_hex(value)[:32]


def csrf_token_for(settings: Settings, cookie_value: str) -> str:
    return _serializer(settings, "csrf").dumps(_binding(cookie_value))


def csrf_token(request: Request, settings: Settings, nonce: str | None = None) -> str:
    """The token for forms of this page: bound to the session cookie, else to the login nonce."""
    bound = request.cookies.get(SESSION_COOKIE) or nonce or request.cookies.get(LOGIN_COOKIE)
    return csrf_token_for(settings, bound or "")


def csrf_valid(request: Request, settings: Settings, token: str | None) -> bool:
    bound = request.cookies.get(SESSION_COOKIE) or request.cookies.get(LOGIN_COOKIE)
    if not bound or not token:
        return False
    try:
        signed = _serializer(settings, "csrf").loads(
            token, max_age=settings.admin_session_ttl_seconds
        )
    except BadData:
        return False
    return isinstance(signed, str) and hmac.compare_digest(signed, _binding(bound))
