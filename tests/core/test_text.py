"""Text hygiene and splitting long replies at natural boundaries."""

import pytest

from core.text import clean_text, split_message


def test_clean_text_strips_controls_and_folds_spaces() -> None:
    assert clean_text("  where\x00 is\u200b my   order\x1b?\n ") == "where is my order?"
    assert clean_text("order \uff11\uff10\uff10\uff13") == "order 1003"  # full-width digits


def test_a_short_message_is_one_part() -> None:
    assert split_message("Hello there.", 4096) == ["Hello there."]
    assert split_message("", 10) == [""]


def test_parts_respect_the_limit_and_cut_at_sentences() -> None:
    text = "First sentence here. Second one is a bit longer. Third."
    parts = split_message(text, 30)
    assert all(len(part) <= 30 for part in parts)
    assert parts == ["First sentence here.", "Second one is a bit longer.", "Third."]


def test_lines_and_paragraphs_are_preferred_cut_points() -> None:
    steps = "\n".join(f"{n}. Do step number {n} carefully." for n in range(1, 40))
    parts = split_message(steps, 200)
    assert all(len(part) <= 200 for part in parts)
    assert all(part.split("\n")[0].split(".")[0].isdigit() for part in parts)  # whole lines
    assert "\n".join(parts) == steps


def test_a_word_longer_than_the_limit_is_cut_inside() -> None:
    parts = split_message("x" * 25, 10)
    assert parts == ["x" * 10, "x" * 10, "x" * 5]


@pytest.mark.parametrize("limit", [1, 7, 50, 1600, 4096])
def test_no_text_is_lost(limit: int) -> None:
    text = ("Your order #1002 shipped with UPS. Tracking 1Z999AA10123456784! " * 120).strip()
    parts = split_message(text, limit)
    assert all(0 < len(part) <= limit for part in parts)
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        split_message("hi", 0)
