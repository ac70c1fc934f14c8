"""Answers about the customer's own loans: why the texts, how much is due, how to repay, did my payment arrive."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    AccountAction,
    moment,
    money,
    position_variables,
    send_next_due,
    send_overdue_lines,
    send_plans,
)
from bot.identity import verified_customer_id
from bot.services.loans import RECENT_PAYMENT_DAYS, AccountOverview


class ActionExplainTexts(AccountAction):
    anonymous_response = "utter_why_texts_anonymous"

    def name(self) -> str:
        return "action_explain_texts"

    def answer(
        self, dispatcher: CollectingDispatcher, overview: AccountOverview, domain: DomainDict, language: str | None
    ) -> None:
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


class ActionTellAmountDue(AccountAction):
    def name(self) -> str:
        return "action_tell_amount_due"

    def answer(
        self, dispatcher: CollectingDispatcher, overview: AccountOverview, domain: DomainDict, language: str | None
    ) -> None:
        position = overview.position
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


class ActionExplainRepayment(AccountAction):
    anonymous_response = "utter_how_to_repay"

    def name(self) -> str:
        return "action_explain_repayment"

    def answer(
        self, dispatcher: CollectingDispatcher, overview: AccountOverview, domain: DomainDict, language: str | None
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
        self, dispatcher: CollectingDispatcher, overview: AccountOverview, domain: DomainDict, language: str | None
    ) -> None:
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


class ActionExplainFeeRule(Action):
    """The penalty-interest rule for everyone; how to see one's own figures depends on whether the
    customer is already verified (a logged-in customer is never told to log in)."""

    def name(self) -> str:
        return "action_explain_fee_rule"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_ask_late_fee_rule")
        verified = verified_customer_id(tracker.sender_id) is not None
        dispatcher.utter_message(
            response="utter_fee_rule_own_figures_customer" if verified else "utter_fee_rule_own_figures_visitor"
        )
        return []
