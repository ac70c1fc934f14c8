"""bench/run.py's per-minute figures of the soak (issue 19: the last minute against the first)."""

from __future__ import annotations

from bench.run import by_minute


def test_each_whole_minute_counts_only_the_messages_answered_in_it() -> None:
    started = 1000.0
    # minute 1: 120 messages of 10 ms; minute 2: 57 of 20 ms and 3 slow ones; 30 s more: left out
    answered = [(started + k * 0.5, 10.0) for k in range(120)]
    answered += [(started + 60 + k, 20.0) for k in range(57)] + [(started + 119 + k / 4, 900.0) for k in range(3)]
    answered += [(started + 120 + k, 5.0) for k in range(30)]
    minutes = by_minute(answered, started, 150)
    assert [m["minute"] for m in minutes] == [1, 2]
    assert minutes[0] == {"minute": 1, "messages_per_s": 2.0, "p50_ms": 10.0, "p99_ms": 10.0}
    assert minutes[1]["messages_per_s"] == 1.0 and minutes[1]["p50_ms"] == 20.0
    assert minutes[1]["p99_ms"] == 900.0  # the slow messages are in the second minute's tail
