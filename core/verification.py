"""Who may read which order: the one place where customer verification is decided.

Every CRM adapter goes through this check; it is code, never a prompt. A conversation proves it
belongs to a customer with an order number plus the email on that order, or with a channel
identity (e.g. the phone number an SMS came from) that matches the order. Once verified, the
conversation is bound to that customer (by customer id: no email or phone is kept) and can read
that customer's orders only, until the verification expires after a quiet spell.

The shop's own staff are the exception: a channel that knows a sender is staff (a member of the
shop's Slack workspace) says so with an identity of kind :data:`STAFF`, and staff may read any
order without verification. Only a channel sets that identity; nothing a user types can.

A wrong email and a non-existent order get the same answer, so the bot cannot be used to find
out which order numbers exist. Failures lock lookups for the conversation, and — across all
conversations — for the order number and for the email tried, so that a guesser gains nothing
by starting new conversations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from core.ports import ShopBackend
from core.session import Session
from core.shop import Order
from core.types import Identity

__all__ = [
    "STAFF",
    "Access",
    "AccessResult",
    "FailureLedger",
    "Verifier",
    "VerifierPolicy",
]

STAFF = "staff"
"""The identity kind of the shop's staff (value: who, e.g. a Slack ``team:user``)."""


class Access(StrEnum):
    GRANTED = "granted"
    NEED_EMAIL = "need_email"
    DENIED = "denied"
    NOT_LINKED = "not_linked"  # the conversation is verified as a customer who has no such order
    LOCKED = "locked"
    STAFF = "staff"  # the shop's staff read any order; the conversation is bound to no customer
    NOT_FOUND = "not_found"  # said only to staff: customers must not learn which orders exist


@dataclass(frozen=True, slots=True)
class AccessResult:
    """The verdict, the session as it must be stored afterwards, and the order when granted."""

    access: Access
    session: Session
    order: Order | None = None
    retry_after: timedelta | None = None


class FailureLedger(Protocol):
    """Failed verifications per subject (an order number, a hashed email), shared by every
    conversation and worker."""

    async def record_verification_failure(self, subjects: Sequence[str], at: datetime) -> None:
        """Count one failed verification against each of ``subjects``."""
        ...

    async def count_verification_failures(
        self, subjects: Sequence[str], since: datetime
    ) -> Mapping[str, int]:
        """The failures since ``since`` per subject (subjects without any may be left out)."""
        ...


@dataclass(frozen=True, slots=True)
class VerifierPolicy:
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    verified_for: timedelta = timedelta(minutes=30)


class Verifier:
    """Decides whether a conversation may see an order, counting failures and locking out."""

    def __init__(
        self, shop: ShopBackend, ledger: FailureLedger, policy: VerifierPolicy | None = None
    ) -> None:
        self._shop = shop
        self._ledger = ledger
        self._policy = policy or VerifierPolicy()

    async def open_order(
        self,
        session: Session,
        number: str,
        *,
        email: str | None,
        identity: Identity | None,
        now: datetime,
    ) -> AccessResult:
        """Return the order when ``session`` may read it, else why not.

        ``email`` is the address the user gave in this conversation; ``identity`` is what the
        channel itself vouches for (a :data:`STAFF` identity reads any order, unverified).
        """
        if identity is not None and identity.kind == STAFF:
            order = await self._shop.get_order(number)
            if order is None:
                return AccessResult(Access.NOT_FOUND, session)
            return AccessResult(Access.STAFF, session, order)
        session = _expire(session, now, self._policy.verified_for)
        bound = session.verified_customer is not None
        if not bound and identity is None and email is None and not _locked_here(session, now):
            return AccessResult(Access.NEED_EMAIL, session)  # nothing to check yet
        subjects = _subjects(number, email)
        if locked := await self._locked(session, subjects, now):
            return locked
        order = await self._shop.get_order(number)
        if order is not None and _owned_by(order, session, email, identity):
            return AccessResult(Access.GRANTED, _bind(session, order, now), order)
        if not bound and email is None:
            # The channel identity did not match; the email may still prove ownership.
            return AccessResult(Access.NEED_EMAIL, session)
        return await self._fail(session, subjects, now, bound=bound)

    async def _locked(
        self, session: Session, subjects: tuple[str, ...], now: datetime
    ) -> AccessResult | None:
        if _locked_here(session, now):
            assert session.locked_until is not None
            return AccessResult(Access.LOCKED, session, retry_after=session.locked_until - now)
        if session.verified_customer is not None:
            return None  # a verified customer only ever reads their own orders
        since = now - self._policy.lockout
        failures = await self._ledger.count_verification_failures(subjects, since)
        if max(failures.values(), default=0) >= self._policy.max_failures:
            return AccessResult(Access.LOCKED, session, retry_after=self._policy.lockout)
        return None

    async def _fail(
        self, session: Session, subjects: tuple[str, ...], now: datetime, *, bound: bool
    ) -> AccessResult:
        await self._ledger.record_verification_failure(subjects, now)
        failures = session.failed_verifications + 1
        if failures >= self._policy.max_failures:
            locked = replace(
                session, failed_verifications=0, locked_until=now + self._policy.lockout
            )
            return AccessResult(Access.LOCKED, locked, retry_after=self._policy.lockout)
        verdict = Access.NOT_LINKED if bound else Access.DENIED
        return AccessResult(verdict, replace(session, failed_verifications=failures))


def _locked_here(session: Session, now: datetime) -> bool:
    return session.locked_until is not None and session.locked_until > now


def _subjects(number: str, email: str | None) -> tuple[str, ...]:
    """What failures are counted against: the order number, and the email tried with it (hashed:
    the ledger needs to recognise it, not to read it), so that neither guessing emails for one
    order nor guessing orders for one email gets past the limit by changing conversation.
    """
    if not email:
        return (f"order:{number}",)
    digest = hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:32]
    return (f"order:{number}", f"email:{digest}")


def _expire(session: Session, now: datetime, verified_for: timedelta) -> Session:
    """The session without its verification once it has not been used for ``verified_for``."""
    if session.verified_at is not None and now - session.verified_at > verified_for:
        return replace(session, verified_customer=None, verified_at=None)
    return session


def _owned_by(order: Order, session: Session, email: str | None, identity: Identity | None) -> bool:
    customer = order.customer
    if session.verified_customer is not None:
        # A verified conversation stays with its customer, whatever else the user types.
        return session.verified_customer == customer.id
    if identity is not None:
        if identity.kind == "phone" and _same_phone(identity.value, customer.phone):
            return True
        if identity.kind == "email" and _same_email(identity.value, customer.email):
            return True
    return _same_email(email, customer.email)


def _bind(session: Session, order: Order, now: datetime) -> Session:
    return replace(
        session,
        verified_customer=order.customer.id,
        verified_at=now,
        failed_verifications=0,
        locked_until=None,
    )


def _same_email(a: str | None, b: str | None) -> bool:
    return bool(a and b and a.strip().lower() == b.strip().lower())


def _same_phone(a: str | None, b: str | None) -> bool:
    return bool(a and b and _digits(a) == _digits(b))


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())
