"""Failover: 20 concurrent conversations through lb while app1 dies (kill -9) and while its link is cut.

Every message is answered (the client retries with its client_message_id; the server handles each
at most once), each conversation's events in the shared Redis tracker store are complete, in order
and stored once, and conversations go on on app2 with their state (one session, same events).
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

import pytest

from tests.hosts.topology import Load, check_conversations, clients, hosts, moved, wait_state

pytestmark = pytest.mark.usefixtures("topology")

BEFORE_FAULT_S = 8
AFTER_FAULT_S = 16


def _report(name: str, load: Load, fault_at: float, figures: dict[str, Any], **extra: Any) -> dict[str, Any]:
    found = check_conversations(load.clients)
    found["moved_app1_to_app2"] = moved(load.clients, fault_at)
    found.update(extra)
    figures.setdefault("failover", {})[name] = found
    print(f"\n{name}: {found}")
    return found


def _assert_ok(found: dict[str, Any]) -> None:
    assert not found["problems"], found["problems"][:10]
    assert found["answered"] == found["turns"] > 0
    assert found["moved_app1_to_app2"] > 0, "no conversation continued on app2"


def test_app1_processes_killed(figures: dict[str, Any]) -> None:
    with Load(clients(101)) as load:
        time.sleep(BEFORE_FAULT_S)
        fault_at = time.monotonic()
        hosts("stop-app", "app1")  # kill -9 of every process in app1's namespace
        marked_down = wait_state("app1", "DOWN", 30)
        time.sleep(AFTER_FAULT_S)
    found = _report("kill_app1", load, fault_at, figures, haproxy_marked_down_after_s=round(marked_down, 2))
    hosts("start-app", "app1")  # back for the next test
    wait_state("app1", "UP", 30)
    _assert_ok(found)


def test_app1_link_cut(figures: dict[str, Any]) -> None:
    with Load(clients(131)) as load:
        time.sleep(BEFORE_FAULT_S)
        fault_at = time.monotonic()
        subprocess.run(["ip", "link", "set", "vh-app1", "down"], check=True)
        try:
            marked_down = wait_state("app1", "DOWN", 30)
            time.sleep(AFTER_FAULT_S)
        finally:
            subprocess.run(["ip", "link", "set", "vh-app1", "up"], check=True)
        back = wait_state("app1", "UP", 60)
        time.sleep(4)  # a few turns on app1 again
    time.sleep(3)  # anything app1 still had in flight would land now
    found = _report(
        "link_cut_app1",
        load,
        fault_at,
        figures,
        haproxy_marked_down_after_s=round(marked_down, 2),
        cut_s=round(AFTER_FAULT_S + marked_down, 2),
        app1_up_again_after_restore_s=round(back, 2),
    )
    _assert_ok(found)
