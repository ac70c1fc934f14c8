"""Unit of work: one session per use case, committed explicitly, rolled back otherwise.

Services reach records only through the repositories a unit of work carries (``loans``,
``extensions``, ``cases``, ``tickets``, ``notices``, ``contact_preferences``, ``vulnerability_flags``, ``chat``, ``staff``,
``analytics``, ``reports``, ``review``); tests pass an in-memory one
(``tests/fakes.py``) through the same factory argument.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from bot import db
from bot.repository import (
    AnalyticsRecords,
    CaseRecords,
    ChatRecords,
    ContactPreferenceRecords,
    ExtensionRecords,
    LoanRecords,
    NoticeRecords,
    ReportRecords,
    ReviewRecords,
    SqlAnalyticsRecords,
    SqlCaseRecords,
    SqlChatRecords,
    SqlContactPreferenceRecords,
    SqlExtensionRecords,
    SqlLoanRecords,
    SqlNoticeRecords,
    SqlReportRecords,
    SqlReviewRecords,
    SqlStaffRecords,
    SqlTicketRecords,
    SqlVulnerabilityRecords,
    StaffRecords,
    TicketRecords,
    VulnerabilityRecords,
)


class UnitOfWork(Protocol):
    loans: LoanRecords
    extensions: ExtensionRecords
    cases: CaseRecords
    tickets: TicketRecords
    notices: NoticeRecords
    contact_preferences: ContactPreferenceRecords
    vulnerability_flags: VulnerabilityRecords
    chat: ChatRecords
    staff: StaffRecords
    analytics: AnalyticsRecords
    reports: ReportRecords
    review: ReviewRecords

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


UowFactory = Callable[[], UnitOfWork]


class SqlAlchemyUnitOfWork:
    loans: LoanRecords
    extensions: ExtensionRecords
    cases: CaseRecords
    tickets: TicketRecords
    notices: NoticeRecords
    contact_preferences: ContactPreferenceRecords
    vulnerability_flags: VulnerabilityRecords
    chat: ChatRecords
    staff: StaffRecords
    analytics: AnalyticsRecords
    reports: ReportRecords
    review: ReviewRecords

    def __init__(self, database_url: str | None = None, factory: sessionmaker[Session] | None = None) -> None:
        if factory is None:
            if database_url is None:
                from bot.settings import get_settings

                database_url = get_settings().database_url
            factory = db.session_factory(database_url)
        self._factory = factory
        self.session: Session | None = None

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        self.session = self._factory()
        self.loans = SqlLoanRecords(self.session)
        self.extensions = SqlExtensionRecords(self.session)
        self.cases = SqlCaseRecords(self.session)
        self.tickets = SqlTicketRecords(self.session)
        self.notices = SqlNoticeRecords(self.session)
        self.contact_preferences = SqlContactPreferenceRecords(self.session)
        self.vulnerability_flags = SqlVulnerabilityRecords(self.session)
        self.chat = SqlChatRecords(self.session)
        self.staff = SqlStaffRecords(self.session)
        self.analytics = SqlAnalyticsRecords(self.session)
        self.reports = SqlReportRecords(self.session)
        self.review = SqlReviewRecords(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self.session is not None
        try:
            self.session.rollback()  # no-op after commit; discards anything not committed
        finally:
            self.session.close()
            self.session = None

    def commit(self) -> None:
        assert self.session is not None
        self.session.commit()

    def rollback(self) -> None:
        assert self.session is not None
        self.session.rollback()
