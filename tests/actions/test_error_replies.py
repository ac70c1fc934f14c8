"""Every error a customer's request can cause has its own reply; only an outage gets the apology."""

from __future__ import annotations

from pathlib import Path

from actions import extensions as ext
from actions.common import OUTAGE_REPLY, USER_ERROR_REPLIES, reply_for
from bot.domain import errors
from bot.language import variation_text
from bot.rasa_ext.action_server import load_domain
from tests.actions.test_extension_actions import c1001_slots, run, tracker

DOMAIN = load_domain(Path(__file__).resolve().parents[2] / "domain")


def test_every_user_error_has_its_own_reply_in_both_languages_and_none_is_the_outage_apology() -> None:
    kinds = [k for k in vars(errors).values() if isinstance(k, type) and issubclass(k, errors.UserError)]
    kinds.remove(errors.UserError)
    assert len(kinds) >= 6
    for kind in kinds:
        response = USER_ERROR_REPLIES[kind]
        assert response != OUTAGE_REPLY, kind
        variations = DOMAIN["responses"][response]
        assert variation_text(variations, "zh") and variation_text(variations, "en"), response
    assert reply_for(errors.RecordsUnavailable()) == OUTAGE_REPLY


async def test_an_option_not_offered_at_the_confirmation_step_asks_for_an_offered_option(records) -> None:
    messages, slots = await run(ext.ActionAskExtConfirmed(), tracker("C1001", **c1001_slots(ext_option="split_7")))
    names = [m["response"] for m in messages]
    assert names[0] == "utter_ext_invalid_option" and "utter_ask_ext_option" in names
    assert OUTAGE_REPLY not in names
    assert slots == {"ext_option": None, "requested_slot": "ext_option"}


async def test_a_loan_that_is_not_the_customers_asks_for_one_of_theirs(records) -> None:
    t = tracker("C1001", **c1001_slots(ext_option="split_6", ext_loan_id="L9999"))
    messages, slots = await run(ext.ActionAskExtConfirmed(), t)
    names = [m["response"] for m in messages]
    assert names[0] == "utter_ext_invalid_loan" and "utter_ask_ext_loan_id" in names
    assert slots == {"ext_loan_id": None, "requested_slot": "ext_loan_id"}
