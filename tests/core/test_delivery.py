"""How the engine's replies become the messages a platform is sent."""

from __future__ import annotations

from core.delivery import Capabilities, outbound_messages
from core.options import pick_option
from core.types import Reply

_CHOICES = ("Track an order", "Return policy", "Talk to a person")


def test_quick_replies_stay_buttons_where_the_platform_has_them() -> None:
    (message,) = outbound_messages(
        [Reply("How can I help?", _CHOICES)],
        Capabilities(max_chars=4096),
        channel="telegram",
        recipient="42",
        inbound_id="7",
    )
    assert message.text == "How can I help?"
    assert message.quick_replies == _CHOICES
    assert (message.channel, message.recipient, message.inbound_id) == ("telegram", "42", "7")


def test_without_buttons_quick_replies_become_numbered_options_the_user_can_answer() -> None:
    (message,) = outbound_messages(
        [Reply("How can I help?", _CHOICES)],
        Capabilities(max_chars=1600, buttons=False),
        channel="twilio",
        recipient="+15550001111",
    )
    assert message.quick_replies == ()
    assert "2. Return policy" in message.text
    assert pick_option("2", _CHOICES) == "Return policy"


def test_a_long_reply_is_split_at_sentences_and_the_buttons_go_with_the_last_part() -> None:
    sentence = "Your parcel left our warehouse this morning and is on its way. "
    long_text = sentence * 40  # ~2,500 characters
    messages = outbound_messages(
        [Reply(long_text, ("Thanks",))],
        Capabilities(max_chars=1000),
        channel="telegram",
        recipient="42",
    )
    assert len(messages) == 3
    assert all(len(m.text) <= 1000 for m in messages)
    assert all(m.text.endswith("on its way.") for m in messages)
    assert [m.quick_replies for m in messages] == [(), (), ("Thanks",)]
    assert " ".join(m.text for m in messages) == long_text.strip()


def test_every_reply_of_a_turn_is_sent_in_order() -> None:
    messages = outbound_messages(
        [Reply("First."), Reply("Second.")],
        Capabilities(max_chars=100),
        channel="slack",
        recipient="C1",
        thread="1700000000.0001",
    )
    assert [m.text for m in messages] == ["First.", "Second."]
    assert {m.thread for m in messages} == {"1700000000.0001"}
