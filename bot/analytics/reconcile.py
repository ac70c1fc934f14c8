"""``python -m bot analytics reconcile``: the events the broker never carried, from the tracker store.

Rasa publishes an event once, in the background; when RabbitMQ is unreachable it keeps the event
only in the Rasa process's memory, so a restart (or a full buffer) loses it for the broker. The
tracker store has every event of every conversation, so reconciling stores each of its events with
``source='reconcile'``; an event the consumer already stored has the same key and is skipped. Run after
an outage, or daily: after a complete consume it inserts nothing.
"""

from __future__ import annotations

import logging

from bot.analytics.consumer import ConsumeReport
from bot.analytics.sources import tracker_events
from bot.clock import Clock
from bot.services.analytics_store import store_batch
from bot.unit_of_work import UowFactory

logger = logging.getLogger(__name__)


def reconcile(
    uow_factory: UowFactory, clock: Clock, tracker_store_url: str, since: float | None = None, key_prefix: str = "bot"
) -> ConsumeReport:
    """Store every tracker-store event at or after ``since`` (Unix seconds) that is not stored yet."""
    report = ConsumeReport()
    for page in tracker_events(tracker_store_url, since, key_prefix=key_prefix):
        report.add(store_batch(uow_factory, page, "reconcile", clock.now()))
    return report
