"""The analytics event pipeline: Rasa's events of every conversation into ``analytics_events``.

Rasa publishes each new event of a conversation to an event broker: RabbitMQ in the scaled set-up
(``endpoints.scaled.yml``), its SQL event broker's table in the embedded one (``endpoints.yml``).
``python -m bot analytics consume`` reads either source in batches and stores each batch in one
transaction (``bot.services.analytics_store``), acknowledging messages only after the commit;
``python -m bot analytics reconcile`` adds what the broker never carried (Rasa keeps events it could
not publish only in memory) from the tracker store. Every event has a key derived from its content
(``events.event_key``), so storing the same event again, from any source, changes nothing.

- ``events``: pure functions, an event (a dict) to a row or a reason to reject it.
- ``consumer``: the RabbitMQ and SQL-table consumers.
- ``sources``: reading Rasa's tables and the Redis tracker store.
- ``reconcile``: the tracker store's events the broker never carried.
- ``metrics``, ``report``: the figures read from these tables (``python -m bot report``).
"""
