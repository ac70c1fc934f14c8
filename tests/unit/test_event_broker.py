"""Rasa's event brokers as the analytics pipeline configures them (bot/rasa_ext/event_broker.py), without RabbitMQ."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bot.rasa_ext.event_broker import UrlPikaEventBroker, UrlSQLEventBroker, with_reconnect_interval


async def test_the_rabbitmq_broker_takes_one_url_and_keeps_its_credentials_out_of_what_rasa_logs(monkeypatch):
    monkeypatch.setenv("ANALYTICS_QUEUE", "q_from_env")
    monkeypatch.setenv("ANALYTICS_EXCHANGE", "x_from_env")
    broker = UrlPikaEventBroker("amqp://bank:s%40cret@mq.internal:5673/events")
    assert "s%40cret" not in broker.host and "bank" not in broker.host  # Rasa logs the host
    assert broker._configure_url() == "amqp://bank:s%40cret@mq.internal:5673/events?reconnect_interval=1"
    assert (broker.queues, broker.exchange_name) == (["q_from_env"], "x_from_env")


async def test_without_a_url_the_rabbitmq_broker_uses_rabbitmq_url(monkeypatch):
    monkeypatch.setenv("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
    broker = UrlPikaEventBroker()
    assert broker._configure_url() == "amqp://guest:guest@127.0.0.1:5672/?reconnect_interval=1"
    assert broker.queues == ["rasa_events"] and broker.exchange_name == "rasa-exchange"


async def test_events_published_before_the_broker_is_connected_are_kept_not_dropped():
    broker = UrlPikaEventBroker("amqp://guest:guest@127.0.0.1:1/")  # never connects
    await broker._publish({"sender_id": "s", "event": "user", "timestamp": 1.0})
    assert list(broker._unpublished_events) == [{"sender_id": "s", "event": "user", "timestamp": 1.0}]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("amqp://h/", "amqp://h/?reconnect_interval=1"),
        ("amqp://h/v?heartbeat=30", "amqp://h/v?heartbeat=30&reconnect_interval=1"),
        ("amqp://h/?reconnect_interval=5", "amqp://h/?reconnect_interval=5"),
    ],
)
def test_the_reconnect_interval_is_short_unless_the_url_sets_one(url, expected):
    assert with_reconnect_interval(url) == expected


def rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT sender_id, data FROM events ORDER BY id").fetchall()


def test_the_sql_broker_writes_rasas_table_and_keeps_what_it_could_not_write(tmp_path: Path):
    path = tmp_path / "events.db"
    broker = UrlSQLEventBroker(f"sqlite:///{path}")
    first = {"sender_id": "visitor:abc12345", "event": "user", "timestamp": 1.0, "text": "你好"}
    broker.publish(first)
    assert rows(path) == [("visitor:abc12345", json.dumps(first))]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)  # readers never block Rasa's writes
        conn.execute("ALTER TABLE events RENAME TO events_away")  # the table is gone for a moment
    second, third = ({**first, "timestamp": t} for t in (2.0, 3.0))
    broker.publish(second)  # fails; the bot does not notice
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE events_away RENAME TO events")
    broker.publish(third)
    assert [json.loads(d)["timestamp"] for _, d in rows(path)] == [1.0, 2.0, 3.0]
