"""`python -m bot notices simulate`: the real rules over a synthetic book, reproducible, within the caps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from bot.simulate import simulate

ROOT = Path(__file__).resolve().parents[2]
START = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def current():
    return simulate(ROOT / "config" / "notice_policy.yml", 120, 14, START)


def test_the_same_book_and_draws_give_the_same_figures(current) -> None:
    again = simulate(ROOT / "config" / "notice_policy.yml", 120, 14, START)
    assert again.as_dict() == current.as_dict()
    assert current.notices > 0 and current.fell_overdue > 0 and len(current.daily_notices) == 14


def test_the_rules_hold_back_the_late_run_and_keep_every_cap(current) -> None:
    policy = yaml.safe_load((ROOT / "config" / "notice_policy.yml").read_text(encoding="utf-8"))
    assert current.held["quiet_hours"] > 0  # the 22:30 run sends nothing
    assert current.held["cadence"] > 0
    # In 14 days one customer can get at most the weekly cap twice over.
    assert current.per_customer_max <= 2 * policy["max_notices_per_phone_per_week"]
    assert sum(current.by_channel.values()) == current.notices
    assert current.calls == current.by_channel["call"] == current.by_template["call_overdue"] > 0
    assert current.by_channel["in_app"] > 0 and current.by_channel["sms"] > 0
    assert current.held["call_customer_asked_no_calls"] > 0  # the assumed preferences are respected
    assert sum(current.by_template.values()) == current.notices


def test_a_stricter_policy_on_the_same_book_sends_fewer_notices(current, tmp_path) -> None:
    policy = yaml.safe_load((ROOT / "config" / "notice_policy.yml").read_text(encoding="utf-8"))
    strict = tmp_path / "strict.yml"
    strict.write_text(yaml.safe_dump({**policy, "max_notices_per_instalment": 1}), encoding="utf-8")
    fewer = simulate(strict, 120, 14, START)
    assert fewer.notices < current.notices and fewer.held["cap_per_instalment"] > current.held["cap_per_instalment"]
    assert fewer.fell_overdue == current.fell_overdue  # the same instalments fell due and were missed


def test_the_command_refuses_bad_input(capsys) -> None:
    from bot.__main__ import main

    assert main(["notices", "simulate", "--customers", "0"]) == 2
    assert "--customers must be" in capsys.readouterr().err
    assert main(["notices", "simulate", "--compare", "no/such/policy.yml", "--customers", "5"]) == 2
    assert "no policy file no/such/policy.yml" in capsys.readouterr().err
