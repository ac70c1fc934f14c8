"""The extension / instalment-plan conversation: prepare, ask, validate, submit, cancel."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import AccountAction, day, money, now, render, reply_for, yes_no_slot
from actions.handoff import hand_off
from bot.domain.errors import LoanNotFound, OptionNotOffered, Outage, UserError
from bot.domain.extension_answers import (
    explicit_choice,
    is_question,
    parse_confirmation,
    parse_loan,
    parse_option,
    parse_reason,
    wants_another_option,
)
from bot.domain.extensions import ExtensionOption, options
from bot.identity import verified_customer_id
from bot.services.extensions import (
    default_policy,
    extension_offer,
    preview_terms,
    record_cancellation,
    submit_extension,
)

logger = logging.getLogger(__name__)

FORM_SLOTS = (
    "ext_loan_id",
    "ext_reason",
    "ext_reason_text",
    "ext_option",
    "ext_confirmed",
    "ext_candidates",
    "ext_self_service",
    "ext_request_key",
)


def reset_form_slots() -> list[dict[str, Any]]:
    return [SlotSet(name, None) for name in FORM_SLOTS] + [SlotSet("ext_stage", None)]


def option_title(domain: DomainDict, language: str | None, code: str) -> str:
    option = ExtensionOption.from_code(code)
    return render(domain, f"utter_ext_option_{option.kind}", language, count=option.count)


def offered_codes() -> list[str]:
    return [o.code for o in options(default_policy())]


def session_request_key(tracker: Tracker, fallback: str | None) -> str:
    """One request per loan and conversation session: a second submission in the same session
    (a double tap, or asking again after a referral) finds the request already recorded."""
    started = [e.get("timestamp") for e in tracker.events if e.get("event") == "session_started"]
    return f"{tracker.sender_id}|session:{started[-1]}" if started else fallback or tracker.sender_id


def candidate(tracker: Tracker, loan_id: str | None) -> dict[str, Any] | None:
    return next((c for c in tracker.get_slot("ext_candidates") or [] if c["loan_id"] == loan_id), None)


async def record_cancelled(tracker: Tracker, customer_id: str, loan_id: str) -> None:
    """Record that the customer cancelled before confirming, with what they had chosen so far."""
    await asyncio.to_thread(
        record_cancellation,
        AccountAction.uow_factory,
        customer_id,
        loan_id,
        tracker.get_slot("ext_reason") or "other",
        tracker.get_slot("ext_reason_text") or "",
        tracker.get_slot("ext_option"),
        now(),
    )


class ActionPrepareExtension(Action):
    def name(self) -> str:
        return "action_prepare_extension"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        unavailable = [*reset_form_slots(), SlotSet("ext_stage", "unavailable")]
        customer_id = verified_customer_id(tracker.sender_id)
        if customer_id is None:
            dispatcher.utter_message(response="utter_login_required")
            return unavailable
        try:
            offers = await asyncio.to_thread(
                extension_offer, AccountAction.uow_factory, customer_id, AccountAction.today()
            )
        except (UserError, Outage) as exc:
            dispatcher.utter_message(response=reply_for(exc))
            return unavailable
        candidates = [
            {
                "loan_id": o.loan_id,
                "self_service": o.self_service,
                "overdue_amount": money(o.overdue_amount),
                "penalty": money(o.penalty),
                "total": money(o.total),
            }
            for o in offers
        ]
        events = [
            *reset_form_slots(),
            SlotSet("ext_candidates", candidates),
            SlotSet("ext_request_key", uuid.uuid4().hex),
            SlotSet("ext_stage", "form"),
        ]
        if len(candidates) == 1:
            events += [
                SlotSet("ext_loan_id", candidates[0]["loan_id"]),
                SlotSet("ext_self_service", candidates[0]["self_service"]),
            ]
        return events


class ValidateExtensionForm(FormValidationAction):
    def name(self) -> str:
        return "validate_extension_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        # A loan that a person must decide on needs no option, but the customer still confirms
        # that the request should be passed on: nothing is recorded without that.
        if tracker.get_slot("ext_self_service") is False:
            return ["ext_loan_id", "ext_reason", "ext_confirmed"]
        return domain_slots

    def validate_ext_loan_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        ids = [c["loan_id"] for c in tracker.get_slot("ext_candidates") or []]
        loan_id = parse_loan(str(value or ""), ids)
        if loan_id is None:
            dispatcher.utter_message(response="utter_ext_invalid_loan")
            return {"ext_loan_id": None}
        chosen = candidate(tracker, loan_id)
        return {"ext_loan_id": loan_id, "ext_self_service": bool(chosen and chosen["self_service"])}

    def validate_ext_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        parsed = parse_reason(str(value or ""))
        if parsed is None:
            dispatcher.utter_message(response="utter_ext_invalid_reason")
            return {"ext_reason": None}
        code, words = parsed
        return {"ext_reason": code, "ext_reason_text": words}

    def validate_ext_option(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        code = parse_option(str(value or ""), offered_codes())
        if code is None:
            dispatcher.utter_message(response="utter_ext_invalid_option")
            return {"ext_option": None}
        return {"ext_option": code}

    def validate_ext_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        if tracker.get_slot("ext_self_service") is False:
            # A referral: there is no option to change, only yes or no.
            return yes_no_slot(
                "ext_confirmed", text, tracker, dispatcher, parse_confirmation, "utter_ext_invalid_referral_confirm"
            )
        if wants_another_option(text):
            return {"ext_option": None, "ext_confirmed": None}
        # Only an explicit choice changes what is being confirmed (never the "12" of a date).
        new_option = explicit_choice(text, offered_codes())
        if new_option is not None and new_option != tracker.get_slot("ext_option"):
            return {"ext_option": new_option, "ext_confirmed": None}
        if is_question(text):  # a question is never a signature, even "这样可以吗"
            send_confirm_scope(dispatcher, tracker, domain)
            return {"ext_confirmed": None}
        return yes_no_slot("ext_confirmed", text, tracker, dispatcher, parse_confirmation, "utter_ext_invalid_confirm")


def at_plan_confirmation(tracker: Tracker) -> bool:
    """Whether the customer is being asked to confirm a self-service plan."""
    return (
        (tracker.active_loop or {}).get("name") == "extension_form"
        and tracker.get_slot("requested_slot") == "ext_confirmed"
        and tracker.get_slot("ext_self_service") is not False
        and bool(tracker.get_slot("ext_option"))
    )


def send_confirm_scope(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> None:
    """What the plan being confirmed changes and what it leaves alone (the form then asks again)."""
    chosen = candidate(tracker, tracker.get_slot("ext_loan_id")) or {}
    dispatcher.utter_message(
        response="utter_ext_confirm_scope",
        option_title=option_title(domain, tracker.get_slot("language"), tracker.get_slot("ext_option")),
        overdue_amount=chosen.get("overdue_amount", ""),
        penalty=chosen.get("penalty", ""),
    )


class ActionAskExtLoanId(Action):
    def name(self) -> str:
        return "action_ask_ext_loan_id"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        buttons = [
            {"title": f"{c['loan_id']} · {c['total']}", "payload": c["loan_id"]}
            for c in tracker.get_slot("ext_candidates") or []
        ]
        dispatcher.utter_message(response="utter_ask_ext_loan_id", buttons=buttons)
        return []


class ActionAskExtOption(Action):
    def name(self) -> str:
        return "action_ask_ext_option"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        language = tracker.get_slot("language")
        chosen = candidate(tracker, tracker.get_slot("ext_loan_id")) or {}
        titles = [option_title(domain, language, code) for code in offered_codes()]
        dispatcher.utter_message(
            response="utter_ask_ext_option",
            buttons=[{"title": t, "payload": t} for t in titles],
            loan_id=chosen.get("loan_id", ""),
            overdue_amount=chosen.get("overdue_amount", ""),
            penalty=chosen.get("penalty", ""),
            total=chosen.get("total", ""),
        )
        return []


class ActionAskExtConfirmed(Action):
    def name(self) -> str:
        return "action_ask_ext_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        customer_id = verified_customer_id(tracker.sender_id) or ""
        language = tracker.get_slot("language")
        if tracker.get_slot("ext_self_service") is False:
            dispatcher.utter_message(
                response="utter_ask_ext_referral_confirmed", loan_id=tracker.get_slot("ext_loan_id")
            )
            return []
        code = tracker.get_slot("ext_option")
        try:
            plan = await asyncio.to_thread(
                preview_terms,
                AccountAction.uow_factory,
                customer_id,
                tracker.get_slot("ext_loan_id"),
                code,
                AccountAction.today(),
            )
        except OptionNotOffered as exc:
            # Not an option we offer (policy changed mid-conversation?): ask for one that is.
            dispatcher.utter_message(response=reply_for(exc))
            await ActionAskExtOption().run(dispatcher, tracker, domain)
            return [SlotSet("ext_option", None), SlotSet("requested_slot", "ext_option")]
        except LoanNotFound as exc:
            dispatcher.utter_message(response=reply_for(exc))
            await ActionAskExtLoanId().run(dispatcher, tracker, domain)
            return [SlotSet("ext_loan_id", None), SlotSet("requested_slot", "ext_loan_id")]
        except (UserError, Outage) as exc:
            dispatcher.utter_message(response=reply_for(exc))
            return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_form_slots()]
        schedule = "\n".join(
            render(domain, "utter_ext_schedule_line", language, due_date=day(p.due_date), amount=money(p.amount))
            for p in plan.instalments
        )
        dispatcher.utter_message(
            response="utter_ask_ext_confirmed",
            option_title=option_title(domain, language, code),
            total=money(plan.total),
            overdue_amount=money(plan.overdue_amount),
            penalty=money(plan.frozen_penalty),
            schedule=schedule,
        )
        return []


class ActionSubmitExtension(Action):
    def name(self) -> str:
        return "action_submit_extension"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        customer_id = verified_customer_id(tracker.sender_id)
        loan_id = tracker.get_slot("ext_loan_id")
        if customer_id is None or loan_id is None:
            return reset_form_slots()
        reason, words = tracker.get_slot("ext_reason") or "other", tracker.get_slot("ext_reason_text") or ""
        option = tracker.get_slot("ext_option") if tracker.get_slot("ext_self_service") else None
        try:
            if tracker.get_slot("ext_confirmed") == "no":
                await record_cancelled(tracker, customer_id, loan_id)
                dispatcher.utter_message(response="utter_ext_cancelled")
                return reset_form_slots()
            decision = await asyncio.to_thread(
                submit_extension,
                AccountAction.uow_factory,
                customer_id,
                loan_id,
                reason,
                words,
                option,
                session_request_key(tracker, tracker.get_slot("ext_request_key")),
                AccountAction.today(),
                now(),
            )
        except (UserError, Outage) as exc:
            # Nothing was recorded: the customer hears why (or our apology) and the form ends.
            dispatcher.utter_message(response=reply_for(exc))
            return reset_form_slots()
        if decision.already_recorded:
            dispatcher.utter_message(response="utter_ext_already_recorded", reference=decision.reference)
        elif decision.status == "approved" and decision.terms is not None:
            first = decision.terms.instalments[0]
            dispatcher.utter_message(
                response="utter_ext_approved",
                reference=decision.reference,
                loan_id=decision.loan_id,
                option_title=option_title(domain, tracker.get_slot("language"), decision.terms.option.code),
                first_amount=money(first.amount),
                first_due=day(first.due_date),
            )
        else:
            dispatcher.utter_message(response="utter_ext_referred", reference=decision.reference)
            # The referral reaches a person as a ticket; the customer can keep chatting meanwhile.
            await hand_off(
                dispatcher, tracker, "extension_referral", pause=False, extra_references=(decision.reference,)
            )
        return reset_form_slots()


class ActionCancelExtension(Action):
    def name(self) -> str:
        return "action_cancel_extension"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        customer_id = verified_customer_id(tracker.sender_id)
        loan_id = tracker.get_slot("ext_loan_id")
        if customer_id and loan_id:
            try:
                await record_cancelled(tracker, customer_id, loan_id)
            except (UserError, Outage):
                # The cancellation stands (nothing was changed); only its record is missing.
                logger.warning("could not record a cancelled extension request for %s", loan_id)
        dispatcher.utter_message(response="utter_ext_cancelled")
        return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_form_slots()]
