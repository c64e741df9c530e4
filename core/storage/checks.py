"""Checks that text can be stored the same way on every supported database."""

from __future__ import annotations

from core.errors import StorageError

__all__ = ["require_storable"]


def require_storable(name: str, value: str | None) -> None:
    """Refuse text every supported database would not store as given.

    PostgreSQL rejects NUL in text and no driver can encode a lone surrogate (valid in JSON
    input). Refusing on every backend keeps behaviour the same on SQLite, and stripping instead
    would silently merge user ids such as ``"alice\\x00"`` into ``"alice"``.
    """
    if value is None:
        return
    if "\x00" in value:
        raise StorageError(f"{name} contains a NUL character, which cannot be stored")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise StorageError(f"{name} is not valid Unicode text") from exc
