"""Text hygiene shared by every channel and stage."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["clean_text", "has_control_characters"]

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
