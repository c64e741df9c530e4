"""Who may read which order: the one place where customer verification is decided.

Every CRM adapter goes through this check; it is code, never a prompt. A conversation proves it
belongs to a customer with an order number plus the email on that order, or with a channel
identity (e.g. the phone number an SMS came from) that matches the order. Once verified, the
conversation is bound to that customer and can read that customer's orders only.

A wrong email and a non-existent order get the same answer, so the bot cannot be used to find
out which order numbers exist. Repeated failures lock lookups for a while.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from core.ports import ShopBackend
from core.session import Session
from core.shop import Order
from core.types import Identity

__all__ = ["Access", "AccessResult", "Verifier"]


class Access(StrEnum):
    GRANTED = "granted"
    NEED_EMAIL = "need_email"
    DENIED = "denied"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class AccessResult:
    """The verdict, the session as it must be stored afterwards, and the order when granted."""

    access: Access
    session: Session
    order: Order | None = None
    retry_after: timedelta | None = None


class Verifier:
    """Decides whether a conversation may see an order, counting failures and locking out."""

    def __init__(self, shop: ShopBackend, *, max_failures: int, lockout: timedelta) -> None:
        self._shop = shop
        self._max_failures = max_failures
        self._lockout = lockout

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
        channel itself vouches for.
        """
        if session.locked_until is not None and session.locked_until > now:
            return AccessResult(Access.LOCKED, session, retry_after=session.locked_until - now)
        bound = session.verified_email is not None or session.verified_phone is not None
        if not bound and identity is None and email is None:
            return AccessResult(Access.NEED_EMAIL, session)
        order = await self._shop.get_order(number)
        if order is not None and _owned_by(order, session, email, identity, bound):
            return AccessResult(Access.GRANTED, _bind(session, order), order)
        if not bound and email is None:
            # The channel identity did not match; the email may still prove ownership.
            return AccessResult(Access.NEED_EMAIL, session)
        return self._fail(session, now)

    def _fail(self, session: Session, now: datetime) -> AccessResult:
        failures = session.failed_verifications + 1
        if failures >= self._max_failures:
            locked = replace(session, failed_verifications=0, locked_until=now + self._lockout)
            return AccessResult(Access.LOCKED, locked, retry_after=self._lockout)
        return AccessResult(Access.DENIED, replace(session, failed_verifications=failures))


def _owned_by(
    order: Order, session: Session, email: str | None, identity: Identity | None, bound: bool
) -> bool:
    customer = order.customer
    if bound:
        # A verified conversation stays with its customer, whatever else the user types.
        return _same_email(session.verified_email, customer.email) or _same_phone(
            session.verified_phone, customer.phone
        )
    if identity is not None:
        if identity.kind == "phone" and _same_phone(identity.value, customer.phone):
            return True
        if identity.kind == "email" and _same_email(identity.value, customer.email):
            return True
    return _same_email(email, customer.email)


def _bind(session: Session, order: Order) -> Session:
    if session.verified_email or session.verified_phone:
        return replace(session, failed_verifications=0)
    return replace(
        session,
        verified_email=order.customer.email.lower(),
        verified_phone=order.customer.phone,
        failed_verifications=0,
        locked_until=None,
    )


def _same_email(a: str | None, b: str | None) -> bool:
    return bool(a and b and a.strip().lower() == b.strip().lower())


def _same_phone(a: str | None, b: str | None) -> bool:
    return bool(a and b and _digits(a) == _digits(b))


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())
