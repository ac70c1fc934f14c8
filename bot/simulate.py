"""`python -m bot notices simulate`: the collection rules run day by day over a synthetic book.

The book is the Faker generator's (``bot.seed.synthetic_batches``) in a throw-away SQLite database.
Every simulated day the real engine (``bot.services.notices.run_notices``) runs at 10:00 and again at
22:30 (a late run, which the quiet hours hold back), and customers pay by a **behaviour model that is
assumed, not learnt from any data**:

- each customer is drawn once as *reliable* (70 %), *sometimes late* (20 %) or *struggling* (10 %);
- on an instalment's due date they pay on time with probability 0.95 / 0.60 / 0.20;
- each later day an overdue instalment is paid with probability 0.20 / 0.08 / 0.02, plus 0.10 on the
  day after a notice about it was recorded (the notice reminds them);
- a struggling customer tells us of a hardship (vulnerability flag, with consent) on the 10th day of
  their first overdue, with probability 0.5;
- 10 % of customers (drawn once) asked for no calls and in-app messages instead of SMS (contact
  preferences, respected where the rules allow);
- an in-app message or a call works on the chance of paying like an SMS (the same 0.10): the model
  does not know whether a customer reads the app or answers the phone.

What it reports for a policy file: notices per customer by channel (SMS, in-app, call tasks) and by
template, what the rules held back by reason (caps, quiet hours, the call rules), calls placed, and how
much of what fell overdue was repaid by the end. Comparing two policy files on the same book and the same random draws
shows what a rule change would do under these assumptions, not what it will do.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from bot import db
from bot.domain.model import ContactPreference, Customer, Instalment, Loan, Repayment, SmsNotice, VulnerabilityFlag
from bot.domain.notices import NoticePolicy
from bot.migrate import upgrade
from bot.seed import load_synthetic
from bot.services.notices import run_notices
from bot.unit_of_work import SqlAlchemyUnitOfWork

KINDS = (("reliable", 0.70), ("sometimes_late", 0.20), ("struggling", 0.10))
ON_TIME = {"reliable": 0.95, "sometimes_late": 0.60, "struggling": 0.20}
DAILY = {"reliable": 0.20, "sometimes_late": 0.08, "struggling": 0.02}
NOTICE_EFFECT = 0.10
HARDSHIP_DAY, HARDSHIP_SHARE = 10, 0.5
PREFER_IN_APP_SHARE = 0.10  # asked for no calls and in-app messages instead of SMS
CHANNELS = ("sms", "in_app", "call")
RUN_TIMES = (dt.time(10, 0), dt.time(22, 30))


@dataclass
class Outcome:
    policy: str
    customers: int
    days: int
    notices: int = 0
    by_template: Counter[str] = field(default_factory=Counter)
    by_channel: Counter[str] = field(default_factory=Counter)
    held: Counter[str] = field(default_factory=Counter)
    calls: int = 0
    per_customer_max: int = 0
    customers_notified: int = 0
    fell_overdue: int = 0
    repaid: int = 0
    preferring_in_app: int = 0
    daily_notices: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "customers": self.customers,
            "days": self.days,
            "notices": self.notices,
            "notices_per_customer": round(self.notices / self.customers, 3) if self.customers else 0.0,
            "notices_per_notified_customer": round(self.notices / self.customers_notified, 2)
            if self.customers_notified
            else 0.0,
            "most_notices_to_one_customer": self.per_customer_max,
            "by_channel": {c: self.by_channel.get(c, 0) for c in CHANNELS},
            "per_notified_customer_by_channel": {
                c: round(self.by_channel.get(c, 0) / self.customers_notified, 2) if self.customers_notified else 0.0
                for c in CHANNELS
            },
            "customers_preferring_in_app": self.preferring_in_app,
            "by_template": dict(sorted(self.by_template.items())),
            "held_by_reason": dict(sorted(self.held.items())),
            "calls_placed": self.calls,
            "instalments_fell_overdue": self.fell_overdue,
            "repaid_by_the_end": self.repaid,
            "daily_notices": self.daily_notices,
        }


def simulate(policy_path: Path, customers: int, days: int, start: dt.date, seed: int = 20261202) -> Outcome:
    """Run the rules of ``policy_path`` over a fresh synthetic book for ``days`` days from ``start``."""
    policy = NoticePolicy.from_file(policy_path)
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="notice-sim-") as work:
        url = f"sqlite:///{Path(work) / 'book.db'}"
        upgrade(url)
        with db.session_factory(url)() as session:
            load_synthetic(session, customers, start)
            kinds = {
                cid: rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
                for cid in session.execute(select(Customer.id).order_by(Customer.id)).scalars()
            }
            preferring = [c for c in kinds if _draw(seed, c, "prefers_in_app") < PREFER_IN_APP_SHARE]
            at_start = dt.datetime.combine(start, dt.time(9))
            for cid in preferring:
                session.add(ContactPreference(customer_id=cid, no_calls=True, prefer="in_app", updated_at=at_start))
            session.commit()
        outcome = Outcome(policy=_shown(policy_path), customers=customers, days=days)
        outcome.preferring_in_app = len(preferring)
        uow = lambda: SqlAlchemyUnitOfWork(url)  # noqa: E731
        notified_yesterday: set[int] = set()
        overdue_since: dict[int, dt.date] = {}
        flagged: set[str] = set()
        for offset in range(days):
            day = start + dt.timedelta(days=offset)
            _customers_pay(url, seed, kinds, day, notified_yesterday, overdue_since, outcome, flagged)
            recorded_today: set[int] = set()
            for run_at in RUN_TIMES:
                report = run_notices(uow, None, dt.datetime.combine(day, run_at), policy=policy)
                for reason, n in report.skipped.items():
                    if reason != "already_recorded_today":
                        outcome.held[reason] += n
                for judged in report.judged:
                    for decision in (judged.decision, judged.call):
                        if decision is not None and decision.send and decision.template:
                            outcome.by_template[decision.template] += 1
            with db.session_factory(url)() as session:
                rows = session.execute(
                    select(SmsNotice.instalment_id).where(
                        SmsNotice.idempotency_key.is_not(None),
                        SmsNotice.sent_at >= dt.datetime.combine(day, dt.time()),
                        SmsNotice.sent_at < dt.datetime.combine(day + dt.timedelta(days=1), dt.time()),
                    )
                ).scalars()
                recorded_today = {i for i in rows if i is not None}
            outcome.daily_notices.append(len(recorded_today))
            notified_yesterday = recorded_today
        with db.session_factory(url)() as session:
            since = dt.datetime.combine(start, dt.time())
            # what the engine recorded (the generator's own notice log has no idempotency key)
            recorded = session.execute(
                select(SmsNotice.customer_id, SmsNotice.channel).where(
                    SmsNotice.sent_at >= since, SmsNotice.idempotency_key.is_not(None)
                )
            ).all()
        db.dispose_all()
    per_customer = Counter(c for c, _ in recorded)
    outcome.by_channel = Counter(str(ch) for _, ch in recorded)
    outcome.calls = outcome.by_channel["call"]
    outcome.notices = sum(per_customer.values())
    outcome.customers_notified = len(per_customer)
    outcome.per_customer_max = max(per_customer.values(), default=0)
    return outcome


def _shown(path: Path) -> str:
    from bot.settings import REPO_ROOT

    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _draw(seed: int, *key: object) -> float:
    return random.Random("|".join(str(k) for k in (seed, *key))).random()


def _customers_pay(
    url: str,
    seed: int,
    kinds: dict[str, str],
    day: dt.date,
    notified_yesterday: set[int],
    overdue_since: dict[int, dt.date],
    outcome: Outcome,
    flagged: set[str],
) -> None:
    """One day of the behaviour model: who pays what (before the day's 10:00 run)."""
    with db.session_factory(url)() as session:
        unpaid = session.execute(
            select(Instalment.id, Instalment.loan_id, Instalment.due_date, Instalment.amount, Loan.customer_id)
            .join(Loan, Loan.id == Instalment.loan_id)
            .where(Instalment.paid_at.is_(None), Instalment.status == "scheduled", Instalment.due_date <= day)
            .order_by(Instalment.id)
        ).all()
        for instalment_id, loan_id, due_date, amount, customer_id in unpaid:
            kind = kinds[customer_id]
            if due_date == day:
                chance = ON_TIME[kind]
            else:
                if instalment_id not in overdue_since:
                    overdue_since[instalment_id] = due_date + dt.timedelta(days=1)
                    outcome.fell_overdue += 1
                chance = DAILY[kind] + (NOTICE_EFFECT if instalment_id in notified_yesterday else 0.0)
                late_days = (day - overdue_since[instalment_id]).days
                if kind == "struggling" and late_days == HARDSHIP_DAY and customer_id not in flagged:
                    flagged.add(customer_id)
                    if _draw(seed, customer_id, "hardship") < HARDSHIP_SHARE:
                        session.add(
                            VulnerabilityFlag(
                                customer_id=customer_id,
                                conversation_id=f"customer:{customer_id}",
                                reason="hardship",
                                consent_at=dt.datetime.combine(day, dt.time(9)),
                                created_at=dt.datetime.combine(day, dt.time(9)),
                            )
                        )
            # One draw per instalment and day, the same whichever policy runs: a comparison differs
            # only where the policy's notices change the chances.
            if _draw(seed, instalment_id, day) >= chance:
                continue
            paid_at = dt.datetime.combine(day, dt.time(8, 30) if due_date == day else dt.time(9, 0))
            session.execute(update(Instalment).where(Instalment.id == instalment_id).values(paid_at=paid_at))
            session.add(
                Repayment(
                    loan_id=loan_id,
                    instalment_id=instalment_id,
                    amount=amount,
                    channel="app",
                    paid_at=paid_at,
                    posted_at=paid_at,
                )
            )
            if instalment_id in overdue_since:
                outcome.repaid += 1
        session.commit()


def render(outcomes: list[Outcome], command: str) -> str:
    """The comparison as markdown (bench/notice_simulation.md)."""
    lines = [
        "# Notice policy simulation",
        "",
        f"`{command}`. The behaviour model is **assumed, not learnt** (`bot/simulate.py`): reliable, "
        "sometimes-late and struggling customers (70/20/10 %) who pay on time with probability "
        "0.95/0.60/0.20, then each day with 0.20/0.08/0.02, plus 0.10 the day after a notice; half the "
        "struggling tell us of a hardship on their 10th day overdue; 10 % asked for no calls and in-app "
        "messages instead of SMS; an in-app message or a call helps like an SMS. The engine runs at 10:00 "
        "and 22:30 every day (calls only on working days, 09:00-18:00 by the shipped policy).",
        "",
        "| policy | notices | per customer | per notified customer | most to one customer | calls | fell overdue | repaid by the end |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for o in outcomes:
        d = o.as_dict()
        lines.append(
            f"| {o.policy} | {o.notices} | {d['notices_per_customer']} | {d['notices_per_notified_customer']} | "
            f"{o.per_customer_max} | {o.calls} | {o.fell_overdue} | {o.repaid} "
            f"({o.repaid / o.fell_overdue:.0%}) |"
            if o.fell_overdue
            else f"| {o.policy} | {o.notices} | {d['notices_per_customer']} | - | {o.per_customer_max} | {o.calls} | 0 | 0 |"
        )
    lines += [
        "",
        "Notices by channel (in brackets: per notified customer):",
        "",
        "| channel | " + " | ".join(o.policy for o in outcomes) + " |",
    ]
    lines.append("| --- |" + " --- |" * len(outcomes))
    for c in CHANNELS:
        cells = [f"{o.by_channel.get(c, 0)} ({o.as_dict()['per_notified_customer_by_channel'][c]})" for o in outcomes]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    reasons = sorted({r for o in outcomes for r in o.held})
    lines += [
        "",
        "Held back by the rules (instalment-runs; `call_*` are the call rules, the rest hold every channel):",
        "",
        "| reason | " + " | ".join(o.policy for o in outcomes) + " |",
    ]
    lines.append("| --- |" + " --- |" * len(outcomes))
    for reason in reasons:
        lines.append(f"| {reason} | " + " | ".join(str(o.held.get(reason, 0)) for o in outcomes) + " |")
    templates = sorted({t for o in outcomes for t in o.by_template})
    lines += [
        "",
        "Notices by template (tone, chosen by segment):",
        "",
        "| template | " + " | ".join(o.policy for o in outcomes) + " |",
    ]
    lines.append("| --- |" + " --- |" * len(outcomes))
    for t in templates:
        lines.append(f"| {t} | " + " | ".join(str(o.by_template.get(t, 0)) for o in outcomes) + " |")
    lines += [
        "",
        f"Customers who asked for no calls and in-app messages (assumed): {outcomes[0].preferring_in_app if outcomes else 0}.",
        "",
        "![notices per day](notice_simulation.png)",
    ]
    return "\n".join(lines) + "\n"


def plot(outcomes: list[Outcome], path: Path) -> None:
    """Notices per day by policy, and the notices of the whole run by channel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (days, channels) = plt.subplots(1, 2, figsize=(11, 3.8), dpi=90, gridspec_kw={"width_ratios": [2, 1]})
    for o in outcomes:
        days.plot(range(1, len(o.daily_notices) + 1), o.daily_notices, label=Path(o.policy).name)
    days.set(xlabel="day", ylabel="instalments notified that day", title="Notices per day (assumed behaviour)")
    days.legend(fontsize=8)
    width = 0.8 / max(1, len(outcomes))
    for k, o in enumerate(outcomes):
        xs = [i + k * width for i in range(len(CHANNELS))]
        channels.bar(xs, [o.by_channel.get(c, 0) for c in CHANNELS], width, label=Path(o.policy).name)
    channels.set_xticks([i + width * (len(outcomes) - 1) / 2 for i in range(len(CHANNELS))], list(CHANNELS))
    channels.set(ylabel="notices in the run", title="By channel")
    channels.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
