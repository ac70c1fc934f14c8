"""What every account action shares: who is asking, how to load their records, how to show values."""

from __future__ import annotations

import abc
import asyncio
import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.clock import Clock
from bot.domain.errors import (
    CustomerNotFound,
    InvalidPhoneNumber,
    LoanNotFound,
    NoLoanToDispute,
    NothingOverdue,
    OptionNotOffered,
    Outage,
    UserError,
)
from bot.domain.extension_answers import is_question, parse_confirmation
from bot.domain.rules import OverduePosition
from bot.identity import verified_customer_id
from bot.language import variation_text
from bot.services.loans import AccountOverview, account_overview
from bot.settings import get_settings
from bot.unit_of_work import SqlAlchemyUnitOfWork, UowFactory

#: The reply to each error the user's request can cause (every UserError has one; a test checks).
#: None of them says the system is unavailable: that is for an Outage only.
USER_ERROR_REPLIES: dict[type[UserError], str] = {
    CustomerNotFound: "utter_customer_not_found",
    LoanNotFound: "utter_ext_invalid_loan",
    NothingOverdue: "utter_extension_nothing_overdue",
    OptionNotOffered: "utter_ext_invalid_option",
    InvalidPhoneNumber: "utter_nb_invalid_phone",
    NoLoanToDispute: "utter_nb_nothing_to_dispute",
}
OUTAGE_REPLY = "utter_service_unavailable"


def reply_for(error: UserError | Outage) -> str:
    """The response that answers an error: its own for a user error, the apology for an outage."""
    if isinstance(error, Outage):
        return OUTAGE_REPLY
    for kind in type(error).__mro__:
        if kind in USER_ERROR_REPLIES:
            return USER_ERROR_REPLIES[kind]  # type: ignore[index]
    raise LookupError(f"no reply for {type(error).__name__}; add it to USER_ERROR_REPLIES")


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


def day(value: dt.date) -> str:
    return value.isoformat()


def moment(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def position_variables(position: OverduePosition, today: dt.date) -> dict[str, Any]:
    since = position.overdue_since
    return {
        "count": len(position.items),
        "total_due": money(position.total_due),
        "overdue_amount": money(position.overdue_amount),
        "penalty_total": money(position.penalty_total),
        "since": day(since) if since else "",
        "today": day(today),
    }


def send_overdue_lines(dispatcher: CollectingDispatcher, position: OverduePosition, on: dt.date | None = None) -> None:
    """One line per overdue instalment; with ``on``, as it will stand on that day."""
    extra = {"response": "utter_overdue_line_on", "day": day(on)} if on else {"response": "utter_overdue_line"}
    for item in position.items:
        dispatcher.utter_message(
            loan_id=item.loan_id,
            seq=item.seq,
            amount=money(item.amount),
            due_date=day(item.due_date),
            days=item.days_overdue,
            penalty=money(item.penalty),
            **extra,
        )


def send_next_due(dispatcher: CollectingDispatcher, position: OverduePosition) -> None:
    if position.next_due is not None:
        nxt = position.next_due
        dispatcher.utter_message(
            response="utter_next_due", loan_id=nxt.loan_id, amount=money(nxt.amount), due_date=day(nxt.due_date)
        )


def render(domain: dict[str, Any], name: str, language: str | None, **variables: Any) -> str:
    """The text of a response in the conversation's language, for use inside another response
    (button titles, schedule lines). The wording stays in domain/*.yml."""
    text = variation_text(domain.get("responses", {}).get(name, []), language)
    return text.format(**variables) if text is not None else name


def yes_or_no(text: str, tracker: Tracker, parse: Callable[[str], bool | None]) -> bool | None:
    """The answer in what was typed, else the affirm/deny intent the NLU saw; None if neither."""
    answer = parse(text)
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if answer is None and intent in ("affirm", "deny"):
        answer = intent == "affirm"
    return answer


def agrees_to_record(text: str, naming_words: re.Pattern[str]) -> bool | None:
    """Yes, no or unclear (None) to an offer to record something; words that name the record
    ("登记投诉", "record a report") are a yes."""
    answer = parse_confirmation(text)
    if answer is None and naming_words.search(text):
        return True
    return answer


def yes_no_slot(
    slot: str,
    text: str,
    tracker: Tracker,
    dispatcher: CollectingDispatcher,
    parse: Callable[[str], bool | None],
    invalid_response: str,
) -> dict[str, Any]:
    """A form's yes/no slot from the answer ("yes"/"no"), or None and ``invalid_response`` to ask again.

    A question is never a yes or a no ("what do I do to make it stop?" holds "stop", "我是不是不用还了"
    holds "不用"): it is asked again rather than taken as a refusal or a consent.
    """
    answer = None if is_question(text) else yes_or_no(text, tracker, parse)
    if answer is None:
        dispatcher.utter_message(response=invalid_response)
        return {slot: None}
    return {slot: "yes" if answer else "no"}


def last_text_with_intent(tracker: Tracker, intent: str, default: str = "") -> str:
    """What the user wrote in their latest message with that intent (e.g. the report itself)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user" and (event.get("parse_data") or {}).get("intent", {}).get("name") == intent:
            return str(event.get("text") or "")
    return default


def bank_clock() -> Clock:
    """The clock every action reads (``AccountAction.clock``, which tests swap)."""
    return AccountAction.clock()


def now() -> dt.datetime:
    """The bank's local time now (naive, the stored-time convention)."""
    return bank_clock().now()


def send_plans(
    dispatcher: CollectingDispatcher, overview: AccountOverview, domain: dict[str, Any], language: str | None
) -> None:
    for plan in overview.plans:
        kind, _, count = plan.option.partition("_")
        title = render(domain, f"utter_ext_option_{kind}", language, count=count) if count else plan.option
        dispatcher.utter_message(
            response="utter_plan_active", loan_id=plan.loan_id, reference=plan.reference, option_title=title
        )


class AccountAction(Action, abc.ABC):
    """An action that answers from the verified customer's own records.

    Anonymous visitors get ``anonymous_response`` and learn nothing about any account.
    ``uow_factory`` and ``clock`` are class attributes so tests can swap them; ``today()`` reads
    the clock.
    """

    uow_factory: UowFactory = staticmethod(SqlAlchemyUnitOfWork)  # type: ignore[assignment]
    clock: Callable[[], Clock] = staticmethod(lambda: get_settings().clock())

    @classmethod
    def today(cls) -> dt.date:
        return cls.clock().today()

    anonymous_response = "utter_login_required"
    #: Whether each answer starts with the line that a disputed loan is under investigation.
    announces_disputes = True

    @abc.abstractmethod
    def name(self) -> str: ...

    @abc.abstractmethod
    def answer(
        self,
        dispatcher: CollectingDispatcher,
        overview: AccountOverview,
        domain: dict[str, Any],
        language: str | None,
        asked: str,
    ) -> None:
        """Answer from the records; ``asked`` is the customer's message (a date or amount in it)."""

    def anonymous(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        """What a visitor hears: general information only, nothing about any account."""
        dispatcher.utter_message(response=self.anonymous_response)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        customer_id = verified_customer_id(tracker.sender_id)
        if customer_id is None:
            self.anonymous(dispatcher, tracker)
            return []
        try:
            # The service does blocking database I/O: keep it off the action server's event loop.
            overview = await asyncio.to_thread(
                account_overview, type(self).uow_factory, customer_id, AccountAction.today()
            )
        except (UserError, Outage) as exc:
            dispatcher.utter_message(response=reply_for(exc))
            return []
        for loan_id in overview.disputed_loans if self.announces_disputes else ():
            # Under investigation: not chased, and its figures are not presented as owed.
            dispatcher.utter_message(response="utter_loan_under_investigation", loan_id=loan_id)
        asked = str(tracker.latest_message.get("text") or "")
        try:
            # An answer may read more records (a payoff quote): off the event loop as well.
            await asyncio.to_thread(self.answer, dispatcher, overview, domain, tracker.get_slot("language"), asked)
        except (UserError, Outage) as exc:
            dispatcher.utter_message(response=reply_for(exc))
        return []
