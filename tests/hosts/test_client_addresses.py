"""The per-IP rate limit keys on the real client: X-Forwarded-For only from the trusted proxy (lb)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.hosts.topology import APP, DATA, LB, add_client_address, post, redis_client

LIMIT = 120  # RATE_LIMIT_PER_IP's default, which scripts/hosts.sh leaves as it is

pytestmark = pytest.mark.usefixtures("topology")


def _window_fresh() -> None:
    """Keep the burst inside one fixed minute window of the limiter (bot/rasa_ext/limits.py)."""
    if time.time() % 60 > 45:
        time.sleep(60 - time.time() % 60 + 0.5)


def _burst(address: tuple[str, int], source: str | None, n: int) -> list[int]:
    """n requests with an empty body (400 once admitted, 429 once limited), each spoofing another address."""
    return [post(address, {}, {"X-Forwarded-For": f"203.0.113.{i % 250}"}, source, 5)[0] for i in range(n)]


def _ip_keys() -> set[str]:
    return {key.split(":")[3].split("/")[0] for key in redis_client().scan_iter("bot:limit:ip:*")}


def test_through_lb_each_client_has_its_own_budget(figures: dict[str, Any]) -> None:
    first, second = "10.77.0.201", "10.77.0.202"
    add_client_address(first)
    add_client_address(second)
    _window_fresh()
    statuses = _burst(LB, first, LIMIT + 5)
    assert statuses[:LIMIT] == [400] * LIMIT, "the first client's own budget"
    assert set(statuses[LIMIT:]) == {429}, "a spoofed X-Forwarded-For through lb does not escape the limit"
    # Another customer behind the same proxy is not limited by the first one's burst.
    assert post(LB, {}, {}, second, 5)[0] == 400
    keys = _ip_keys()
    assert first in keys and second in keys
    assert "10.77.0.10" not in keys, "lb's own address must never be the key"
    assert not any(k.startswith("203.0.113.") for k in keys), "a client-written X-Forwarded-For entry was believed"
    figures["client_addresses"] = {"through_lb": {"limit": LIMIT, "admitted": statuses.count(400), "limited": 5}}


def test_spoofed_forwarded_for_sent_directly_to_an_app_is_ignored(figures: dict[str, Any]) -> None:
    """From the data namespace straight to app1 (not a trusted proxy): the peer address counts."""
    _window_fresh()
    script = (
        "import json, sys, urllib.request, urllib.error\n"
        "out = []\n"
        f"for i in range({LIMIT + 5}):\n"
        f"    req = urllib.request.Request('http://{APP['app1']}:5005/webhooks/inapp/webhook', data=b'{{}}',"
        " headers={'Content-Type': 'application/json', 'X-Forwarded-For': f'198.51.100.{i % 250}'})\n"
        "    try:\n"
        "        out.append(urllib.request.urlopen(req, timeout=5).status)\n"
        "    except urllib.error.HTTPError as e:\n"
        "        out.append(e.code)\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        ["ip", "netns", "exec", "data", sys.executable, "-c", script], check=True, capture_output=True, text=True
    )
    statuses = json.loads(done.stdout)
    assert statuses[:LIMIT] == [400] * LIMIT
    assert set(statuses[LIMIT:]) == {429}, "rotating spoofed X-Forwarded-For values bypassed the per-IP limit"
    keys = _ip_keys()
    assert DATA in keys
    assert not any(k.startswith("198.51.100.") for k in keys)
    figures["client_addresses"]["direct_spoofed"] = {"admitted": statuses.count(400), "limited": statuses.count(429)}
