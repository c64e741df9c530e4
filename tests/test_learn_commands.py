"""``shopbot learn mine | review | export`` as a shop owner runs them: real subprocesses on the
databases a runtime (the real engine) wrote."""

from __future__ import annotations

import json
from pathlib import Path

from core.learning.export import fine_tuning_record
from core.learning.types import Example
from core.types import utcnow
from shopbot.app import Runtime
from tests.core.learning.conversations import converse
from tests.shopbot_cli import run_shopbot


def _shopbot(runtime: Runtime, *args: str, stdin: str = "", **env: str) -> str:
    return run_shopbot(runtime.settings, *args, stdin=stdin, env=env)


async def _three_candidates(runtime: Runtime) -> None:
    await converse(runtime, "a", ["the box i paid for is nowhere to be seen", "where is my order"])
    await converse(runtime, "b", ["oi where's me stuff mate", "where is my order"])
    await converse(runtime, "c", ["parcel never came mate", "where is my order"])
    await converse(runtime, "d", ["asdf qwer zxcv", "where is my order"])


async def test_mine_prints_a_summary_and_stores_once(runtime: Runtime) -> None:
    await _three_candidates(runtime)
    # A customer writing right now may yet rephrase: left for a later run, and said so.
    await converse(runtime, "now", ["parcel never showed", "where is my order"], start=utcnow())
    first = _shopbot(runtime, "learn", "mine")
    second = _shopbot(runtime, "learn", "mine")
    assert "Read 4 conversation(s): 4 candidate(s) found, 1 dropped (gibberish 1)" in first
    assert "3 stored, 0 auto-accepted." in first
    assert "1 conversation(s) still going on" in first and "left for the next run" in first
    assert "0 stored" in second
    assert len(await runtime.store.candidates("pending")) == 3


async def test_mine_auto_accepts_above_the_configured_score(runtime: Runtime) -> None:
    await _three_candidates(runtime)
    out = _shopbot(runtime, "learn", "mine", SHOPBOT_LEARNING_AUTO_ACCEPT_SCORE="0.0")
    assert "3 stored, 3 auto-accepted." in out
    assert len(await runtime.store.accepted_examples()) == 3


async def test_mine_auto_accepts_only_its_own_new_candidates(runtime: Runtime) -> None:
    await _three_candidates(runtime)
    _shopbot(runtime, "learn", "mine")  # no rule yet: three candidates wait for a reviewer
    await converse(runtime, "e", ["where's me parcel gone mate", "where is my order"])

    out = _shopbot(runtime, "learn", "mine", SHOPBOT_LEARNING_AUTO_ACCEPT_SCORE="0.0")

    assert "1 stored, 1 auto-accepted." in out
    [accepted] = await runtime.store.candidates("accepted")
    assert accepted.text == "where's me parcel gone mate"
    assert len(await runtime.store.candidates("pending")) == 3


async def test_review_from_a_pipe_accepts_rejects_and_relabels(runtime: Runtime) -> None:
    await _three_candidates(runtime)
    _shopbot(runtime, "learn", "mine")
    pending = await runtime.store.candidates("pending")
    # Shown best-scored first.
    first, second, third = sorted(pending, key=lambda c: (-c.score, c.id))
    assert first.score >= second.score >= third.score

    out = _shopbot(runtime, "learn", "review", stdin="a\nx\nr\nl\nnonsense\nreturn_policy\n")

    assert out.index(first.text) < out.index(second.text) < out.index(third.text)
    assert "proposed intent: order_status" in out
    assert "successful phrasing: 'where is my order'" in out
    assert "Please answer a, r, l, s or q." in out and "No intent 'nonsense'." in out
    assert "Reviewed: 1 accepted, 1 rejected, 1 relabelled, 0 skipped" in out
    statuses = {c.id: (c.status, c.intent) for c in await runtime.store.candidates()}
    assert statuses == {
        first.id: ("accepted", "order_status"),
        second.id: ("rejected", "order_status"),
        third.id: ("accepted", "return_policy"),
    }


async def test_review_can_mark_a_candidate_as_something_the_bot_should_not_understand(
    runtime: Runtime,
) -> None:
    await _three_candidates(runtime)
    _shopbot(runtime, "learn", "mine")
    out = _shopbot(runtime, "learn", "review", stdin="l\n0\nl\nunknown\nq\n")
    assert "0) unknown  1) " in out
    assert "Reviewed: 0 accepted, 0 rejected, 2 relabelled, 0 skipped" in out
    assert [e.intent for e in await runtime.store.accepted_examples()] == ["unknown"] * 2


async def test_review_stops_at_quit_and_auto_applies_only_the_rule(runtime: Runtime) -> None:
    await _three_candidates(runtime)
    _shopbot(runtime, "learn", "mine")
    out = _shopbot(runtime, "learn", "review", stdin="s\nq\n")
    assert "Reviewed: 0 accepted, 0 rejected, 0 relabelled, 1 skipped" in out
    assert len(await runtime.store.candidates("pending")) == 3

    unset = _shopbot(runtime, "learn", "review", "--auto")
    assert "not set" in unset
    out = _shopbot(runtime, "learn", "review", "--auto", SHOPBOT_LEARNING_AUTO_ACCEPT_SCORE="0")
    assert "Auto-accepted 3 candidate(s)" in out


async def test_export_writes_accepted_and_logged_examples(runtime: Runtime, tmp_path: Path) -> None:
    await _three_candidates(runtime)
    await converse(runtime, "e", ["my name is Ann Lee, what is your refund policy"])
    _shopbot(runtime, "learn", "mine", SHOPBOT_LEARNING_AUTO_ACCEPT_SCORE="0")

    plain = [
        json.loads(line)
        for line in _shopbot(runtime, "learn", "export", "--format", "jsonl").splitlines()
    ]
    assert {
        "text": "oi where's me stuff mate",
        "intent": "order_status",
        "source": "accepted",
    } in plain
    assert {"text": "where is my order", "intent": "order_status", "source": "logged"} in plain
    assert {
        "text": "my name is <name>, what is your refund policy",
        "intent": "return_policy",
        "source": "logged",
    } in plain
    assert all("Ann" not in r["text"] for r in plain)
    assert len(plain) == len({r["text"] for r in plain})

    output = tmp_path / "train.jsonl"
    _shopbot(runtime, "learn", "export", "--format", "openai", "--output", str(output))
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(records) == len(plain)
    for record in records:
        system, user, assistant = record["messages"]
        assert (system["role"], user["role"], assistant["role"]) == ("system", "user", "assistant")
        assert "order_status" in system["content"]
        answer = json.loads(assistant["content"])
        assert set(answer) == {"intent", "order_number", "email", "phone", "product", "problem"}
        assert answer["intent"] in runtime.training_data.intents
    assert any("oi where's me stuff mate" in r["messages"][1]["content"] for r in records)
    users = " ".join(r["messages"][1]["content"] for r in records)
    assert "<name>" not in users and "\u2039name>" not in users  # stand-ins, never placeholders
    assert "my name is Sam Taylor, what is your refund policy" in users
    assert "Ann" not in users


def test_fine_tuning_answers_hold_the_details_the_text_gives() -> None:
    example = Example("order <number> never came, email me at <email>", "order_status")
    messages = fine_tuning_record(example, "system", lambda text: text)["messages"]
    assert isinstance(messages, list)
    user, answer = messages[1]["content"], messages[2]["content"]
    assert user == "order 10231 never came, email me at customer@example.com"
    assert json.loads(answer) == {
        "intent": "order_status",
        "order_number": "10231",
        "email": "customer@example.com",
        "phone": None,
        "product": None,
        "problem": None,
    }
    other = fine_tuning_record(Example("I want <number> lamps", "product_info"), "s", str)
    assert isinstance(other["messages"], list)
    assert json.loads(other["messages"][2]["content"])["order_number"] is None
