"""The per-IP limit behind a proxy, over real connections from different loopback addresses: the
proxy (127.0.0.2, trusted) passes each customer's address in X-Forwarded-For and each gets their own
budget; a client connecting directly (127.0.0.3) cannot escape the limit by writing the header."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.servers
LIMIT = 6
SERVER_OPTIONS = {"env": {"RATE_LIMIT_PER_IP": str(LIMIT), "TRUSTED_PROXIES": "127.0.0.2"}}
PROXY, DIRECT = "127.0.0.2", "127.0.0.3"


def post(bot, source: str, sender: str, forwarded_for: str | None = None) -> int:
    """Send one visitor message from ``source`` (the connection's own address); the status code."""
    where = urlsplit(bot.url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30, source_address=(source, 0))
    headers = {"Content-Type": "application/json"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    try:
        conn.request("POST", where.path, body=json.dumps({"message": "你好", "sender": sender}), headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def in_a_fresh_window() -> None:
    """The limits count per minute of the clock (fixed windows): start a burst early in one, so that a
    slow machine cannot spread it over two and stay under the limit."""
    into = time.time() % 60
    if into > 10:
        time.sleep(60 - into + 0.2)


def test_a_direct_client_writing_x_forwarded_for_is_still_limited_on_its_own_address(bot) -> None:
    in_a_fresh_window()
    codes = [post(bot, DIRECT, f"visitor_direct_{k}", forwarded_for=f"198.51.100.{k}") for k in range(LIMIT + 1)]
    assert codes == [200] * LIMIT + [429]


def test_behind_the_trusted_proxy_each_customer_has_their_own_budget(bot) -> None:
    # One customer behind the proxy goes on until the limit stops them.
    in_a_fresh_window()
    alone = [post(bot, PROXY, f"visitor_proxied_0_{k}", "203.0.113.0") for k in range(LIMIT + 1)]
    assert alone == [200] * LIMIT + [429]
    # Seven others behind the same proxy, three messages each: with the first one's, 28 messages from
    # one address, and none of theirs refused.
    codes = [post(bot, PROXY, f"visitor_proxied_{c}_{k}", f"203.0.113.{c}") for c in range(1, 8) for k in range(3)]
    assert codes == [200] * 21


def test_through_the_proxy_a_client_that_writes_its_own_header_is_keyed_on_what_the_proxy_saw(bot) -> None:
    # The proxy appends the address it received from; what the client wrote to its left is ignored.
    in_a_fresh_window()
    codes = [post(bot, PROXY, f"visitor_chain_{k}", f"10.9.9.{k}, 203.0.113.200") for k in range(LIMIT + 1)]
    assert codes == [200] * LIMIT + [429]
