import datetime as dt

from sqlalchemy import func, select

from bot import db
from bot.domain.model import Customer, Instalment, Loan
from bot.seed import load_synthetic
from bot.services.loans import account_overview
from bot.unit_of_work import SqlAlchemyUnitOfWork


def test_synthetic_books_load_in_bulk_and_are_readable_through_the_services(sqlite_url, today):
    with db.session_factory(sqlite_url)() as session:
        assert load_synthetic(session, 300, today) == 300
        assert session.execute(select(func.count()).select_from(Customer)).scalar_one() == 306
        loans = session.execute(select(func.count()).select_from(Loan).where(Loan.id.like("SL%"))).scalar_one()
        instalments = session.execute(
            select(func.count()).select_from(Instalment).where(Instalment.loan_id.like("SL%"))
        ).scalar_one()
    assert instalments == 12 * loans
    o = account_overview(lambda: SqlAlchemyUnitOfWork(sqlite_url), "S0000042", today)
    assert o.customer.customer_id == "S0000042"
    assert all(item.due_date < today for item in o.position.items)
    assert isinstance(today, dt.date)
