"""``shopbot learn train``, ``model list | promote | rollback`` and ``eval``, run as the CLI."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from core.learning.mining import MinedCandidate
from core.learning.training import is_held_out
from core.learning.types import Example, Provenance
from core.storage import SQLConversationStore
from shopbot.cli import main
from tests.core.learning.examples import GERMAN_ORDER_STATUS
from tests.core.learning.test_training import MISLABELLED_RETURNS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def config(tmp_path: Path, model_dir: Path) -> Path:
    """Settings with this test's own database and the session's cached shipped model."""
    path = tmp_path / "shopbot.yaml"
    settings = {
        "data_dir": str(model_dir),
        "storage": {"url": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"},
        "crm": {"demo_database": str(tmp_path / "shop.sqlite3")},
    }
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


def shopbot(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    status = main([*args, "--config", str(config)])
    out, err = capsys.readouterr()
    return status, out, err


def accept(tmp_path: Path, texts: list[str], intent: str) -> None:
    """Store ``texts`` as accepted candidate examples, as `learn review` leaves them."""

    async def store_them() -> None:
        store = SQLConversationStore(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
        await store.start()
        try:
            at = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
            provenance = Provenance("c1", (1,), 2, at, at)
            mined = [MinedCandidate(text, intent, 0.9, provenance) for text in texts]
            await store.add_candidates(mined)
            await store.accept_candidates(0.0)
        finally:
            await store.stop()

    asyncio.run(store_them())


def test_train_list_promote_and_rollback(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    accept(tmp_path, GERMAN_ORDER_STATUS, "order_status")
    # An intent the training file does not have (any more): not trained on, and said so.
    accept(tmp_path, ["redeem my gift card please", "what is my gift card balance"], "gift_cards")
    held = sum(is_held_out(Example(text, "order_status")) for text in GERMAN_ORDER_STATUS)
    trained = len(GERMAN_ORDER_STATUS) - held

    status, out, _ = shopbot(capsys, config, "learn", "train", "--dry-run")
    assert status == 0
    assert "Dry run: would be promoted" in out and "Nothing stored" in out
    assert "macro-F1" in out and "F1 order_status" in out
    # The hand-written set alone, beside the whole evaluation set, and both thresholds.
    hand_written = re.search(r"^macro-F1, evaluation\.yaml only +([\d.]+) +([\d.]+)", out, re.M)
    assert hand_written is not None, out
    before, after = (float(value) for value in hand_written.groups())
    assert 0.5 < before <= 1.0 and 0.5 < after <= 1.0
    assert re.search(
        r"unknown below confidence 0\.\d\d \(the shipped model\), 0\.\d\d \(new\)", out
    )
    status, out, _ = shopbot(capsys, config, "model", "list")
    assert "No model version stored yet" in out

    status, out, _ = shopbot(capsys, config, "learn", "train")
    assert status == 0, out
    assert "Stored the shipped model as v1 (active)." in out
    assert (
        f"14 accepted example(s): {trained} trained on, {held} held out for evaluation, "
        "2 skipped (intents not in the training file: gift_cards); evaluating on"
    ) in out
    assert "v2 promoted and active" in out

    status, out, _ = shopbot(capsys, config, "model", "list")
    lines = out.splitlines()
    assert lines[0].split() == [
        "version", "status", "created", "(UTC)", "examples", "accepted", "accuracy",
        "macro-F1", "OOS", "rec.",
    ]  # fmt: skip
    assert lines[1].split()[:2] == ["v1", "promoted"]
    assert lines[2].split()[:3] == ["*", "v2", "promoted"]
    assert int(lines[2].split()[6]) == trained  # accepted examples trained on

    status, out, _ = shopbot(capsys, config, "model", "rollback", "v1")
    assert status == 0 and out.startswith("v1 is now active")
    status, out, _ = shopbot(capsys, config, "model", "list")
    assert out.splitlines()[1].split()[:2] == ["*", "v1"]

    status, _, err = shopbot(capsys, config, "model", "rollback", "v2")
    assert status == 1 and "not older than the active v1" in err
    status, _, err = shopbot(capsys, config, "model", "promote", "v7")
    assert status == 1 and "there is no model version v7" in err
    status, out, _ = shopbot(capsys, config, "model", "promote", "v2")
    assert status == 0 and out.startswith("v2 is now active")

    # Nothing accepted since: no new version.
    status, out, _ = shopbot(capsys, config, "learn", "train")
    assert status == 0
    assert "Nothing new to train on: v2 (promoted) was trained on exactly these examples." in out


def test_a_rejected_version_is_not_trained_again_and_damaged_metrics_are_named(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    accept(tmp_path, MISLABELLED_RETURNS, "human_agent")
    status, out, _ = shopbot(capsys, config, "learn", "train")
    assert status == 1 and re.search(r"^v2 rejected: .*return_policy F1 fell from", out, re.M), out
    status, out, _ = shopbot(capsys, config, "learn", "train")
    assert status == 0, out
    assert "Nothing new to train on: v2 (rejected) was trained on exactly these examples." in out
    status, out, _ = shopbot(capsys, config, "model", "list")
    assert [line.split()[0] for line in out.splitlines()[1:3]] == ["*", "v2"]  # no v3

    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        db.execute("UPDATE model_versions SET metrics = '{\"count\": 3}' WHERE id = 2")
    status, out, err = shopbot(capsys, config, "model", "list")
    assert status == 1 and out == ""
    assert "model v2: its stored metrics are damaged" in err and "Traceback" not in err


def _jsonl(path: Path, rows: list[dict[str, str | None]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_eval_prints_the_scores_and_the_misses_and_draws_the_matrix(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    rows: list[dict[str, str | None]] = [
        {"text": "where is my order #4711", "intent": "order_status"},
        {"text": "wo ist mein paket bitte", "intent": "order_status"},
        {"text": "can I return these shoes", "intent": "return_policy"},
        {"text": "hello!", "intent": "greeting"},
        {"text": "what's the capital of peru", "intent": None},
    ]
    png = tmp_path / "matrix.png"
    path = _jsonl(tmp_path / "eval.jsonl", rows)
    status, out, err = shopbot(capsys, config, "eval", str(path), "--png", str(png))
    assert status == 0, out
    assert "warning" not in err
    assert "Evaluated 5 messages" in out and "with the shipped model" in out
    assert "accuracy 0.800" in out
    assert "out of scope: precision 0.500   recall 1.000   false-accept rate 0.000" in out
    assert "Misclassified: 1" in out
    assert "'wo ist mein paket bitte': expected order_status, got unknown" in out
    assert png.read_bytes().startswith(PNG_SIGNATURE)

    many = _jsonl(tmp_path / "many.jsonl", rows * 50)
    status, out, err = shopbot(capsys, config, "eval", str(many))
    assert status == 0 and "Evaluated 250 messages" in out
    assert "evaluating" in err and "250/250" in err  # the progress bar

    typo = _jsonl(tmp_path / "typo.jsonl", [{"text": "hello!", "intent": "greting"}])
    status, out, err = shopbot(capsys, config, "eval", str(typo))
    assert status == 0 and "Evaluated 1 messages" in out
    assert "the shipped model does not know the intent(s) greting of" in err


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            '{"text": "hi", "intent": "greeting"}\n{"text": "hi", "intent": ',
            "bad.jsonl:2: not valid JSON",
        ),
        ('{"text": "", "intent": "greeting"}\n', 'bad.jsonl:1: "text" must be a non-empty string'),
    ],
)
def test_eval_of_a_malformed_file_names_the_line(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    status, out, err = shopbot(capsys, config, "eval", str(path))
    assert status == 2 and problem in err and out == ""
    assert "Traceback" not in err


def test_eval_of_a_missing_file(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    status, _, err = shopbot(capsys, config, "eval", str(tmp_path / "nowhere.jsonl"))
    assert status == 2 and "nowhere.jsonl: cannot read" in err
