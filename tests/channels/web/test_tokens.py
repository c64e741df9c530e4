"""Conversation and identity tokens of the website chat, and the web secret on disk."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channels.web.tokens import (
    SECRET_FILE_NAME,
    ConversationTokens,
    IdentityVerifier,
    load_web_secret,
    make_identity_token,
)
from core.errors import ConfigError

SECRET = b"k" * 32
START = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A settable clock, so expiry is tested without waiting."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _payload(token: str) -> dict[str, object]:
    body = token.split(".")[0]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


def _resigned(token: str, changes: dict[str, object], secret: bytes) -> str:
    """``token``'s payload with ``changes``, signed with ``secret`` the way the server signs."""
    payload = {**_payload(token), **changes}
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    signature = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return f"{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


# -- conversation tokens -------------------------------------------------------------------------


def test_issued_token_names_a_new_random_conversation() -> None:
    tokens = ConversationTokens(SECRET, timedelta(days=30), Clock())
    first, second = tokens.issue(), tokens.issue()
    cid = tokens.verify(first)
    assert cid is not None and uuid.UUID(cid).version == 4
    assert tokens.verify(second) not in (None, cid)
    assert _payload(first) == {"cid": cid, "iat": int(START.timestamp())}


def test_tampered_token_is_refused() -> None:
    tokens = ConversationTokens(SECRET, timedelta(days=30), Clock())
    token = tokens.issue()
    other = str(uuid.uuid4())
    forged_payload = _resigned(token, {"cid": other}, b"not the server secret")
    body, signature = token.split(".")
    swapped_body = _resigned(token, {"cid": other}, SECRET).split(".")[0] + "." + signature
    flipped = body + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    for bad in (forged_payload, swapped_body, flipped, token + "x", body, "", "a.b.c", "é.é"):
        assert tokens.verify(bad) is None, bad
    assert tokens.verify(None) is None
    assert tokens.verify(12345) is None


def test_token_signed_by_another_secret_is_refused() -> None:
    mine = ConversationTokens(SECRET, timedelta(days=30), Clock())
    theirs = ConversationTokens(b"x" * 32, timedelta(days=30), Clock())
    assert mine.verify(theirs.issue()) is None


def test_token_expires_after_max_age() -> None:
    clock = Clock()
    tokens = ConversationTokens(SECRET, timedelta(days=30), clock)
    token = tokens.issue()
    clock.now = START + timedelta(days=30)
    assert tokens.verify(token) is not None
    clock.now = START + timedelta(days=30, seconds=1)
    assert tokens.verify(token) is None


def test_token_from_the_future_is_refused() -> None:
    clock = Clock(START + timedelta(days=1))
    issued_tomorrow = ConversationTokens(SECRET, timedelta(days=30), clock).issue()
    assert ConversationTokens(SECRET, timedelta(days=30), Clock()).verify(issued_tomorrow) is None


# -- identity tokens -----------------------------------------------------------------------------


def test_valid_identity_token_gives_the_email_in_lower_case() -> None:
    clock = Clock()
    token = make_identity_token(SECRET, "Carol@Example.com", START + timedelta(hours=1))
    assert IdentityVerifier(SECRET, clock).verify(token) == "carol@example.com"


def test_expired_identity_token_is_ignored() -> None:
    clock = Clock()
    token = make_identity_token(SECRET, "carol@example.com", START + timedelta(hours=1))
    clock.now = START + timedelta(hours=1)
    assert IdentityVerifier(SECRET, clock).verify(token) is None


def test_forged_identity_token_is_ignored() -> None:
    verifier = IdentityVerifier(SECRET, Clock())
    expires = START + timedelta(hours=1)
    genuine = make_identity_token(SECRET, "carol@example.com", expires)
    forged = make_identity_token(b"guessed secret", "carol@example.com", expires)
    other_email = _resigned(genuine, {"email": "dave@example.com"}, b"guessed secret")
    for token in (forged, other_email, genuine[:-2], "carol@example.com", "", None, ["x"]):
        assert verifier.verify(token) is None, token


def test_malformed_identity_payloads_are_ignored() -> None:
    verifier = IdentityVerifier(SECRET, Clock())
    genuine = make_identity_token(SECRET, "carol@example.com", START + timedelta(hours=1))
    malformed: list[dict[str, object]] = [
        {"email": "not an email"},
        {"email": 7},
        {"exp": "tomorrow"},
        {"exp": True},
        {"exp": None},
    ]
    for changes in malformed:
        assert verifier.verify(_resigned(genuine, changes, SECRET)) is None, changes


def test_identity_tokens_are_ignored_without_a_configured_secret() -> None:
    token = make_identity_token(SECRET, "carol@example.com", START + timedelta(hours=1))
    assert IdentityVerifier(None, Clock()).verify(token) is None
    assert IdentityVerifier(b"", Clock()).verify(token) is None


# -- the web secret ------------------------------------------------------------------------------


def test_configured_secret_is_used_and_no_file_written(tmp_path: Path) -> None:
    assert load_web_secret("from-the-environment", tmp_path) == b"from-the-environment"
    assert not (tmp_path / SECRET_FILE_NAME).exists()


def test_generated_secret_is_private_and_survives_restarts(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    first = load_web_secret(None, data_dir)
    path = data_dir / SECRET_FILE_NAME
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_web_secret(None, data_dir) == first  # tokens stay valid after a restart
    assert [p.name for p in data_dir.iterdir()] == [SECRET_FILE_NAME]  # no temporary left over
    assert load_web_secret(None, tmp_path / "elsewhere") != first


def test_corrupt_secret_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE_NAME).write_text("not hex")
    with pytest.raises(ConfigError, match="web-secret"):
        load_web_secret(None, tmp_path)


def test_an_identity_token_valid_for_longer_than_a_day_is_refused() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    verifier = IdentityVerifier(b"secret", lambda: now)
    day = make_identity_token(b"secret", "carol@example.com", now + timedelta(hours=23))
    forever = make_identity_token(b"secret", "carol@example.com", now + timedelta(days=3650))
    assert verifier.verify(day) == "carol@example.com"
    assert verifier.verify(forever) is None
