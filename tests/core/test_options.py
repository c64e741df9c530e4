"""Numbered options: the one place quick replies are downgraded for channels without buttons."""

from core.options import numbered_text, pick_option
from core.types import Reply

OFFERED = ("Order status", "Product information", "Returns and refunds")


def test_numbered_text_lists_options_in_order() -> None:
    text = numbered_text(Reply("Pick a topic:", OFFERED))
    assert text.splitlines()[:4] == [
        "Pick a topic:",
        "1. Order status",
        "2. Product information",
        "3. Returns and refunds",
    ]


def test_reply_without_options_is_unchanged() -> None:
    assert numbered_text(Reply("Hello")) == "Hello"


def test_a_number_picks_the_offered_option() -> None:
    assert pick_option("2", OFFERED) == "Product information"
    assert pick_option(" 3. ", OFFERED) == "Returns and refunds"
    assert pick_option("option 1", OFFERED) == "Order status"


def test_numbers_that_are_not_choices_pass_through() -> None:
    assert pick_option("4", OFFERED) == "4"
    assert pick_option("0", OFFERED) == "0"
    assert pick_option("1003", OFFERED) == "1003"  # an order number, not option 1003
    assert pick_option("2", ()) == "2"  # nothing was offered: "2" is just text
    assert pick_option("2 stands please", OFFERED) == "2 stands please"
