"""Encryption at rest of provider credentials and signing secrets: AES-256-GCM.

A stored value reads `v1.<key id>.<base64url(nonce || ciphertext+tag)>`. The key id (the first
8 hex digits of SHA-256 of the key) says which key sealed it, so a deployment can move to a new
`RETEN_ENCRYPTION_KEY` and keep the old one in `RETEN_ENCRYPTION_PREVIOUS_KEYS` until every value
has been re-sealed. Without an explicit key, one is derived from `RETEN_SECRET_KEY` with HKDF.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"
_NONCE_BYTES = 12  # 96 bits, the size GCM is specified for


class SecretBoxError(Exception):
    """A value cannot be opened: unknown key id, tampered or truncated ciphertext."""


def derive_key(secret: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"reten credentials v1"
    ).derive(secret.encode())


def parse_key(value: str) -> bytes:
    """An explicit key: base64 (standard or url-safe) of exactly 32 bytes."""
    raw = value.strip()
    try:
        key = base64.urlsafe_b64decode(raw.replace("+", "-").replace("/", "_") + "==")
    except ValueError as exc:
        raise ValueError("an encryption key must be base64 of 32 bytes") from exc
    if len(key) != 32:
        raise ValueError("an encryption key must be base64 of 32 bytes")
    return key


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


class SecretBox:
    def __init__(self, current: bytes, previous: Iterable[bytes] = ()) -> None:
        self._current_id = key_id(current)
        self._ciphers = {key_id(k): AESGCM(k) for k in (*previous, current)}

    @classmethod
    def from_settings(
        cls, secret_key: str, encryption_key: str | None, previous: str | None
    ) -> SecretBox:
        current = parse_key(encryption_key) if encryption_key else derive_key(secret_key)
        old = [parse_key(k) for k in (previous or "").split(",") if k.strip()]
        return cls(current, old)

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self._current_id].encrypt(nonce, plaintext.encode(), None)
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{_VERSION}.{self._current_id}.{body}"

    def open(self, value: str) -> str:
        try:
            version, kid, body = value.split(".", 2)
        except ValueError as exc:
            raise SecretBoxError("malformed sealed value") from exc
        cipher = self._ciphers.get(kid)
        if version != _VERSION or cipher is None:
            raise SecretBoxError(f"no key with id {kid} to open this value")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            return cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], None).decode()
        except Exception as exc:  # InvalidTag: wrong key or tampered value
            raise SecretBoxError("sealed value failed authentication") from exc
