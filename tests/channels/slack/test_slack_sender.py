"""Replies sent with the real slack_sdk to the fake Web API: blocks, escaping, splitting,
errors mapped for the dispatcher, and ``shopbot channels check``."""

from __future__ import annotations

import pytest

from channels.slack import SlackChannel
from channels.slack_messages import CAPABILITIES, escape
from core.delivery import OutboundMessage, outbound_messages
from core.errors import ChannelAuthError, ChannelError, ChannelRateLimited
from core.types import Reply
from tests.channels.slack.conftest import STAFF_TEAM
from tests.channels.slack.fake_slack import SIGNING_SECRET, FakeSlack


def _channel(fake: FakeSlack, token: str = "xoxb-test") -> SlackChannel:
    return SlackChannel(
        bot_token=token,
        signing_secret=SIGNING_SECRET,
        api_url=fake.url + "/api/",
        staff_teams=frozenset({STAFF_TEAM}),
    )


def _sections(post: dict[str, object]) -> list[str]:
    blocks = post["blocks"]
    assert isinstance(blocks, list)
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


async def test_user_markup_cannot_ping_or_link(fake_slack: FakeSlack) -> None:
    sender = _channel(fake_slack).sender
    text = "Hi <!channel> & <@U0BOSS> see <https://evil.example|your order>"
    await sender.send(
        OutboundMessage("slack", "D0AGENT", text, quick_replies=("<!here> now", "Fine & dandy"))
    )
    (post,) = fake_slack.posts
    expected = (
        "Hi &lt;!channel&gt; &amp; &lt;@U0BOSS&gt; see &lt;https://evil.example|your order&gt;"
    )
    assert post["text"] == expected and _sections(post) == [expected]
    assert "<" not in str(post["blocks"]).replace("'<!here> now'", "")  # only the button's value
    (actions,) = [b for b in post["blocks"] if b["type"] == "actions"]
    assert [e["text"]["type"] for e in actions["elements"]] == ["plain_text", "plain_text"]
    assert escape("a<b>&c") == "a&lt;b&gt;&amp;c"


async def test_a_long_reply_is_split_into_messages_slack_accepts(fake_slack: FakeSlack) -> None:
    sender = _channel(fake_slack).sender
    long_text = " ".join(f"step{n} & more" for n in range(700))  # ~9,000 chars, & escapes to 5
    messages = outbound_messages(
        [Reply(long_text, ("Yes", "No"))],
        CAPABILITIES,
        channel="slack",
        recipient="C0SUPPORT",
        thread="10.5",
    )
    assert len(messages) > 2
    for message in messages:
        await sender.send(message)
    assert len(fake_slack.accepted_posts) == len(messages)
    for post in fake_slack.posts:
        assert post["thread_ts"] == "10.5"
        assert all(len(section) <= 3000 for section in _sections(post))
    joined = " ".join(" ".join(_sections(post)) for post in fake_slack.posts)
    assert joined.replace("&amp;", "&").split() == long_text.split()
    with_buttons = [p for p in fake_slack.posts if any(b["type"] == "actions" for b in p["blocks"])]
    assert with_buttons == [fake_slack.posts[-1]]  # the buttons come with the last part


async def test_escaping_never_pushes_a_section_over_the_limit(fake_slack: FakeSlack) -> None:
    await _channel(fake_slack).sender.send(OutboundMessage("slack", "D0AGENT", "&" * 3000))
    (post,) = fake_slack.accepted_posts
    assert [len(s) for s in _sections(post)] == [3000, 3000, 3000, 3000, 3000]


async def test_slack_refusals_are_mapped_for_the_dispatcher(fake_slack: FakeSlack) -> None:
    sender = _channel(fake_slack).sender
    message = OutboundMessage("slack", "D0AGENT", "hello")
    fake_slack.answer_next_post("429", retry_after=7)
    with pytest.raises(ChannelRateLimited) as limited:
        await sender.send(message)
    assert limited.value.retry_after == 7
    fake_slack.answer_next_post("500")
    with pytest.raises(ChannelError) as outage:
        await sender.send(message)
    assert not isinstance(outage.value, (ChannelAuthError, ChannelRateLimited))
    for refusal in ("invalid_auth", "channel_not_found", "not_in_channel"):
        fake_slack.answer_next_post(refusal)
        with pytest.raises(ChannelAuthError, match=refusal):
            await sender.send(message)
    assert len(fake_slack.posts) == 5  # slack_sdk retried nothing by itself
    await sender.send(message)
    assert len(fake_slack.accepted_posts) == 1


async def test_an_unreachable_slack_is_worth_retrying(fake_slack: FakeSlack) -> None:
    channel = _channel(fake_slack)
    await fake_slack.stop()
    with pytest.raises(ChannelError) as down:
        await channel.sender.send(OutboundMessage("slack", "D0AGENT", "hello"))
    assert not isinstance(down.value, ChannelAuthError)


async def test_check_names_the_workspace_and_the_bot(fake_slack: FakeSlack) -> None:
    assert await _channel(fake_slack).check() == "team Shop Staff (T0STAFF) as shopbot"
    with pytest.raises(ChannelAuthError, match="invalid_auth"):
        await _channel(fake_slack, token="xoxb-revoked").check()
