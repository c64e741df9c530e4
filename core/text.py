"""Text hygiene shared by every channel and stage."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["clean_text", "has_control_characters", "split_message"]

# Control and format characters (C0/C1, zero-width, bidi overrides) except newline and tab, and
# lone UTF-16 surrogates, which JSON can smuggle in ("\ud800") and no database accepts.
_UNWANTED = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ud800-\udfff]"
)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_SPACES = re.compile(r"[ \t]+")


def clean_text(text: str) -> str:
    """``text`` in NFKC form (full-width digits become ASCII digits) without control
    characters, runs of spaces folded, ends trimmed."""
    text = unicodedata.normalize("NFKC", text)
    text = _UNWANTED.sub("", text)
    return _SPACES.sub(" ", text).strip()


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a control character or a lone surrogate (identifiers must not)."""
    return _CONTROL.search(text) is not None


_BREAKS = ("\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " ")


def split_message(text: str, limit: int) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, for platforms that cap a message
    (Telegram 4,096, Twilio 1,600): cut at the last paragraph, line, sentence, clause or word
    boundary that fits, and only inside a word when a single word is longer than ``limit``.
    The parts, joined, hold every character of the text except the whitespace at the cuts.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut_point(rest, limit)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


def _cut_point(text: str, limit: int) -> int:
    window = text[: limit + 1]
    for separator in _BREAKS:
        # Keep the punctuation of a sentence with the part it ends.
        position = window.rfind(separator, 0, limit + 1 - len(separator.rstrip()))
        if position > 0:
            return position + len(separator.rstrip())
    return limit
