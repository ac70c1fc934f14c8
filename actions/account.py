"""Questions about the customer's account rather than the debt: where their requests and cases
stand, their phone number, an old number that now belongs to someone else, reporting to the police."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import AccountAction, day, moment, render
from bot.services.cases import customer_requests
from bot.services.loans import AccountOverview

#: At most this many requests and cases are listed; the app shows them all.
MAX_LISTED = 5


class ActionCaseStatus(AccountAction):
    """The verified customer's cases and extension requests: status and what happens next."""

    anonymous_response = "utter_case_status_anonymous"
    # An investigation is one of the cases listed: no separate line first.
    announces_disputes = False

    def name(self) -> str:
        return "action_case_status"

    def answer(
        self,
        dispatcher: CollectingDispatcher,
        overview: AccountOverview,
        domain: DomainDict,
        language: str | None,
        asked: str,
    ) -> None:
        requests = customer_requests(AccountAction.uow_factory, overview.customer.customer_id)
        if not requests:
            dispatcher.utter_message(response="utter_case_status_none")
            return
        mentioned = [r for r in requests if r.reference and r.reference.lower() in asked.lower()]
        listed = mentioned or list(requests[:MAX_LISTED])
        dispatcher.utter_message(response="utter_case_status_intro")
        for request in listed:
            dispatcher.utter_message(
                response="utter_case_status_line",
                reference=request.reference or "",
                kind=render(domain, f"utter_case_kind_{request.type}", language),
                created=day(request.created_at.date()),
                loan=request.loan_id or "-",
                next_step=render(domain, f"utter_case_next_{request.next_step}", language),
            )


class ActionExplainPhoneChange(AccountAction):
    """How to change the registered number; reminders only ever go to the registered one."""

    anonymous_response = "utter_change_phone"

    def name(self) -> str:
        return "action_explain_phone_change"

    def answer(
        self,
        dispatcher: CollectingDispatcher,
        overview: AccountOverview,
        domain: DomainDict,
        language: str | None,
        asked: str,
    ) -> None:
        dispatcher.utter_message(response="utter_change_phone")
        dispatcher.utter_message(response="utter_phone_registered", current_phone=overview.customer.phone_masked)


class ActionExplainOldNumber(AccountAction):
    """An old number now used by someone else: which reminders went there, what they showed, and
    that nothing goes there any more. Never an identity-misuse case: the loan is the customer's."""

    anonymous_response = "utter_old_number_anonymous"

    def name(self) -> str:
        return "action_explain_old_number"

    def answer(
        self,
        dispatcher: CollectingDispatcher,
        overview: AccountOverview,
        domain: DomainDict,
        language: str | None,
        asked: str,
    ) -> None:
        old = overview.notices_to_other_numbers()
        current = overview.customer.phone_masked
        if old:
            dispatcher.utter_message(
                response="utter_old_number_notices",
                count=len(old),
                old_phones=", ".join(sorted({n.phone_masked for n in old})),
                sent_times=", ".join(moment(n.sent_at) for n in old),
                current_phone=current,
            )
            dispatcher.utter_message(response="utter_old_number_privacy")
        else:
            dispatcher.utter_message(response="utter_old_number_none", current_phone=current)
        dispatcher.utter_message(response="utter_old_number_check", current_phone=current)


class ActionPoliceGuidance(AccountAction):
    """Whether and how to report to the police: for a loan under an identity-misuse investigation,
    what to bring and how to add the receipt to the case; otherwise the general guidance."""

    anonymous_response = "utter_police_general"

    def name(self) -> str:
        return "action_police_guidance"

    # Its answer is about the investigation itself: no separate line first.
    announces_disputes = False

    def answer(
        self,
        dispatcher: CollectingDispatcher,
        overview: AccountOverview,
        domain: DomainDict,
        language: str | None,
        asked: str,
    ) -> None:
        if overview.disputed_loans:
            dispatcher.utter_message(
                response="utter_police_identity_misuse", loan_id=", ".join(overview.disputed_loans)
            )
        else:
            dispatcher.utter_message(response="utter_police_general")
