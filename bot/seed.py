"""Demo data of CONTRACTS section 5, laid out relative to today, and synthetic books for benchmarks."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot.domain.model import Customer, Instalment, Loan, Repayment, SmsNotice

D = Decimal
DEMO_CUSTOMER_IDS = ("C1001", "C1002", "C1003", "C1004", "C1005", "C1006")
RECYCLED_NUMBER = "13900009999"


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


def _monthly_loan(
    session: Session,
    loan_id: str,
    customer_id: str,
    principal: Decimal,
    instalment: Decimal,
    count: int,
    first_due: dt.date,
    paid_before: dt.date,
) -> list[Instalment]:
    """A loan repaid in equal monthly instalments; those due before ``paid_before`` were paid on time."""
    loan = Loan(
        id=loan_id, customer_id=customer_id, principal=principal, disbursed_on=first_due - relativedelta(months=1)
    )
    session.add(loan)
    rows = []
    for seq in range(1, count + 1):
        due = first_due + relativedelta(months=seq - 1)
        paid_at = _at(due - dt.timedelta(days=1), 20) if due < paid_before else None
        row = Instalment(loan_id=loan_id, seq=seq, due_date=due, amount=instalment, paid_at=paid_at)
        session.add(row)
        rows.append(row)
        if paid_at is not None:
            session.add(
                Repayment(
                    loan_id=loan_id,
                    instalment=row,
                    amount=instalment,
                    channel="autopay",
                    paid_at=paid_at,
                    posted_at=paid_at,
                )
            )
    session.flush()
    return rows


def _notice(
    session: Session, customer_id: str, inst: Instalment, phone: str, sent_at: dt.datetime, seq_no: int
) -> None:
    template = "overdue_first" if seq_no == 1 else "overdue_reminder"
    session.add(
        SmsNotice(
            customer_id=customer_id,
            loan_id=inst.loan_id,
            instalment_id=inst.id,
            phone=phone,
            template=template,
            reason=f"instalment {inst.seq} of {inst.loan_id} due {inst.due_date.isoformat()} unpaid",
            sent_at=sent_at,
        )
    )


def load_demo(session: Session, today: dt.date) -> bool:
    """Insert the six demo customers unless they exist. Returns True when data was inserted."""
    if session.execute(select(Customer.id).where(Customer.id.in_(DEMO_CUSTOMER_IDS))).first():
        return False
    created = _at(today - dt.timedelta(days=400), 9)
    session.add_all(
        [
            Customer(id="C1001", name="张伟", phone="13800001001", language="zh", created_at=created),
            Customer(id="C1002", name="王芳", phone="13800001002", language="zh", created_at=created),
            Customer(id="C1003", name="Li Na", phone="13800001003", language="en", created_at=created),
            Customer(id="C1004", name="陈磊", phone="13800001004", language="zh", created_at=created),
            Customer(id="C1005", name="Emily Zhou", phone="13800001005", language="en", created_at=created),
            Customer(id="C1006", name="赵强", phone="13800001006", language="zh", created_at=created),
        ]
    )
    session.flush()

    # C1001: 12 monthly instalments of 1,080.00; the one due today-12 is unpaid.
    due = today - dt.timedelta(days=12)
    rows = _monthly_loan(session, "L1001", "C1001", D("12000.00"), D("1080.00"), 12, due - relativedelta(months=3), due)
    overdue = rows[3]
    for n, days_ago in enumerate((11, 5), start=1):
        _notice(session, "C1001", overdue, "13800001001", _at(today - dt.timedelta(days=days_ago), 10), n)

    # C1002: a loan she did not take (identity misuse); one 3,000.00 instalment, 45 days overdue.
    due = today - dt.timedelta(days=45)
    rows = _monthly_loan(session, "L1002", "C1002", D("3000.00"), D("3000.00"), 1, due, due)
    for n, days_ago in enumerate(range(44, 0, -7), start=1):
        _notice(session, "C1002", rows[0], "13800001002", _at(today - dt.timedelta(days=days_ago), 10), n)

    # C1003: 2,150.00 due today-2, notice today 08:00, paid in full (with penalty) today 09:30.
    due = today - dt.timedelta(days=2)
    rows = _monthly_loan(session, "L1003", "C1003", D("24000.00"), D("2150.00"), 12, due - relativedelta(months=2), due)
    inst = rows[2]
    _notice(session, "C1003", inst, "13800001003", _at(today - dt.timedelta(days=1), 10), 1)
    _notice(session, "C1003", inst, "13800001003", _at(today, 8), 2)
    paid_at = _at(today, 9, 30)
    inst.paid_at = paid_at
    session.add(
        Repayment(
            loan_id="L1003", instalment=inst, amount=D("2152.15"), channel="app", paid_at=paid_at, posted_at=paid_at
        )
    )

    # C1004: L1004A 8,000.00 due today-95 (one bullet instalment); L1004B current.
    due = today - dt.timedelta(days=95)
    rows = _monthly_loan(session, "L1004A", "C1004", D("8000.00"), D("8000.00"), 1, due, due)
    for n, days_ago in enumerate(range(94, 0, -14), start=1):
        _notice(session, "C1004", rows[0], "13800001004", _at(today - dt.timedelta(days=days_ago), 10), n)
    next_due = today + dt.timedelta(days=9)
    _monthly_loan(
        session, "L1004B", "C1004", D("6000.00"), D("520.00"), 12, next_due - relativedelta(months=4), next_due
    )

    # C1005: one current loan, nothing overdue, never a notice.
    next_due = today + dt.timedelta(days=15)
    _monthly_loan(
        session, "L1005", "C1005", D("5000.00"), D("440.00"), 12, next_due - relativedelta(months=2), next_due
    )

    # C1006: 2,600.00 due today-20; notices went to his old, since recycled, number.
    due = today - dt.timedelta(days=20)
    rows = _monthly_loan(session, "L1006", "C1006", D("15000.00"), D("2600.00"), 6, due - relativedelta(months=1), due)
    for n, days_ago in enumerate((15, 8), start=1):
        _notice(session, "C1006", rows[1], RECYCLED_NUMBER, _at(today - dt.timedelta(days=days_ago), 10), n)
    return True


@dataclass
class Batch:
    customers: list[dict] = field(default_factory=list)
    loans: list[dict] = field(default_factory=list)
    instalments: list[dict] = field(default_factory=list)
    notices: list[dict] = field(default_factory=list)


def synthetic_batches(count: int, today: dt.date, seed: int = 7, size: int = 2000) -> Iterator[Batch]:
    """Rows for ``count`` synthetic customers (Faker, zh_CN and en), in batches of ``size``.

    About 30 % of loans have one unpaid past instalment with a first notice logged.
    """
    from faker import Faker

    fake_zh, fake_en = Faker("zh_CN"), Faker("en_US")
    fake_zh.seed_instance(seed)
    fake_en.seed_instance(seed)
    rng = random.Random(seed)
    created = _at(today - dt.timedelta(days=500), 9)
    batch = Batch()
    for k in range(count):
        cid, phone = f"S{k:07d}", f"15{k:09d}"
        zh = rng.random() < 0.8
        fake = fake_zh if zh else fake_en
        batch.customers.append(
            {"id": cid, "name": fake.name(), "phone": phone, "language": "zh" if zh else "en", "created_at": created}
        )
        for j in range(rng.choice((1, 1, 2))):
            lid = f"SL{k:07d}{j}"
            amount = D(rng.randrange(200, 5000)).quantize(D("0.01"))
            first_due = today - dt.timedelta(days=rng.randrange(0, 300))
            batch.loans.append(
                {
                    "id": lid,
                    "customer_id": cid,
                    "principal": amount * 12,
                    "disbursed_on": first_due - dt.timedelta(days=30),
                    "status": "active",
                }
            )
            overdue_seq = rng.randrange(1, 13) if rng.random() < 0.3 else None
            for seq in range(1, 13):
                due_date = first_due + dt.timedelta(days=30 * (seq - 1))
                paid = due_date < today and seq != overdue_seq
                batch.instalments.append(
                    {
                        "loan_id": lid,
                        "seq": seq,
                        "due_date": due_date,
                        "amount": amount,
                        "paid_at": _at(due_date, 8) if paid else None,
                    }
                )
                if seq == overdue_seq and due_date < today:
                    batch.notices.append(
                        {
                            "customer_id": cid,
                            "loan_id": lid,
                            "instalment_id": None,
                            "phone": phone,
                            "template": "overdue_first",
                            "reason": f"instalment {seq} of {lid} unpaid",
                            "sent_at": _at(due_date + dt.timedelta(days=1), 10),
                        }
                    )
        if len(batch.customers) >= size:
            yield batch
            batch = Batch()
    if batch.customers:
        yield batch


def load_synthetic(session: Session, count: int, today: dt.date) -> int:
    """Bulk-insert ``count`` synthetic customers with loans, instalments and notices."""
    total = 0
    for batch in synthetic_batches(count, today):
        for model, rows in (
            (Customer, batch.customers),
            (Loan, batch.loans),
            (Instalment, batch.instalments),
            (SmsNotice, batch.notices),
        ):
            if rows:
                session.execute(insert(model), rows)
        session.commit()
        total += len(batch.customers)
    return total
