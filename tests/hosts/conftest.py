"""The hosts topology (scripts/hosts.sh) for the tests of this directory: up once, down at the end.

These tests need root and take minutes; `make test-hosts` runs them (RUN_HOSTS_TESTS=1), the
normal `make test` does not collect them (tests/conftest.py). Figures go to bench/hosts.json.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.hosts.topology import ROOT, STATE, hosts

FIGURES = ROOT / "bench" / "hosts.json"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/hosts/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.hosts)


@pytest.fixture(scope="session")
def topology() -> Iterator[None]:
    if os.environ.get("RUN_HOSTS_TESTS") != "1":
        pytest.skip("the hosts tests run with `make test-hosts` (RUN_HOSTS_TESTS=1)")
    if os.geteuid() != 0:
        pytest.fail("the hosts tests need root (network namespaces)")
    # HOSTS_REUSE=1 (while writing tests): use a topology that is up already and leave it up.
    if os.environ.get("HOSTS_REUSE") == "1" and (STATE / "haproxy.cfg").exists():
        yield
        return
    hosts("up")
    try:
        yield
    finally:
        hosts("down")


@pytest.fixture(scope="session")
def figures() -> Iterator[dict[str, Any]]:
    found: dict[str, Any] = {}
    yield found
    if found:
        previous = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
        previous.update(found)
        FIGURES.write_text(json.dumps(previous, indent=2, ensure_ascii=False) + "\n")
        print("\nhosts figures (bench/hosts.json):\n" + json.dumps(found, indent=2, ensure_ascii=False))
