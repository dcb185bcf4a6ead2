"""`/find` and `/board`: looking a case up by what people remember of it, and who has what.

Both read through `bot/services/finding.py`, so each person sees what they may: in a
team's group that team's cases only, with the customer's phone masked; privately, the
teams the person works for, the whole number only on a case they have themselves.
`/board` also opens the lead's board (the Mini App, docs/board.md): a Mini App button
in a private Telegram chat, a link button in a group (Telegram shows Mini App buttons in
private chats only), and on Zalo a one-time link sent privately.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

from bot.channels.base import Button, ButtonKind, Capabilities, Outbound
from bot.domain import errors
from bot.domain.model import Case, Role
from bot.domain.people import is_team_code
from bot.domain.phone import mask_phone, redact_phones
from bot.i18n import Lang
from bot.services.board_links import BoardLinks
from bot.services.finding import TeamBoard, find, read_search, team_board
from bot.services.permissions import sees_full_phone
from bot.services.ports import UnitOfWork
from handlers.callbacks import ListKind, SearchPress
from handlers.commands import CommandTable
from handlers.kit import CommandKit, OnKit
from handlers.parsing import CommandName, ParsedCommand
from handlers.refusals import UsageError
from handlers.render import PAGE_SIZE, page_window
from handlers.replies import to_chat
from handlers.request import Request, capabilities_of

#: The word after `/start` (the private chat's deep link) that answers with the board.
BOARD_START = "board"
LATE_MARK = "⏰"


@dataclass(frozen=True)
class MiniApp:
    """Where the board lives: WEBAPP_URL, and @BotFather's short name for its direct link."""

    url: str | None
    short_name: str | None = None


class BoardOpener:
    """The way to the board from a chat: a button, or a one-time link for a person."""

    def __init__(
        self,
        *,
        app: MiniApp,
        links: BoardLinks,
        uow: Callable[[], UnitOfWork],
        capabilities: Mapping[str, Capabilities],
        bot_usernames: Mapping[str, str],
    ) -> None:
        self.app = app
        self.links = links
        self.uow = uow
        self.capabilities = capabilities
        self.bot_usernames = bot_usernames

    def button(self, req: Request, label: str) -> Button | None:
        """The Mini App itself in a private chat; in a group, a link that opens it (by its
        short name) or the private chat, where `/start board` answers with it."""
        url = self.app.url
        if url is None or not capabilities_of(self.capabilities, req.origin.channel).mini_apps:
            return None
        if req.is_private:
            return Button(label, url, ButtonKind.WEB_APP)
        bot = self.bot_usernames.get(req.origin.channel)
        if bot is None:
            return None
        if self.app.short_name:
            return Button(label, f"https://t.me/{bot}/{self.app.short_name}", ButtonKind.URL)
        return Button(label, f"https://t.me/{bot}?start={BOARD_START}", ButtonKind.URL)

    async def link(self, req: Request) -> str | None:
        """A personal link that opens the board once (None: the board is not set up)."""
        if self.app.url is None:
            return None
        token = await self.links.issue(req.inbound.user.uid(req.origin.channel), self.uow())
        return f"{self.app.url}#link={token}"

    @property
    def link_minutes(self) -> int:
        return int(self.links.ttl / timedelta(minutes=1))


class FindCommands(OnKit):
    def __init__(self, kit: CommandKit, *, opener: BoardOpener) -> None:
        super().__init__(kit)
        self.opener = opener

    def table(self) -> CommandTable:
        return {CommandName.FIND: self.find, CommandName.BOARD: self.board}

    def start_words(self) -> dict[str, Callable[[Request], Awaitable[None]]]:
        """What `/start WORD` does besides an invite: the group's board button lands here."""
        return {BOARD_START: self.board_private}

    # ------------------------------------------------------------------ /find

    async def find(self, req: Request, parsed: ParsedCommand) -> None:
        if read_search(parsed.rest) is None:
            raise UsageError("usage.find")
        await self.page(req, parsed.rest, 1)

    async def page(self, req: Request, text: str, page: int) -> None:
        """A page of the cases `text` finds, each with its button (it shows the case)."""
        search = read_search(text)
        if search is None:
            raise UsageError("usage.find")
        team = None if req.is_private else await self.lookup.team_of_chat(req)
        lang = req.lang
        shown_text = " ".join(text.split())[:40]
        counted = await find(self.uow(), req.actor, search, team=team, limit=0)
        page, offset = page_window(page, counted.total)
        found = await find(self.uow(), req.actor, search, team=team, offset=offset, limit=PAGE_SIZE)
        if not found.cases:
            await self.replies.say(req, self.tr.t(lang, "find.empty", text=shown_text))
            return
        words = " ".join(search.words)
        pages = SearchPress.fits(words)
        head = self.tr.t(lang, "find.title", text=shown_text, count=found.total)
        if not pages and found.total > PAGE_SIZE:
            head += "\n" + self.tr.t(lang, "find.narrow")
        message = self.render.list_page(
            lang,
            ListKind.OPEN,
            found.cases,
            page,
            found.total,
            "find.title",
            head=head,
            item=lambda case: self.found_item(req, case),
            turn=lambda n: SearchPress(words, n).encode() if pages else None,
        )
        await self.replies.show(req, replace(message, reply_to=req.origin.message_id))

    def found_item(self, req: Request, case: Case) -> str:
        """A case as `/find` lists it: the phone whole only privately, to whoever has it."""
        whole = req.is_private and sees_full_phone(req.actor, case)
        phone = case.customer.phone if whole else mask_phone(case.customer.phone)
        return self.tr.t(
            req.lang,
            "find.item",
            ref=case.ref,
            name=redact_phones(case.customer.name),
            phone=phone,
            status=self.render.status(req.lang, case.status),
        )

    # ------------------------------------------------------------------ /board

    async def board(self, req: Request, parsed: ParsedCommand) -> None:
        """The team's board in its group, or privately for its lead (`/board CODE` for an
        admin); `/board link` sends a one-time link privately instead of a button."""
        wants_link = parsed.arg(0) in ("link", "lienket", "liên_kết")
        named = parsed.arg(0) if parsed.arg(0) and not wants_link else None
        team = await self._board_team(req, named)
        await self._show(req, team, link=wants_link)

    async def board_private(self, req: Request) -> None:
        """`/start board`, from the group's button: the lead's own team, privately."""
        await self._show(req, await self._board_team(req, None), link=False)

    async def _board_team(self, req: Request, named: str | None) -> str:
        if not req.is_private:
            return await self.lookup.team_of_chat(req)
        actor = req.actor
        if named is not None and is_team_code(named):
            team = named.upper()
        elif actor.member is not None and actor.member.team_code is not None:
            team = actor.member.team_code
        else:
            raise UsageError("usage.board")
        if not actor.is_lead_of(team):
            raise errors.Forbidden((Role.LEAD,))
        return team

    async def _show(self, req: Request, team: str, *, link: bool) -> None:
        board = await team_board(
            self.uow(),
            req.actor,
            team,
            self.service.clock.now(),
            self.service.policy.workflow,
        )
        text = self.board_text(req.lang, board)
        label = self.tr.t(req.lang, "board.open_app")
        button = None if link else self.opener.button(req, label)
        buttons = ((button,),) if button is not None else ()
        await self.replies.show(
            req, Outbound(text=text, buttons=buttons, reply_to=req.origin.message_id)
        )
        if button is None:
            await self._send_link(req)

    async def _send_link(self, req: Request) -> None:
        """Where no button can open the board (Zalo, or asked for): a link, privately."""
        url = await self.opener.link(req)
        if url is None:
            return
        lang = req.lang
        text = self.tr.t(lang, "board.link", url=url, minutes=self.opener.link_minutes)
        channel, user = req.origin.channel, req.inbound.user.id
        await self.replies.send(to_chat(channel, user, Outbound(text=text)))
        if not req.is_private:
            await self.replies.say(req, self.tr.t(lang, "board.link_sent"))

    def board_text(self, lang: Lang, board: TeamBoard) -> str:
        """Each worker with their active cases (the overdue ones marked), then the unclaimed."""
        t = self.tr.t

        def refs(cases: tuple[Case, ...]) -> str:
            return ", ".join(
                f"{c.ref} {LATE_MARK}" if c.ref in board.late else c.ref for c in cases
            )

        total = sum(w.count for w in board.workers) + len(board.unclaimed)
        lines = [t(lang, "board.title", team=board.team, count=total, late=len(board.late))]
        for worker in board.workers:
            if worker.cases:
                lines.append(
                    t(
                        lang,
                        "board.worker",
                        name=worker.member.name,
                        count=worker.count,
                        cases=refs(worker.cases),
                    )
                )
            else:
                lines.append(t(lang, "board.worker_idle", name=worker.member.name))
        if board.unclaimed:
            lines.append(
                t(lang, "board.unclaimed", count=len(board.unclaimed), cases=refs(board.unclaimed))
            )
        else:
            lines.append(t(lang, "board.none_unclaimed"))
        return "\n".join(lines)
