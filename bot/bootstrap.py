"""Everything is built here, once, and passed in: no engine or bot at import time."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.base import Channel, UpdateMode
from bot.config import ConfigError, Settings
from bot.domain.clock import Clock, SystemClock
from bot.i18n import Translator
from bot.leadership import Leadership
from bot.relay import Relay
from bot.relay_setup import relay_from_settings
from bot.reports.service import ReportDeps, ReportService
from bot.services.board_links import BoardLinks
from bot.services.cases import CaseService
from bot.services.evidence import Download, EvidenceService, MediaError
from bot.services.handover import HandoverDesk
from bot.services.invites import InviteService
from bot.services.ports import EventSink
from bot.sla.policy import Policy
from bot.sla.policy_file import load_policy
from handlers.commands.admin import NEW_WORD, AdminCommands
from handlers.commands.finding import BoardOpener, FindCommands, MiniApp
from handlers.commands.steps import StepCommands
from handlers.commands.undo import UndoCommands
from handlers.commands.views import ReportMaker, ViewCommands
from handlers.commands.welcome import Welcome
from handlers.dispatcher import Dispatcher
from handlers.evidence import EvidenceInbox
from handlers.forms.flow import Forms
from handlers.forms.prompts import Prompts
from handlers.forms.reading import Reader
from handlers.forms.store import FormStore
from handlers.invite_notices import ChatInviteNotices
from handlers.kit import CommandKit
from handlers.lookup import Lookup
from handlers.notify import Notifier
from handlers.onboarding import Onboarding
from handlers.ratelimit import CommandLimiter
from handlers.render import Renderer
from handlers.replies import Replies
from handlers.request import Identify
from handlers.unheard import Unheard
from storage import schema
from storage.directory import CopyMemory
from storage.engine import create_engine
from storage.evidence_store import MediaFiles
from storage.leadership import leadership_for
from storage.outbox_store import ChatKey, OutboxStore
from storage.uow import SqlUnitOfWork


def _telegram(settings: Settings) -> Channel | None:
    if not settings.telegram_bot_token:
        return None
    from bot.channels.telegram import TelegramChannel

    return TelegramChannel(
        settings.telegram_bot_token,
        settings.telegram_api_url,
        mode=settings.telegram_mode,
        webhook_url=settings.telegram_webhook_url,
        webhook_secret=settings.telegram_webhook_secret,
        request_timeout=settings.platform_timeout_seconds,
    )


def _zalo(settings: Settings) -> Channel | None:
    if not settings.zalo_bot_token:
        return None
    from bot.channels.zalo import SECRET_LENGTHS, ZaloChannel

    mode = settings.zalo_mode
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


@dataclass(frozen=True)
class SqlUnits:
    """Opens a unit of work: each one a transaction whose events become outbox rows."""

    engine: AsyncEngine
    clock: Clock
    sink: EventSink
    #: Called after a commit that wrote outbox rows, with their chats (`Relay.wake`).
    wake: Callable[[Collection[ChatKey]], None]

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.clock, self.sink, self.wake)


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
    units: SqlUnits
    #: Where photos, charts and workbooks are kept (MEDIA_DIR), with the size limit.
    media: MediaFiles
    channels: dict[str, Channel] = field(default_factory=dict)
    http_port: int | None = None  # the bound port once serving (HTTP_PORT=0 picks a free one)

    def uow(self) -> SqlUnitOfWork:
        """A unit of work on this container's engine (a test may swap in a broken one)."""
        return SqlUnitOfWork(self.engine, self.clock, self.units.sink, self.units.wake)

    def leadership(self) -> Leadership:
        """Who runs the scheduler's passes: a lock in the database (`bot.leadership`)."""
        return leadership_for(self.engine)

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
    service = CaseService(policy, clock)
    if channels is None:
        channels = {}
        for name, factory in CHANNEL_FACTORIES.items():
            built = factory(settings)
            if built is not None:
                channels[name] = built
    store = OutboxStore(engine)
    relay = relay_from_settings(settings, store, channels, clock, tr)
    for channel in channels.values():  # a group that moves (Telegram): its team follows
        if hasattr(channel, "chat_moved"):
            channel.chat_moved = relay.setbacks.mover
    units = SqlUnits(engine, clock, Notifier(tr, renderer), relay.wake)
    media = MediaFiles(settings.media_dir)
    reports = ReportService(
        ReportDeps(units, policy, tr, clock, settings.media_dir, settings.admin_set)
    )
    dispatcher = build_dispatcher(
        settings, clock, tr, renderer, service, units, media, channels, reports
    )
    return Container(
        settings,
        engine,
        clock,
        policy,
        tr,
        renderer,
        service,
        dispatcher,
        store,
        relay,
        units,
        media,
        channels,
    )


def build_dispatcher(
    settings: Settings,
    clock: Clock,
    tr: Translator,
    renderer: Renderer,
    service: CaseService,
    units: SqlUnits,
    media: MediaFiles,
    channels: dict[str, Channel],
    reports: ReportMaker,
) -> Dispatcher:
    """The handlers, each given what it needs: nothing is set on them later."""
    capabilities = {name: channel.capabilities for name, channel in channels.items()}
    bot_usernames: dict[str, str] = {}  # filled by the runner as each channel starts
    evidence = EvidenceInbox(media, channel_downloads(channels), clock)
    replies = Replies(units, tr, renderer, evidence, capabilities)
    memory = CopyMemory(units.engine)
    kit = CommandKit(service, units, tr, renderer, Lookup(units, memory), replies)
    forms = Forms(
        kit,
        store=FormStore(units, clock, media),
        prompts=Prompts(tr),
        reader=Reader(tr, evidence),
        media=media,
        capabilities=capabilities,
    )
    invites = InviteService(clock, ChatInviteNotices(tr, capabilities))
    onboarding = Onboarding(kit, service=invites, bot_usernames=bot_usernames)
    finding = FindCommands(
        kit,
        opener=BoardOpener(
            app=MiniApp(settings.webapp_url, settings.webapp_short_name),
            links=BoardLinks(clock),
            uow=units,
            capabilities=capabilities,
            bot_usernames=bot_usernames,
        ),
    )
    steps = StepCommands(
        kit, forms=forms, evidence=evidence, evidence_service=EvidenceService(clock)
    )
    rate = settings.user_rate
    return Dispatcher(
        tr=tr,
        identify=Identify(units, tr, settings.admin_set, memory=memory),
        replies=replies,
        forms=forms,
        onboarding=onboarding,
        welcome=Welcome(
            tr, replies, onboarding, {**finding.start_words(), NEW_WORD: forms.start_intake}
        ),
        steps=steps,
        views=ViewCommands(kit, reports=reports),
        admin=AdminCommands(kit, forms=forms, onboarding=onboarding),
        finding=finding,
        undo=UndoCommands(kit, desk=HandoverDesk(service, clock), onboarding=onboarding),
        unheard=Unheard(kit, steps=steps, forms=forms, clock=clock),
        bot_usernames=bot_usernames,
        limiter=CommandLimiter(rate.count, rate.seconds, clock) if rate else None,
    )


def channel_downloads(channels: dict[str, Channel]) -> Download:
    """Fetch a file a person sent, through the channel it came from."""

    async def download(channel: str, file_ref: str, max_bytes: int) -> bytes:
        adapter = channels.get(channel)
        if adapter is None:
            raise MediaError(f"no channel {channel}")
        return await adapter.download(file_ref, max_bytes)

    return download
