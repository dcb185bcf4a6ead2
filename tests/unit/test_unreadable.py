"""How polling lives with an update it cannot read: paced tries, a skip, few log lines."""

from __future__ import annotations

import logging

import pytest

from bot.channels.unreadable import LogEvery, UnreadableUpdates, Verdict


def test_an_update_is_tried_with_a_growing_pause_then_skipped() -> None:
    unreadable = UnreadableUpdates(tries=4, first_pause=0.5, max_pause=60)
    assert [unreadable.failed(7) for _ in range(4)] == [
        Verdict(0.5, skip=False),
        Verdict(1.0, skip=False),
        Verdict(2.0, skip=False),
        Verdict(0.0, skip=True),
    ]
    assert unreadable.skipped == 1
    assert unreadable.failed(8) == Verdict(0.5, skip=False)  # the next one starts afresh


def test_reading_it_after_all_starts_the_count_again() -> None:
    unreadable = UnreadableUpdates(tries=3)
    unreadable.failed(7)
    unreadable.failed(7)
    unreadable.read()
    assert unreadable.failures == 0
    assert not unreadable.failed(7).skip


def test_an_update_without_an_id_is_never_skipped_and_waits_at_most_the_longest_pause() -> None:
    unreadable = UnreadableUpdates(tries=3, first_pause=1, max_pause=8)
    verdicts = [unreadable.failed(None) for _ in range(10)]
    assert not any(v.skip for v in verdicts)
    assert [v.pause for v in verdicts] == [1, 2, 4, 8, 8, 8, 8, 8, 8, 8]


def test_one_line_a_minute_and_the_next_says_how_many_were_held(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    said = LogEvery(logging.getLogger("test.unreadable"), 60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, "test.unreadable"):
        for second in range(0, 150, 2):  # 75 events in two and a half minutes
            now[0] = float(second)
            said.warning("update %s unreadable", second)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "update 0 unreadable",
        "update 60 unreadable (29 more such events in the last 60 seconds)",
        "update 120 unreadable (29 more such events in the last 60 seconds)",
    ]
