"""Answers about the customer's own loans: why the texts, how much is due, how to repay, did my payment arrive."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    AccountAction,
    day,
    moment,
    money,
    position_variables,
    send_next_due,
    send_overdue_lines,
    send_plans,
)
from actions.extensions import at_plan_confirmation, send_confirm_scope
from bot.domain.dates import asks_due_date, mentioned_date, wants_whole_loan
from bot.domain.notices import NoticePolicy
from bot.domain.privacy import mask_phone
from bot.domain.repayment import RepaymentPolicy, apply_partial
from bot.domain.rules import DAILY_PENALTY_RATE, to_fen
from bot.services.loans import RECENT_PAYMENT_DAYS, AccountOverview, whole_loan_payoffs
from bot.settings import get_settings


class ActionExplainTexts(AccountAction):
    anonymous_response = "utter_why_texts_anonymous"

    def name(self) -> str:
        return "action_explain_texts"

    def answer(
        self,
        dispatcher: CollectingDispatcher,
        overview: AccountOverview,
        domain: DomainDict,
        language: str | None,
        asked: str,
    ) -> None:
        if say_corrections(dispatcher, overview):
            return
        situation = overview.texts_situation()
        if situation == "overdue":
            variables = position_variables(overview.position, overview.today)
            dispatcher.utter_message(response="utter_why_texts_overdue", name=overview.customer.name, **variables)
            send_overdue_lines(dispatcher, overview.position)
            if overview.notices:
                dispatcher.utter_message(
                    response="utter_why_texts_notices",
                    phones=", ".join(sorted({n.phone_masked for n in overview.notices})),
                    sent_times=", ".join(moment(n.sent_at) for n in overview.notices[-5:]),
                )
                reason = segment_reason(overview, language)
                if reason:
                    dispatcher.utter_message(response="utter_why_texts_segment", segment_reason=reason)
            old = overview.notices_to_other_numbers()
            if old:
                dispatcher.utter_message(
                    response="utter_why_texts_old_number",
                    old_phones=", ".join(sorted({n.phone_masked for n in old})),
                    current_phone=overview.customer.phone_masked,
                )
        elif situation == "rescheduled":
            send_plans(dispatcher, overview, domain, language)
        elif situation == "paid_after_notice":
            notice, payment = overview.notices_before_payment()  # type: ignore[misc]
            dispatcher.utter_message(
                response="utter_why_texts_paid_after_notice",
                notice_time=moment(notice.sent_at),
                loan_id=notice.loan_id,
                seq=notice.instalment_seq or "",
                amount=money(notice.instalment_amount or payment.amount),
                paid_at=moment(payment.paid_at),
                posted_at=moment(payment.posted_at or payment.paid_at),
            )
        elif situation == "settled":
            dispatcher.utter_message(
                response="utter_why_texts_settled", notice_time=moment(overview.notices[-1].sent_at)
            )
        else:
            dispatcher.utter_message(response="utter_why_texts_nothing")


def say_corrections(dispatcher: CollectingDispatcher, overview: AccountOverview) -> bool:
    """A notice the records prove wrong (sent after the payment had posted) is corrected now, and the
    customer told so; one corrected before is mentioned. True when there was anything to say."""
    from bot.identity import customer_conversation
    from bot.services.corrections import correct_proven_errors

    customer_id = overview.customer.customer_id
    corrections = correct_proven_errors(
        AccountAction.uow_factory, customer_id, customer_conversation(customer_id), AccountAction.clock().now()
    )
    for c in corrections:
        dispatcher.utter_message(
            response="utter_why_texts_already_corrected" if c.already else "utter_why_texts_corrected",
            notice_time=moment(c.notice_sent_at),
            posted_at=moment(c.payment_posted_at) if c.payment_posted_at else "",
            reference=c.case_reference or "",
            phone=mask_phone(c.phone),
        )
    return bool(corrections)


def segment_reason(overview: AccountOverview, language: str | None) -> str | None:
    """Why the latest notices read as they did: the reason of the segment the latest one recorded."""
    from bot.services.notices import default_segments

    latest = next((n for n in reversed(overview.notices) if n.segment and n.segment_facts), None)
    if latest is None or latest.segment_facts is None:
        return None
    segment = next((s for s in default_segments().segments if s.name == latest.segment), None)
    return segment.why(latest.segment_facts, language if language in ("zh", "en") else "zh") if segment else None


class ActionTellAmountDue(AccountAction):
    """What is owed now, on a day the customer names ("明天", "12号之前"), or to repay the whole loan."""

    def name(self) -> str:
        return "action_tell_amount_due"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if at_plan_confirmation(tracker):
            # "那12号到期的那期2600还要还吗" while confirming a plan is about the plan: what it
            # changes and what it leaves alone, then the same confirmation again.
            send_confirm_scope(dispatcher, tracker, domain)
            return []
        return await super().run(dispatcher, tracker, domain)

    def anonymous(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        asked = str(tracker.latest_message.get("text") or "")
        dispatcher.utter_message(
            response="utter_due_date_anonymous" if asks_due_date(asked) else "utter_login_required"
        )

    def answer(
        self,
        dispatcher: CollectingDispatcher,
        overview: AccountOverview,
        domain: DomainDict,
        language: str | None,
        asked: str,
    ) -> None:
        on = mentioned_date(asked, overview.today)
        if on is not None and on < overview.today:
            dispatcher.utter_message(response="utter_amount_date_passed", day=day(on))
            on = None
        if wants_whole_loan(asked):
            send_payoffs(dispatcher, overview, on or overview.today)
            return
        if on is not None and on != overview.today:
            send_amount_on(dispatcher, overview, on)
            return
        position = overview.position
        if on is None and asks_due_date(asked) and position.next_due is not None:
            # "几号还款", "when is my next payment due": the date first, then anything overdue.
            send_next_due(dispatcher, position)
            if position.is_overdue:
                dispatcher.utter_message(
                    response="utter_amount_due_summary", **position_variables(position, overview.today)
                )
                send_overdue_lines(dispatcher, position)
            return
        if position.is_overdue:
            dispatcher.utter_message(
                response="utter_amount_due_summary", **position_variables(position, overview.today)
            )
            send_overdue_lines(dispatcher, position)
            dispatcher.utter_message(response="utter_amount_due_penalty_note")
        else:
            dispatcher.utter_message(response="utter_amount_due_nothing")
            send_plans(dispatcher, overview, domain, language)
        send_next_due(dispatcher, position)


def send_amount_on(dispatcher: CollectingDispatcher, overview: AccountOverview, on: dt.date) -> None:
    """The overdue balance if paid on ``on``: penalty interest counted to that day, and what falls due by then."""
    position = overview.position_on(on)
    if not position.is_overdue:
        dispatcher.utter_message(response="utter_amount_on_date_nothing", day=day(on))
        send_next_due(dispatcher, position)
        return
    dispatcher.utter_message(
        response="utter_amount_on_date_summary",
        day=day(on),
        today_total=money(overview.position.total_due),
        difference=money(position.total_due - overview.position.total_due),
        **position_variables(position, on),
    )
    send_overdue_lines(dispatcher, position, on)
    if position.next_due is not None and position.next_due.due_date == on:
        send_next_due(dispatcher, position)


def send_payoffs(dispatcher: CollectingDispatcher, overview: AccountOverview, on: dt.date) -> None:
    """What repaying each loan in full on ``on`` costs, with its parts (config/repayment_policy.yml)."""
    payoffs = whole_loan_payoffs(
        AccountAction.uow_factory, overview.customer.customer_id, on, overview.today, repayment_policy()
    )
    if not payoffs:
        dispatcher.utter_message(response="utter_payoff_nothing")
        return
    for payoff in payoffs:
        dispatcher.utter_message(
            response="utter_payoff_loan",
            loan_id=payoff.loan_id,
            day=day(payoff.on),
            total=money(payoff.total),
            overdue=money(payoff.overdue),
            penalty=money(payoff.penalty),
            principal=money(payoff.principal),
            interest=money(payoff.interest),
            fee=money(payoff.fee),
        )
    dispatcher.utter_message(response="utter_payoff_how")


class ActionExplainRepayment(AccountAction):
    anonymous_response = "utter_how_to_repay"

    def name(self) -> str:
        return "action_explain_repayment"

    def answer(
        self,
        dispatcher: CollectingDispatcher,
        overview: AccountOverview,
        domain: DomainDict,
        language: str | None,
        asked: str,
    ) -> None:
        dispatcher.utter_message(response="utter_how_to_repay")
        if overview.position.is_overdue:
            dispatcher.utter_message(
                response="utter_how_to_repay_overdue", **position_variables(overview.position, overview.today)
            )
        else:
            send_next_due(dispatcher, overview.position)


class ActionCheckRepayment(AccountAction):
    def name(self) -> str:
        return "action_check_repayment"

    def answer(
        self,
        dispatcher: CollectingDispatcher,
        overview: AccountOverview,
        domain: DomainDict,
        language: str | None,
        asked: str,
    ) -> None:
        say_corrections(dispatcher, overview)  # "I paid before that text came": the records may prove it
        situation = overview.repayment_situation()
        variables = position_variables(overview.position, overview.today)
        payment = overview.latest_recent_payment()
        if payment is not None:
            paid = {
                "paid_at": moment(payment.paid_at),
                "paid_amount": money(payment.amount),
                "posted_at": moment(payment.posted_at) if payment.posted_at else "",
                "loan_id": payment.loan_id,
            }
            if situation == "after_notice":
                notice, _ = overview.notices_before_payment()  # type: ignore[misc]
                dispatcher.utter_message(
                    response="utter_repaid_after_notice", notice_time=moment(notice.sent_at), **paid
                )
            elif situation == "pending":
                dispatcher.utter_message(response="utter_repaid_pending", **paid)
            else:
                dispatcher.utter_message(response="utter_repaid_posted", **paid)
            if overview.position.is_overdue:
                dispatcher.utter_message(response="utter_repaid_still_overdue", **variables)
        elif situation == "not_found":
            dispatcher.utter_message(response="utter_repaid_not_found", lookback_days=RECENT_PAYMENT_DAYS, **variables)
        else:
            dispatcher.utter_message(response="utter_repaid_nothing_due")


class ActionExplainFeeRule(AccountAction):
    """The penalty-interest rule; for a verified customer first their own figures: why a recent
    payment was more than its instalment ("why 2,152.15?"), and the penalty on what is overdue now.
    A logged-in customer is never told to log in."""

    def name(self) -> str:
        return "action_explain_fee_rule"

    def anonymous(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        dispatcher.utter_message(response="utter_ask_late_fee_rule")
        dispatcher.utter_message(response="utter_fee_rule_own_figures_visitor")

    def answer(
        self,
        dispatcher: CollectingDispatcher,
        overview: AccountOverview,
        domain: DomainDict,
        language: str | None,
        asked: str,
    ) -> None:
        explained = False
        for fee in overview.fee_explanations():
            explained = True
            variables = {
                "paid_amount": money(fee.paid_amount),
                "paid_on": day(fee.paid_on),
                "instalment_amount": money(fee.instalment_amount),
                "loan_id": fee.loan_id,
                "seq": fee.seq,
                "extra": money(fee.extra),
                "due_date": day(fee.due_date),
                "days": fee.days_late,
                "penalty": money(fee.penalty),
            }
            if fee.formula_matches:
                dispatcher.utter_message(response="utter_fee_explained_payment", **variables)
            else:
                dispatcher.utter_message(response="utter_fee_payment_unexplained", **variables)
        if overview.position.is_overdue:
            explained = True
            dispatcher.utter_message(
                response="utter_fee_explained_overdue", **position_variables(overview.position, overview.today)
            )
            send_overdue_lines(dispatcher, overview.position)
        dispatcher.utter_message(response="utter_ask_late_fee_rule")
        if not explained:
            dispatcher.utter_message(response="utter_fee_rule_own_figures_customer")


AMOUNT = re.compile(r"(\d[\d,]*(?:\.\d{1,2})?)\s*(?:元|块|塊|rmb|cny|yuan|kuai)?", re.I)


def amount_mentioned(text: str) -> Decimal | None:
    """The money amount in a message ("我先还1000", "pay 500 now", "1,000.50元"); None if none.
    A day of the month ("12号") or a number of days ("3天") is not an amount."""
    for match in AMOUNT.finditer(text):
        after = text[match.end() : match.end() + 2]
        if re.match(r"\s*(号|日|天|月|期|days?|th|st|nd|rd)", after, re.I):
            continue
        try:
            value = Decimal(match[1].replace(",", ""))
        except ArithmeticError:
            continue
        if value > 0:
            return value
    return None


class ActionExplainPartialPayment(AccountAction):
    """Whether part of the overdue amount can be repaid, how it is applied (config/repayment_policy.yml),
    and for a verified customer what a payment of the amount they name does to their balance."""

    def name(self) -> str:
        return "action_explain_partial_payment"

    def anonymous(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        send_partial_rule(dispatcher)
        dispatcher.utter_message(response="utter_partial_extension_hint")

    def answer(
        self,
        dispatcher: CollectingDispatcher,
        overview: AccountOverview,
        domain: DomainDict,
        language: str | None,
        asked: str,
    ) -> None:
        policy = send_partial_rule(dispatcher)
        position = overview.position
        if not position.is_overdue:
            dispatcher.utter_message(response="utter_amount_due_nothing")
            send_next_due(dispatcher, position)
            return
        amount = amount_mentioned(asked)
        if amount is not None and amount >= policy.min_partial_payment:
            result = apply_partial(position, amount, policy)
            if result.clears_everything:
                dispatcher.utter_message(
                    response="utter_partial_clears", amount=money(amount), total_due=money(position.total_due)
                )
                return
            dispatcher.utter_message(response="utter_partial_simulation", amount=money(amount))
            for part in result.allocations:
                dispatcher.utter_message(
                    response="utter_partial_allocation",
                    loan_id=part.loan_id,
                    seq=part.seq,
                    to_penalty=money(part.to_penalty),
                    to_instalment=money(part.to_instalment),
                    left=money(part.instalment_left),
                )
            dispatcher.utter_message(
                response="utter_partial_after",
                still_overdue=money(result.still_overdue),
                daily=money(result.daily_penalty_after),
            )
        else:
            dispatcher.utter_message(
                response="utter_amount_due_summary", **position_variables(position, overview.today)
            )
        dispatcher.utter_message(response="utter_partial_extension_hint")


def send_partial_rule(dispatcher: CollectingDispatcher) -> RepaymentPolicy:
    policy = repayment_policy()
    response = "utter_partial_rule_penalty_first" if policy.penalty_first else "utter_partial_rule_instalment_first"
    dispatcher.utter_message(response=response, min_amount=money(policy.min_partial_payment))
    return policy


def repayment_policy() -> RepaymentPolicy:
    return RepaymentPolicy.from_file(get_settings().config_file("repayment_policy.yml"))


class ActionExplainConsequences(AccountAction):
    """What happens if it stays unpaid: penalty growth, credit reporting, the reminder rules from
    config/notice_policy.yml, lawful collection only; for a customer in arrears, their daily cost."""

    def name(self) -> str:
        return "action_explain_consequences"

    def anonymous(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        send_consequences(dispatcher)

    def answer(
        self,
        dispatcher: CollectingDispatcher,
        overview: AccountOverview,
        domain: DomainDict,
        language: str | None,
        asked: str,
    ) -> None:
        send_consequences(dispatcher)
        position = overview.position
        if position.is_overdue:
            dispatcher.utter_message(
                response="utter_consequences_yours",
                daily=money(to_fen(position.overdue_amount * DAILY_PENALTY_RATE)),
                **position_variables(position, overview.today),
            )


def send_consequences(dispatcher: CollectingDispatcher) -> None:
    policy = NoticePolicy.from_file(get_settings().config_file("notice_policy.yml"))
    dispatcher.utter_message(
        response="utter_consequences",
        reminder_days=policy.reminder_every_days,
        max_per_instalment=policy.max_notices_per_instalment,
        max_per_week=policy.max_notices_per_phone_per_week,
        quiet_from=policy.quiet_hours_start.strftime("%H:%M"),
        quiet_until=policy.quiet_hours_end.strftime("%H:%M"),
    )
