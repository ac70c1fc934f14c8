"""Request validation of the in-app channel (CONTRACTS section 3), without a server."""

import json

import pytest

from bot.rasa_ext.channel import BadRequest, conversation_for, parse_body
from bot.tokens import mint

SECRET = "channel-test-secret-0123456789abcdef"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"", 400),
        (b"not json", 400),
        (b"\xff\xfe", 400),
        (b"[1, 2]", 400),
        (b'"just a string"', 400),
        (b"{}", 400),
        (b'{"message": 42}', 400),
        (b'{"message": null}', 400),
        (b'{"message": "   "}', 400),
        (json.dumps({"message": "x" * 2001}).encode(), 413),
        (b"[" * 100000 + b"]" * 100000, 400),
    ],
)
def test_bad_bodies_get_a_4xx_with_a_reason(raw, status):
    with pytest.raises(BadRequest) as caught:
        parse_body(raw)
    assert caught.value.status == status and caught.value.error


def test_a_message_of_exactly_2000_characters_is_accepted():
    assert parse_body(json.dumps({"message": "啊" * 2000}).encode())["message"] == "啊" * 2000


def test_a_valid_token_selects_the_customers_conversation_whatever_the_body_says():
    body = {"message": "hi", "sender": "customer-C1002"}
    assert conversation_for(f"Bearer {mint('C1001', SECRET)}", body, SECRET) == ("customer:C1001", "C1001")


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic abc", "Bearer not.a.jwt", "token"])
def test_a_bad_authorization_header_is_401_and_never_falls_back_to_anonymous(header):
    with pytest.raises(BadRequest) as caught:
        conversation_for(header, {"message": "hi", "sender": "abcdefgh12"}, SECRET)
    assert caught.value.status == 401


def test_anonymous_visitors_get_a_namespaced_conversation_and_need_a_valid_sender():
    assert conversation_for(None, {"message": "hi", "sender": "abcDEF_123-x"}, SECRET) == ("visitor:abcDEF_123-x", None)
    for sender in [None, 12345678, "short", "x" * 65, "has space 123", "customer:C1001"]:
        with pytest.raises(BadRequest) as caught:
            conversation_for(None, {"message": "hi", "sender": sender}, SECRET)
        assert caught.value.status == 400
