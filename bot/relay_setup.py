"""The relay `dispatchbot run` uses, assembled from the settings: its limits, leases and
backoff, and the helpers it reports to (late copies, lead notices, kept messages, the
channels' health, chat moves)."""

from __future__ import annotations

import random
from collections.abc import Mapping

from bot.channel_health import ChannelHealth
from bot.channels.base import Channel
from bot.chat_moves import ChatMover
from bot.config import Settings
from bot.domain.clock import Clock
from bot.held import HeldMessages
from bot.i18n import Translator
from bot.late_sends import late_copies
from bot.relay import Relay, RelayOptions
from bot.relay_setbacks import GiveUpRule, LeadNotices
from storage.chat_moves import ChatMoveStore
from storage.outbox_store import OutboxStore


def relay_from_settings(
    settings: Settings,
    store: OutboxStore,
    channels: Mapping[str, Channel],
    clock: Clock,
    tr: Translator,
) -> Relay:
    relay = Relay(
        store,
        late_copies(channels, store, clock),  # learns of sends answered late
        clock,
        limits=settings.delivery_limits,
        options=RelayOptions(
            concurrency=settings.relay_concurrency,
            lease_seconds=settings.outbox_lease_seconds,
            max_backoff=settings.relay_max_backoff_seconds,
            base_backoff=min(1.0, settings.relay_max_backoff_seconds),
            give_up=GiveUpRule(settings.relay_give_up_attempts, settings.relay_give_up_seconds),
        ),
        notices=LeadNotices(store, tr, clock),
        held=HeldMessages(store, channels, tr, clock, settings.held_message_expiry),
        owner=f"{settings.instance}/{random.getrandbits(32):08x}",
    )
    relay.setbacks.health = ChannelHealth(
        channels, relay.metrics, store, relay.wake, settings.token_probe_seconds
    )
    relay.setbacks.mover = ChatMover(ChatMoveStore(store.engine), clock, relay.wake)
    return relay
