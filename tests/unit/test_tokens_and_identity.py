import datetime as dt

import jwt
import pytest

from bot.identity import customer_conversation, verified_customer_id, visitor_conversation
from bot.tokens import InvalidToken, mint, verify

SECRET = "unit-test-secret-0123456789abcdef0123"


def test_a_minted_token_verifies_to_its_customer_id():
    assert verify(mint("C1001", SECRET), SECRET) == "C1001"


def test_an_expired_token_is_rejected():
    issued = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=3)
    with pytest.raises(InvalidToken):
        verify(mint("C1001", SECRET, ttl=dt.timedelta(hours=1), now=issued), SECRET)


def test_a_token_signed_with_another_secret_is_rejected():
    with pytest.raises(InvalidToken):
        verify(mint("C1001", "another-secret-0123456789abcdef0123"), SECRET)


def test_a_tampered_token_is_rejected():
    header, payload, signature = mint("C1001", SECRET).split(".")
    forged_payload = jwt.utils.base64url_encode(b'{"sub":"C1002","exp":9999999999}').decode()
    with pytest.raises(InvalidToken):
        verify(f"{header}.{forged_payload}.{signature}", SECRET)


def test_an_unsigned_token_is_rejected():
    unsigned = jwt.encode({"sub": "C1001", "exp": 9999999999}, None, algorithm="none")
    with pytest.raises(InvalidToken):
        verify(unsigned, SECRET)


def test_a_token_without_expiry_is_rejected():
    with pytest.raises(InvalidToken):
        verify(jwt.encode({"sub": "C1001"}, SECRET, algorithm="HS256"), SECRET)


def test_a_token_whose_subject_is_not_a_customer_id_is_rejected():
    token = jwt.encode({"sub": "C1001:visitor", "exp": 9999999999}, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        verify(token, SECRET)


def test_customer_and_visitor_conversations_never_collide_and_only_customers_have_a_customer_id():
    assert verified_customer_id(customer_conversation("C1001")) == "C1001"
    visitor = visitor_conversation("customer-C1001")
    assert visitor != customer_conversation("C1001")
    assert verified_customer_id(visitor) is None
    assert verified_customer_id("C1001") is None


@pytest.mark.parametrize("sender", ["short", "has:colon123", "x" * 65, "空格 不行 abcdefgh", ""])
def test_bad_anonymous_sender_ids_are_refused(sender):
    with pytest.raises(ValueError):
        visitor_conversation(sender)
