"""Acting needs confidence or consent (issue 15): the policy that asks first, and the actions that
ask and act on a typed yes. Over HTTP with the trained model: tests/integration/test_consent_http.py."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionActOnConsent, ActionConfirmAct, message_to_confirm
from bot.rasa_ext.consent import ASK_ACTION, ActingConsentPolicy
from tests.actions.conftest import tracker_for
from tests.actions.test_error_replies import DOMAIN

RASA_DOMAIN = Domain.from_directory("domain")


@pytest.fixture
def policy(tmp_path) -> ActingConsentPolicy:  # type: ignore[no-untyped-def]
    storage = LocalModelStorage(tmp_path)
    return ActingConsentPolicy.create(
        {**ActingConsentPolicy.get_default_config(), "threshold": 0.65},
        storage,
        Resource("consent"),
        ExecutionContext(None),  # type: ignore[arg-type]
    )


def said(intent: str, confidence: float, *before: Any) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        "customer:C1001",
        [
            ActionExecuted("action_session_start"),
            *before,
            ActionExecuted(ACTION_LISTEN_NAME),
            UserUttered("我想晚几天还", {"name": intent, "confidence": confidence}),
        ],
        slots=RASA_DOMAIN.slots,
    )


def predicted(policy: ActingConsentPolicy, tracker: DialogueStateTracker) -> str | None:
    prediction = policy.predict_action_probabilities(tracker, RASA_DOMAIN)
    if prediction.max_confidence == 0:
        return None
    return RASA_DOMAIN.action_names_or_texts[prediction.max_confidence_index]


@pytest.mark.parametrize(
    ("intent", "confidence", "expected"),
    [
        ("never_borrowed", 0.5, ASK_ACTION),
        ("complain", 0.649, ASK_ACTION),
        ("request_extension", 0.5, None),  # its form asks the reason and records only on "确认办理"
        ("request_human", 0.41, ASK_ACTION),
        ("request_extension", 0.65, None),  # at the threshold: acts
        ("report_scam", 1.0, None),  # a button or a keyword component: acts
        ("ask_amount_due", 0.5, None),  # answers, opens nothing: never asked about
        ("out_of_scope", 0.3, None),
    ],
)
def test_only_an_acting_intent_below_the_threshold_is_asked_about(policy, intent, confidence, expected) -> None:  # type: ignore[no-untyped-def]
    assert predicted(policy, said(intent, confidence)) == expected


def test_a_worried_question_taken_as_a_complaint_is_answered_not_asked_about(policy) -> None:  # type: ignore[no-untyped-def]
    tracker = said("complain", 0.5)
    tracker.latest_message.text = "你们会不会打电话给我老板？"
    assert predicted(policy, tracker) is None


def test_the_policy_outranks_the_rules_and_listens_after_asking(policy) -> None:  # type: ignore[no-untyped-def]
    assert policy.priority > 6  # RulePolicy's priority: a tie at 1.0 goes to the question
    tracker = said("complain", 0.5)
    tracker.update(ActionExecuted(ASK_ACTION))
    assert predicted(policy, tracker) == ACTION_LISTEN_NAME


def test_inside_a_form_nothing_changes(policy) -> None:  # type: ignore[no-untyped-def]
    tracker = said("complain", 0.5, ActionExecuted("extension_form"), ActiveLoop("extension_form"))
    assert tracker.active_loop_name == "extension_form"
    assert predicted(policy, tracker) is None


def user(intent: str, text: str = "...", confidence: float = 0.5) -> dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent, "confidence": confidence}}}


def action(name: str) -> dict[str, Any]:
    return {"event": "action", "name": name}


ASKED = [action("action_listen"), user("complain", "你们天天发短信烦死了"), action(ASK_ACTION), {"event": "bot"}]


def test_the_message_asked_about_is_found_only_right_after_the_question() -> None:
    yes = [*ASKED, action("action_listen"), user("affirm", "是的"), {"event": "slot", "name": "language"}]
    assert message_to_confirm(yes)["text"] == "你们天天发短信烦死了"
    # Something else happened after the question: a "yes" is not an answer to it.
    later = [
        *ASKED,
        action("action_listen"),
        user("greet"),
        action("utter_greet"),
        action("action_listen"),
        user("affirm"),
    ]
    assert message_to_confirm(later) is None
    assert message_to_confirm([action("action_listen"), user("affirm")]) is None
    assert message_to_confirm([]) is None


async def test_the_question_names_the_task_with_yes_and_no_buttons_in_the_customers_language() -> None:
    for language, text, yes, no in (
        ("zh", "您说的是「投诉催收」吗？", "是的", "不是"),
        ("en", "Complain about collection", "Yes", "No"),
    ):
        tracker = tracker_for("customer:C1001", intent="complain")
        tracker.slots["language"] = language
        dispatcher = CollectingDispatcher()
        assert await ActionConfirmAct().run(dispatcher, tracker, DOMAIN) == []
        (message,) = dispatcher.messages
        assert message["response"] == "utter_confirm_act" and message["topic"] in text
        assert [(b["title"], b["payload"]) for b in message["buttons"]] == [(yes, "/complain"), (no, "/deny")]


async def test_a_typed_yes_puts_the_message_back_as_the_task_at_full_confidence() -> None:
    tracker = tracker_for(
        "customer:C1001", intent="affirm", events=[*ASKED, action("action_listen"), user("affirm", "是的", 0.99)]
    )
    dispatcher = CollectingDispatcher()
    listen, again = await ActionActOnConsent().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages == []
    assert listen["event"] == "action" and listen["name"] == ACTION_LISTEN_NAME
    assert again["event"] == "user" and again["text"] == "你们天天发短信烦死了"
    assert again["parse_data"]["intent"] == {"name": "complain", "confidence": 1.0}


async def test_a_yes_to_nothing_is_asked_what_the_customer_wants() -> None:
    tracker = tracker_for("customer:C1001", intent="affirm", events=[action("action_listen"), user("affirm", "是的")])
    dispatcher = CollectingDispatcher()
    assert await ActionActOnConsent().run(dispatcher, tracker, DOMAIN) == []
    assert [m["response"] for m in dispatcher.messages] == ["utter_how_can_i_help"]
