"""Rasa events as analytics rows (bot/analytics/events.py): validation, keys, masking."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.analytics.events import MAX_BODY, Rejected, decode, event_key, reject_body, to_row

TS = 1796170000.123456


def user(text: str = "我现在欠多少钱", sender: str = "customer:C1001", **extra: object) -> dict:
    return {
        "sender_id": sender,
        "event": "user",
        "timestamp": TS,
        "text": text,
        "parse_data": {"intent": {"name": "ask_amount_due", "confidence": 0.93}, "entities": [], "text": text},
        "input_channel": "inapp",
        "message_id": "m1",
        "metadata": {},
        **extra,
    }


def test_a_user_event_becomes_a_row_with_its_intent_confidence_text_and_utc_time():
    row = to_row(user())
    assert not isinstance(row, Rejected)
    assert row["conversation_id"] == "customer:C1001"
    assert row["verified"] is True
    assert row["event_type"] == "user"
    assert row["name"] == "ask_amount_due"
    assert row["intent_confidence"] == pytest.approx(0.93)
    assert row["text"] == "我现在欠多少钱"
    assert row["value"] is None
    assert row["at"] == dt.datetime(2026, 12, 2, 0, 6, 40, 123456)  # UTC, naive
    assert len(row["event_key"]) == 64


@pytest.mark.parametrize(
    ("event", "name", "text", "value"),
    [
        ({"event": "action", "name": "action_account_overview", "policy": "RulePolicy", "confidence": 1.0}, "action_account_overview", None, None),
        ({"event": "bot", "text": "您好，请问有什么可以帮您？", "data": {}, "metadata": {"utter_action": "utter_greet"}}, None, "您好，请问有什么可以帮您？", None),
        ({"event": "slot", "name": "language", "value": "zh"}, "language", None, '"zh"'),
        ({"event": "slot", "name": "loan_id", "value": None}, "loan_id", None, "null"),
        ({"event": "active_loop", "name": "extension_form"}, "extension_form", None, None),
        ({"event": "session_started"}, None, None, None),
    ],
)  # fmt: skip
def test_each_kind_of_event_keeps_its_name_text_or_slot_value(event, name, text, value):
    row = to_row({"sender_id": "visitor:abc12345", "timestamp": TS, **event})
    assert not isinstance(row, Rejected)
    assert (row["name"], row["text"], row["value"]) == (name, text, value)
    assert row["verified"] is False
    assert row["intent_confidence"] is None


def test_secrets_in_texts_and_slot_values_are_masked_and_slot_values_stay_json():
    row = to_row(user("验证码 482913，卡号 6222021234567890128"))
    assert not isinstance(row, Rejected)
    assert "482913" not in row["text"] and "6222021234567890" not in row["text"]
    assert row["text"].endswith("0128")
    slot = to_row({"sender_id": "s:1", "event": "slot", "timestamp": TS, "name": "card", "value": [6222021234567890128, {"otp": "code 482913"}]})  # fmt: skip
    assert not isinstance(slot, Rejected)
    assert "6222021234567890" not in slot["value"] and "482913" not in slot["value"]
    assert json.loads(slot["value"])[0].endswith("0128")  # the masked number is a string, the JSON valid


def test_the_same_event_gets_the_same_key_from_the_broker_and_from_the_tracker_store():
    published = user()
    stored = json.loads(json.dumps({k: v for k, v in published.items() if k != "sender_id"}))
    stored["sender_id"] = "customer:C1001"  # reconcile adds it back
    assert event_key(published) == event_key(stored)
    reordered = dict(reversed(list(published.items())))
    assert event_key(reordered) == event_key(published)


@pytest.mark.parametrize(
    "change",
    [
        {"sender_id": "customer:C1002"},
        {"timestamp": TS + 0.000001},
        {"text": "我现在欠多少钱?"},
        {"parse_data": {"intent": {"name": "greet", "confidence": 0.93}}},
        {"event": "bot"},
    ],
)
def test_events_differing_in_anything_rasa_records_get_different_keys(change):
    assert event_key({**user(), **change}) != event_key(user())


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ([1, 2], "not a JSON object"),
        ("user", "not a JSON object"),
        ({"event": "user", "timestamp": TS}, "sender_id missing or not a string"),
        ({"sender_id": 7, "event": "user", "timestamp": TS}, "sender_id missing or not a string"),
        ({"sender_id": "x" * 81, "event": "user", "timestamp": TS}, "sender_id longer than 80 characters"),
        ({"sender_id": "s", "timestamp": TS}, "event missing or not a string"),
        ({"sender_id": "s", "event": "u" * 33, "timestamp": TS}, "event type longer than 32 characters"),
        ({"sender_id": "s", "event": "user"}, "timestamp missing or not a number"),
        ({"sender_id": "s", "event": "user", "timestamp": "1796170000"}, "timestamp missing or not a number"),
        ({"sender_id": "s", "event": "user", "timestamp": True}, "timestamp missing or not a number"),
        ({"sender_id": "s", "event": "user", "timestamp": float("nan")}, "timestamp out of range"),
        ({"sender_id": "s", "event": "user", "timestamp": 1e300}, "timestamp out of range"),
        ({"sender_id": "s", "event": "user", "timestamp": -1}, "timestamp out of range"),
    ],
)
def test_what_is_not_an_event_is_rejected_with_the_reason(event, reason):
    rejected = to_row(event)
    assert isinstance(rejected, Rejected)
    assert rejected.reason == reason


def test_a_body_that_is_not_json_is_rejected_with_its_first_4000_characters_masked():
    rejected = decode(b"\xff\xfe not json 6222021234567890128 " + b"x" * 10_000)
    assert isinstance(rejected, Rejected)
    assert rejected.reason.startswith("not JSON")
    assert len(rejected.body) == MAX_BODY
    assert "6222021234567890" not in rejected.body
    assert isinstance(decode(b'{"truncated": '), Rejected)
    assert decode(b'{"a": 1}') == {"a": 1}


def test_text_a_database_would_refuse_is_made_storable_not_rejected():
    row = to_row(user("nul\x00 and a lone surrogate \ud800 here"))
    assert not isinstance(row, Rejected)
    assert "\x00" not in row["text"] and "\ud800" not in row["text"]
    row["text"].encode("utf-8")  # storable as UTF-8
    assert "\x00" not in reject_body("a\x00b")


def test_confidence_and_names_of_odd_shapes_are_left_empty_not_guessed():
    row = to_row(user(parse_data={"intent": {"name": 5, "confidence": "high"}}))
    assert not isinstance(row, Rejected)
    assert row["name"] is None and row["intent_confidence"] is None
    row = to_row(user(parse_data="oops"))
    assert not isinstance(row, Rejected) and row["name"] is None
    row = to_row({"sender_id": "s", "event": "action", "timestamp": TS, "name": "a" * 200})
    assert not isinstance(row, Rejected) and len(row["name"]) == 80
