"""Signed tokens of the website chat: conversation tokens (ours) and identity tokens (the shop's).

Both have the form ``base64url(json) + "." + base64url(HMAC-SHA256(secret, first part))``.
A conversation token names an anonymous conversation (``{"cid", "iat"}``) so a returning visitor
gets their history back and cannot pick someone else's. An identity token (``{"email", "exp"}``)
is made by the shop's backend for a logged-in customer with a secret shared with shopbot.
Verification never raises: anything wrong with a token makes it count as absent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.types import utcnow

__all__ = [
    "SECRET_FILE_NAME",
    "ConversationTokens",
    "IdentityVerifier",
    "load_web_secret",
    "make_identity_token",
]

SECRET_FILE_NAME = "web-secret"
_MAX_TOKEN_CHARS = 2048  # far above any real token; refuses huge inputs before decoding
_MAX_EMAIL_CHARS = 254
_CLOCK_SKEW = timedelta(minutes=5)  # a token "issued" this far in the future is still accepted


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: dict[str, Any]) -> str:
    body = _b64encode(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    signature = hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64encode(signature)}"


def _open(secret: bytes, token: object) -> dict[str, Any] | None:
    """The payload of ``token`` if it is well formed and signed with ``secret``, else None."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS or token.count(".") != 1:
        return None
    body, signature = token.split(".")
    try:
        given = _b64decode(signature)
        expected = hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest()
        # Constant-time comparison: the signature cannot be found byte by byte from timings.
        if not hmac.compare_digest(given, expected):
            return None
        payload = json.loads(_b64decode(body))
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class ConversationTokens:
    """Issues and verifies the widget's anonymous conversation tokens.

    ``max_age`` is how long a token stays valid after it was issued; ``clock`` is the current
    time (timezone-aware).
    """

    def __init__(
        self,
        secret: bytes,
        max_age: timedelta,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if not secret:
            raise ValueError("the conversation token secret must not be empty")
        self._secret = secret
        self._max_age = max_age
        self._clock = clock

    def issue(self) -> str:
        """A token for a new conversation with a random id."""
        return self.issue_for(str(uuid.uuid4()))

    def issue_for(self, cid: str) -> str:
        """A token, issued now, for the conversation ``cid``."""
        return _sign(self._secret, {"cid": cid, "iat": int(self._clock().timestamp())})

    def verify(self, token: object) -> str | None:
        """The conversation id of a valid, unexpired token; None for anything else."""
        payload = _open(self._secret, token)
        if payload is None:
            return None
        cid, issued = payload.get("cid"), payload.get("iat")
        if not isinstance(cid, str) or not cid or len(cid) > 64 or not _is_int(issued):
            return None
        now = self._clock().timestamp()
        assert isinstance(issued, int)
        if issued > now + _CLOCK_SKEW.total_seconds():
            return None
        if now - issued > self._max_age.total_seconds():
            return None
        return cid


# An identity token lives as long as a login session at most; a longer-lived one (a leaked token
# minted for "forever") is refused.
MAX_IDENTITY_LIFETIME = timedelta(days=1)


class IdentityVerifier:
    """Verifies identity tokens made by the shop's backend; ``secret`` None disables them."""

    def __init__(self, secret: bytes | None, clock: Callable[[], datetime] = utcnow) -> None:
        self._secret = secret or None
        self._clock = clock

    def verify(self, token: object) -> str | None:
        """The customer's email (lower case) from a valid, unexpired token; None otherwise."""
        if self._secret is None or token is None:
            return None
        payload = _open(self._secret, token)
        if payload is None:
            return None
        email, expires = payload.get("email"), payload.get("exp")
        if not isinstance(email, str) or not (_is_int(expires) or isinstance(expires, float)):
            return None
        email = email.strip().lower()
        if "@" not in email or len(email) > _MAX_EMAIL_CHARS or any(c.isspace() for c in email):
            return None
        assert isinstance(expires, int | float)
        now = self._clock().timestamp()
        if not now < expires <= now + MAX_IDENTITY_LIFETIME.total_seconds():
            return None  # expired, or valid for longer than any login should be
        return email


def make_identity_token(secret: bytes, email: str, expires_at: datetime) -> str:
    """An identity token for ``email`` valid until ``expires_at`` — what a shop's backend makes
    for a logged-in customer (shown here for tests and as the reference implementation)."""
    return _sign(secret, {"email": email, "exp": int(expires_at.timestamp())})


def load_web_secret(configured: str | None, data_dir: Path) -> bytes:
    """The secret signing conversation tokens: ``configured`` (SHOPBOT_WEB_SECRET) when set,
    else a random one kept in ``data_dir/web-secret`` (created once, mode 0600), so tokens stay
    valid across restarts.
    """
    if configured:
        return configured.encode("utf-8")
    path = data_dir / SECRET_FILE_NAME
    if not path.exists():
        _create_secret_file(path)
    try:
        secret = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError) as exc:
        raise ConfigError(str(path), f"unreadable web secret ({exc}); delete it to renew") from exc
    if len(secret) < 16:
        raise ConfigError(str(path), "web secret too short; delete the file to renew it")
    return secret


def _create_secret_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(secrets.token_hex(32) + "\n")
        # link() fails when the name exists: of two processes starting at once, one secret
        # wins and both read it; nobody ever sees a half-written file.
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)
