"""A complaint is recorded only when the customer agrees when asked."""

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionRecordComplaint, complaint_consent
from bot.services.cases import list_cases
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.actions.conftest import tracker_for


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("登记投诉", True),
        ("是的", True),
        ("Record a complaint", True),
        ("yes", True),
        ("不用了", False),
        ("No, thanks", False),
        ("嗯？", None),
    ],
)
def test_the_answer_to_the_complaint_offer_is_read_in_both_languages(text, answer):
    assert complaint_consent(text) is answer


async def test_without_consent_nothing_is_recorded_and_the_customer_hears_their_rights(records):
    tracker = tracker_for("customer:C1001", "complain")
    tracker.slots["complaint_consent"] = "no"
    dispatcher = CollectingDispatcher()
    events = await ActionRecordComplaint().run(dispatcher, tracker, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_complaint_rights", "utter_complaint_not_recorded"]
    assert list_cases(lambda: SqlAlchemyUnitOfWork(records), "complaint") == []
    assert all(e.get("event") != "pause" for e in events)


async def test_with_consent_the_complaint_is_recorded_and_escalated(records):
    tracker = tracker_for(
        "customer:C1001",
        "inform",
        events=[{"event": "user", "text": "你们催收打电话到我单位", "parse_data": {"intent": {"name": "complain"}}}],
    )
    tracker.slots["complaint_consent"] = "yes"
    dispatcher = CollectingDispatcher()
    events = await ActionRecordComplaint().run(dispatcher, tracker, {})
    (case,) = list_cases(lambda: SqlAlchemyUnitOfWork(records), "complaint")
    assert case.details.startswith("contact_family_employer") and "单位" in case.details
    assert dispatcher.messages[0]["reference"] == case.reference
    assert {"event": "pause", "timestamp": None} in events


def test_a_question_at_the_complaint_offer_is_answered_not_taken_as_no():
    from actions.handoff import ValidateComplaintForm

    dispatcher = CollectingDispatcher()
    slots = ValidateComplaintForm().validate_complaint_consent(
        "what do I do to make it stop?", dispatcher, tracker_for("visitor:abcdefgh", "inform"), {}
    )
    assert slots == {"complaint_consent": None}  # asked again, not a refusal
    assert [m["response"] for m in dispatcher.messages] == ["utter_complaint_rights", "utter_complaint_help"]


async def test_a_worried_question_is_answered_and_leads_to_no_complaint_offer(no_records):
    from actions.handoff import ActionPrepareComplaint

    for question in ("会不会打电话给我家里人", "will your collectors call my boss?"):
        tracker = tracker_for("visitor:abcdefgh", "complain")
        tracker.latest_message["text"] = question
        dispatcher = CollectingDispatcher()
        events = await ActionPrepareComplaint().run(dispatcher, tracker, {})
        assert [m["response"] for m in dispatcher.messages] == ["utter_collection_contact_rules"]
        assert {"event": "slot", "timestamp": None, "name": "complaint_stage", "value": "answered"} in events


async def test_a_complaint_about_what_happened_gets_the_offer_to_record_it(no_records):
    from actions.handoff import ActionPrepareComplaint

    tracker = tracker_for("visitor:abcdefgh", "complain")
    tracker.latest_message["text"] = "你们催收打电话给我父母，太过分了"
    dispatcher = CollectingDispatcher()
    events = await ActionPrepareComplaint().run(dispatcher, tracker, {})
    assert dispatcher.messages == []
    assert {"event": "slot", "timestamp": None, "name": "complaint_stage", "value": "ask"} in events
