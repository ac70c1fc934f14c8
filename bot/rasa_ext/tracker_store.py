"""Rasa's SQL tracker store, configured by one SQLAlchemy URL (``TRACKER_STORE_URL``).

endpoints.scaled.yml::

    tracker_store:
      type: bot.rasa_ext.tracker_store.UrlSQLTrackerStore
      url: ${TRACKER_STORE_URL}     # e.g. postgresql://bot@db.internal:5432/rasa_trackers

Several Rasa workers share it; ``python -m bot conversations prune`` applies the retention
period to it.
"""

from __future__ import annotations

from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from sqlalchemy.engine import make_url


class UrlSQLTrackerStore(SQLTrackerStore):
    def __init__(
        self,
        host: str | None = None,
        domain: Domain | None = None,
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        if not host:
            raise ValueError("tracker_store needs `url`: an SQLAlchemy URL such as postgresql://user@host/db")
        url = make_url(host)
        super().__init__(
            domain=domain,
            dialect=url.get_backend_name(),
            host=url.host,
            port=url.port,
            db=url.database or "rasa.db",
            username=url.username,
            password=url.password,
            event_broker=event_broker,
            login_db=kwargs.get("login_db"),
            query=dict(url.query) or None,
        )
