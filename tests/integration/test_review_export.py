"""`python -m bot review export`: the messages supervisors marked become a Rasa NLU file that Rasa's reader
loads, that `rasa data validate --fail-on-warnings` accepts beside the project's own data, for the bank
days asked; bad dates get a clear message and write nothing."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.services import review, staff
from bot.services.analytics_store import store_batch
from bot.services.staff import Staff
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import TODAY
from tests.integration.conftest import ROOT
from tests.services.test_review import Chat, bank

DAY = TODAY - dt.timedelta(days=1)
SUE = Staff("sue", "supervisor")
INTENTS = review.domain_intents(ROOT / "domain")
MARKED = {
    # What customers typed that the assistant got wrong, and what it should have been.
    "能帮我开一张储蓄卡吗 key: value # 不是注释": "out_of_scope",
    'she said "pay now" or [else](threat)': "complain",
    "我已经还了钱 为啥还发短信\n谢谢": "already_repaid",
}


def export(database_url: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "BOT_TODAY": TODAY.isoformat()}
    return subprocess.run(
        [sys.executable, "-m", "bot", "review", "export", "--out", str(out), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture
def marked(sqlite_url: str) -> str:
    """Three messages of a visitor's session on DAY marked by sue: two on DAY at 18:00, one the day before."""
    factory = lambda: SqlAlchemyUnitOfWork(sqlite_url)  # noqa: E731
    chat = Chat("visitor:review_cli_visitor", bank(DAY, 10, 0))
    for typed in MARKED:
        chat.user(typed, "nlu_fallback", 0.2).bot("Sorry?")
    store_batch(factory, chat.events, "sql", dt.datetime.combine(DAY, dt.time(12, 0)))
    key = review.list_sessions(
        factory, review.ReviewFilter(DAY, DAY), "Asia/Shanghai", dt.datetime.combine(TODAY, dt.time()), dt.timedelta(hours=1)
    ).items[0].key  # fmt: skip
    turns = [t for t in review.session_detail(factory, key, "Asia/Shanghai", dt.datetime.combine(TODAY, dt.time()),
                                              dt.timedelta(hours=1)).turns if t.kind == "user"]  # fmt: skip
    for k, (turn, intent) in enumerate(zip(turns, MARKED.values(), strict=True)):
        at = dt.datetime.combine(DAY - dt.timedelta(days=1 if k == 2 else 0), dt.time(18, 0))
        review.mark_message(factory, SUE, key, turn.event_key, intent, INTENTS, at)
    return sqlite_url


def test_the_export_is_training_data_rasa_reads_and_validates_beside_the_projects(marked: str, tmp_path: Path) -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    out = tmp_path / "review" / "marked.yml"
    done = export(marked, out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote 3 example(s) of 3 intent(s) from 3 mark(s) to {out}"
    loaded = {(m.get("text"), m.get("intent")) for m in load_data(str(out)).intent_examples}
    assert loaded == {
        ("能帮我开一张储蓄卡吗 key: value # 不是注释", "out_of_scope"),
        ('she said "pay now" or ［else］(threat)', "complain"),  # no entity annotation
        ("我已经还了钱 为啥还发短信 谢谢", "already_repaid"),  # one line
    }
    assert not list(out.parent.glob("*.partial"))
    # What `make test` runs (rasa data validate --fail-on-warnings) still passes with the file added to the data.
    validated = subprocess.run(
        [str(Path(sys.executable).parent / "rasa"), "data", "validate", "--domain", "domain", "--data", "data",
         str(out), "--fail-on-warnings", "--quiet"],
        cwd=ROOT, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert validated.returncode == 0, validated.stdout[-3000:] + validated.stderr[-3000:]
    assert [e.detail for e in staff.audit_log(lambda: SqlAlchemyUnitOfWork(marked), 10, "review_export")] == [
        {"since": None, "until": None, "marks": 3, "examples": 3, "conflicts": 0, "unknown": []}
    ]
    assert staff.audit_log(lambda: SqlAlchemyUnitOfWork(marked), 10, "review_export")[0].username == "cli"


def test_the_export_takes_the_bank_days_the_marks_were_made_on(marked: str, tmp_path: Path) -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    out = tmp_path / "day.yml"
    done = export(marked, out, "--since", DAY.isoformat(), "--until", DAY.isoformat())
    assert done.returncode == 0, done.stderr
    assert {m.get("intent") for m in load_data(str(out)).intent_examples} == {"out_of_scope", "complain"}
    done = export(marked, out, "--since", TODAY.isoformat())
    assert done.returncode == 0 and "wrote 0 example(s)" in done.stdout
    assert out.read_text(encoding="utf-8").endswith('version: "3.1"\nnlu: []\n')


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--since", "28.11.2026"], "dates must be ISO dates like 2026-11-28"),
        (["--since", "2026-11-28", "--until", "2026-11-01"], "--until is before --since"),
    ],
)
def test_bad_dates_get_a_clear_message_and_write_nothing(
    marked: str, tmp_path: Path, extra: list[str], message: str
) -> None:
    out = tmp_path / "never.yml"
    done = export(marked, out, *extra)
    assert done.returncode == 2 and message in done.stderr and not out.exists()
