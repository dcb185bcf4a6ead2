"""In-process counters and histograms, shown by GET /metrics in Prometheus' text format.

Each instance counts what it did itself (sends, 429s, retries, updates, scheduler
passes); figures that hold for the whole system (cases, outbox depth) are read from
the database when /metrics is asked. No label ever carries personal data.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

LabelValues = tuple[str, ...]

#: Seconds: from a fast local call to a stalled platform.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip


def escape_label(value: str) -> str:
    """A label value as Prometheus' text format quotes it."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{escape_label(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass
class Counter:
    name: str
    help: str
    labels: tuple[str, ...] = ()
    _values: dict[LabelValues, float] = field(default_factory=dict)

    def inc(self, *values: str, by: float = 1.0) -> None:
        self._values[values] = self._values.get(values, 0.0) + by

    def value(self, *values: str) -> float:
        return self._values.get(values, 0.0)

    def total(self) -> float:
        return sum(self._values.values())

    def render(self) -> Iterator[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for values, v in sorted(self._values.items()):
            yield f"{self.name}{_labels(self.labels, values)} {_number(v)}"


@dataclass
class Gauge:
    name: str
    help: str
    labels: tuple[str, ...] = ()
    _values: dict[LabelValues, float] = field(default_factory=dict)

    def set(self, value: float, *values: str) -> None:
        self._values[values] = value

    def value(self, *values: str) -> float:
        return self._values.get(values, 0.0)

    def render(self) -> Iterator[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} gauge"
        for values, v in sorted(self._values.items()):
            yield f"{self.name}{_labels(self.labels, values)} {_number(v)}"


@dataclass
class _Series:
    counts: list[int]
    sum: float = 0.0
    count: int = 0


@dataclass
class Histogram:
    name: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    _series: dict[LabelValues, _Series] = field(default_factory=dict)

    def observe(self, value: float, *values: str) -> None:
        series = self._series.get(values)
        if series is None:
            series = self._series[values] = _Series([0] * len(self.buckets))
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                series.counts[i] += 1
        series.sum += value
        series.count += 1

    def count(self, *values: str) -> int:
        series = self._series.get(values)
        return series.count if series else 0

    def render(self) -> Iterator[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        for values, s in sorted(self._series.items()):
            for bound, n in zip(self.buckets, s.counts, strict=True):
                le = f'le="{_number(bound)}"'
                yield f"{self.name}_bucket{_labels(self.labels, values, le)} {n}"
            inf = 'le="+Inf"'
            yield f"{self.name}_bucket{_labels(self.labels, values, inf)} {s.count}"
            yield f"{self.name}_sum{_labels(self.labels, values)} {_number(s.sum)}"
            yield f"{self.name}_count{_labels(self.labels, values)} {s.count}"


class Metrics:
    """This instance's figures; one object, made at bootstrap and passed around."""

    def __init__(self) -> None:
        self.send_seconds = Histogram(
            "dispatch_send_seconds",
            "Time of one platform call that sends or edits a message.",
            ("channel", "operation"),
        )
        self.sent = Counter(
            "dispatch_messages_sent_total",
            "Outbox messages delivered (an edit that changed nothing counts too).",
            ("channel",),
        )
        self.too_many_requests = Counter(
            "dispatch_send_429_total",
            "Sends the platform refused with 429 Too Many Requests.",
            ("channel",),
        )
        self.retries = Counter(
            "dispatch_send_retries_total",
            "Sends put off to be tried again, by reason (429, error).",
            ("channel", "reason"),
        )
        self.failed = Counter(
            "dispatch_messages_failed_total",
            "Messages given up: the chat blocked the bot, is gone, or the request is bad.",
            ("channel",),
        )
        self.given_up = Counter(
            "dispatch_messages_given_up_total",
            "Messages given up so their chat goes on, by why: undeliverable (the chat"
            " refuses the bot), rejected (a 4xx or a proxy's page), given_up (kept failing"
            " while the platform worked).",
            ("channel", "reason"),
        )
        self.channel_paused = Gauge(
            "dispatch_channel_paused",
            "1 while the platform refuses the channel's token: nothing is sent or received"
            " on it, every message waits.",
            ("channel",),
        )
        self.superseded = Counter(
            "dispatch_card_edits_coalesced_total",
            "Card edits never sent because a later edit of the same card was waiting.",
            ("channel",),
        )
        self.uncertain = Counter(
            "dispatch_send_uncertain_total",
            "Sends interrupted by a crash before their answer was recorded, sent again.",
            ("channel",),
        )
        self.pacing_seconds = Counter(
            "dispatch_send_pacing_seconds_total",
            "Seconds sends waited to stay within the platform's rate limits.",
            ("channel",),
        )
        self.update_seconds = Histogram(
            "dispatch_update_seconds",
            "Time to process one incoming update (command, button, message), commit included.",
            ("channel", "kind"),
        )
        self.passes = Counter(
            "dispatch_scheduler_passes_total",
            "Scheduler passes run on this instance, by pass and outcome.",
            ("name", "outcome"),
        )
        self.pass_seconds = Histogram(
            "dispatch_scheduler_pass_seconds",
            "Duration of a scheduler pass.",
            ("name",),
            buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0),
        )
        self.pass_messages = Counter(
            "dispatch_scheduler_messages_total",
            "Messages queued by scheduler passes (reminders, escalations, digests).",
            ("name",),
        )
        self.leader = Gauge(
            "dispatch_scheduler_leader",
            "1 when this instance holds the scheduler lock and runs the periodic passes.",
        )
        self.relay_instances = Gauge(
            "dispatch_relay_instances",
            "Instances whose relay is alive; they share the overall send limit.",
        )

    def render(self) -> list[str]:
        families = (
            self.send_seconds,
            self.sent,
            self.too_many_requests,
            self.retries,
            self.failed,
            self.given_up,
            self.channel_paused,
            self.superseded,
            self.uncertain,
            self.pacing_seconds,
            self.update_seconds,
            self.passes,
            self.pass_seconds,
            self.pass_messages,
            self.leader,
            self.relay_instances,
        )
        return [line for family in families for line in family.render()]
