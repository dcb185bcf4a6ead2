"""Everything is built here, once, and passed in: no engine or bot at import time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.base import Channel, UpdateMode
from bot.config import ConfigError, Settings
from bot.domain.clock import Clock, SystemClock
from bot.i18n import Translator
from bot.relay import Relay
from bot.reports.service import ReportDeps, ReportService
from bot.services.cases import CaseService
from bot.services.evidence import Download, MediaError
from bot.sla.policy import Policy, load_policy
from handlers.dispatcher import Dispatcher
from handlers.notify import Notifier
from handlers.ratelimit import CommandLimiter
from handlers.render import Renderer
from storage import schema
from storage.engine import create_engine
from storage.evidence_store import MediaFiles
from storage.outbox_store import OutboxStore
from storage.uow import SqlUnitOfWork


def _telegram(settings: Settings) -> Channel | None:
    if not settings.telegram_bot_token:
        return None
    from bot.channels.telegram import TelegramChannel

    return TelegramChannel(
        settings.telegram_bot_token,
        settings.telegram_api_url,
        mode=UpdateMode(settings.telegram_mode.value),
        webhook_url=settings.telegram_webhook_url,
        webhook_secret=settings.telegram_webhook_secret,
        request_timeout=settings.platform_timeout_seconds,
    )


def _zalo(settings: Settings) -> Channel | None:
    if not settings.zalo_bot_token:
        return None
    from bot.channels.zalo import SECRET_LENGTHS, ZaloChannel

    mode = UpdateMode(settings.zalo_mode.value)
    secret = settings.zalo_webhook_secret
    if mode is UpdateMode.WEBHOOK and (secret is None or len(secret) not in SECRET_LENGTHS):
        raise ConfigError("ZALO_WEBHOOK_SECRET: Zalo accepts 8 to 256 characters")
    return ZaloChannel(
        settings.zalo_bot_token,
        settings.zalo_api_url,
        mode=mode,
        webhook_url=settings.zalo_webhook_url,
        webhook_secret=secret,
        language=settings.language,
        request_timeout=settings.platform_timeout_seconds,
        media_root=settings.media_dir,
    )


#: Channel name → how to build its adapter from the settings (None when not configured).
CHANNEL_FACTORIES: dict[str, Callable[[Settings], Channel | None]] = {
    "telegram": _telegram,
    "zalo": _zalo,
}


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    clock: Clock
    policy: Policy
    tr: Translator
    renderer: Renderer
    service: CaseService
    dispatcher: Dispatcher
    store: OutboxStore
    relay: Relay
    channels: dict[str, Channel] = field(default_factory=dict)
    http_port: int | None = None  # the bound port once serving (HTTP_PORT=0 picks a free one)

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.clock, self.dispatcher.notifier, self.relay.wake)

    async def close(self) -> None:
        await self.engine.dispose()


async def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    channels: dict[str, Channel] | None = None,
    migrate: bool = True,
) -> Container:
    """Build the whole application from settings; tests pass their own clock and channels."""
    clock = clock or SystemClock()
    policy = load_policy(settings.policy_file)
    engine = create_engine(settings.database_url)
    if migrate:
        await schema.upgrade(engine)
    tr = Translator(settings.language, tz=policy.calendar.tz)
    renderer = Renderer(tr, policy.workflow)
    notifier = Notifier(tr, renderer)
    service = CaseService(policy, clock)
    if channels is None:
        channels = {}
        for name, factory in CHANNEL_FACTORIES.items():
            built = factory(settings)
            if built is not None:
                channels[name] = built
    store = OutboxStore(engine)
    relay = Relay.from_settings(settings, store, channels, clock, tr)
    container: Container
    rate = settings.user_rate
    dispatcher = Dispatcher(
        service,
        lambda: container.uow(),
        tr,
        renderer,
        notifier,
        settings.admin_set,
        limiter=CommandLimiter(rate.count, rate.seconds, clock) if rate else None,
    )
    container = Container(
        settings, engine, clock, policy, tr, renderer, service, dispatcher, store, relay, channels
    )
    dispatcher.reports = ReportService(ReportDeps.of(container))  # /report
    # Guided forms, evidence (photos under MEDIA_DIR) and invites.
    dispatcher.enable_field_work(
        MediaFiles(settings.media_dir),
        channel_downloads(channels),
        {name: channel.capabilities for name, channel in channels.items()},
    )
    return container


def channel_downloads(channels: dict[str, Channel]) -> Download:
    """Fetch a file a person sent, through the channel it came from."""

    async def download(channel: str, file_ref: str, max_bytes: int) -> bytes:
        adapter = channels.get(channel)
        if adapter is None:
            raise MediaError(f"no channel {channel}")
        return await adapter.download(file_ref, max_bytes)

    return download
