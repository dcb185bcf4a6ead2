"""The permission matrix of docs/security.md, walked cell by cell through the running bot.

The test reads both tables from the document, so the document and the behaviour
cannot drift apart: every chat cell is played in the Telegram sandbox (a fresh case in
the state the row names, the person types the row's command where the row says), and
every HTTP cell is one call with the right, a wrong or no credential. Allowed cells
must answer with the command's result and change the database as the command does;
refused cells must answer shortly, in the person's language, from the message
catalogue, and change nothing; ignored cells must get no answer at all.

"Nothing changes" is a snapshot of every table that holds state (cases, history,
evidence, members, identities, teams and their chats, invites, forms) before and after.
One running bot per row keeps the rows independent; within a row each cell has its own
case, group or invite. Cases are put in their state through the service layer (quicker
than typing every step); only the command under test goes through the chat. The whole
file takes about 25 s on SQLite and 35 s on PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import Container
from bot.channels.zalo import ZaloChannel
from bot.domain.clock import FixedClock
from bot.domain.evidence import NewEvidence
from bot.domain.model import Action, Area, CaseKind, CaseStatus, Customer, Purpose, Role, Source
from bot.domain.people import Actor, ChatBinding, Identity, Member
from bot.i18n import Lang
from bot.services import commands as c
from bot.services.invites import InviteService, Joiner
from sandbox.client import ChatMessage, SandboxClient, SandboxTimeout
from sandbox.phones import TelegramPhone
from sandbox.telegram import make_png
from storage import tables as t
from storage.evidence_store import MediaFiles
from tests.e2e.conftest import (
    GROUP,
    INTAKE,
    ZALO_BOT,
    ZGROUP,
    Stage,
    new_connection,
    running_stage,
    webhook_mode,
)
from tests.e2e.fieldkit import templates, uncatalogued

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
CHAT_HEADING = "## Permission matrix: chat commands"
HTTP_HEADING = "## Permission matrix: HTTP"

#: Every chat command of the contract (CONTRACT.md); the document must have a row for each.
CONTRACT_COMMANDS = (
    *("claim", "survey", "estimate", "agree", "install", "inspect", "resolve", "close"),
    *("release", "hold", "resume", "assign", "cancel", "case", "mine", "open", "overdue"),
    *("report", "rate", "new", "bindteam", "invite", "members", "remove", "lang", "help"),
    *("start", "handover", "unbindteam"),
)


#: Every row of the tables that hold state, by table name.
Snapshot = dict[str, list[dict[str, Any]]]


class Expect(Enum):
    ALLOWED = "✅"
    REFUSED = "❌"
    IGNORED = "🔇"
    JOIN = "🚪"


# --------------------------------------------------------------------------- the document


def table_after(heading: str) -> list[list[str]]:
    """The first Markdown table under `heading`: its header row, then its body rows."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    assert heading in lines, f"{DOC.name} has no section {heading!r}"
    rows: list[list[str]] = []
    for line in lines[lines.index(heading) + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(set(cell) <= set("-: ") for cell in cells):
                rows.append(cells)
        elif rows:
            break
    assert len(rows) > 1, f"no table under {heading!r}"
    return rows


def expectation(cell: str) -> Expect:
    """A cell's symbol; what follows it (a footnote number) is for the reader."""
    try:
        return Expect(cell.split()[0])
    except (IndexError, ValueError):
        raise AssertionError(f"cell {cell!r}: start it with one of ✅ ❌ 🔇 🚪") from None


@dataclass(frozen=True)
class Person:
    key: str
    tg_id: int
    name: str
    username: str
    lang: str
    role: Role | None = None  # None: no member
    team: str | None = None

    @property
    def uid(self) -> str:
        return f"telegram:{self.tg_id}"


#: The columns of the chat table, in order, and who plays each. The first four are the
#: stage's own cast (tests/e2e/conftest.py: CAST); the others are added by `matrix_stage`.
COLUMNS: dict[str, Person] = {
    "clerk": Person("clerk", 3004, "Thu", "thu_desk", "vi", Role.CLERK),
    "worker: assignee": Person("minh", 3002, "Minh", "minh_pl", "vi", Role.WORKER, "PL"),
    "worker: other": Person("hung", 3003, "Hùng", "hung_pl", "vi", Role.WORKER, "PL"),
    "lead": Person("lead", 3001, "Lan", "lan_pl", "vi", Role.LEAD, "PL"),
    "admin": Person("admin", 9001, "Admin", "admin_it", "vi"),
    "other team's lead": Person("quang", 3006, "Quang", "quang_dl", "en", Role.LEAD, "DL"),
    "non-member": Person("stranger", 3005, "Lạ", "la_nguoi", "en"),
}
ASSIGNEE = COLUMNS["worker: assignee"]
LEAD = COLUMNS["lead"]
CHAT_HEADER = ["command", "typed in", "case", *COLUMNS]
HTTP_HEADER = ["call", "credential", "right", "scoped: PL", "scoped: DL", "wrong", "none"]


@dataclass(frozen=True)
class Row:
    key: str  # `/claim`, `/start CODE`, `photo`
    typed: str  # what the person types, with REF, @user and CODE to fill in
    chat: str  # group, private, new group
    case: str  # the state the case is in first ("—": no case)
    cells: dict[str, Expect]

    def __str__(self) -> str:
        return self.key


#: Words after a command that make it another command (`/invite link` is no team invite).
SUBCOMMANDS = frozenset({"link", "ok", "no"})


def row_key(command: str) -> tuple[str, str]:
    """`/start CODE`, `/invite ok CODE` → its key and what to type; the photo row has no
    text."""
    if "📷" in command:
        return "photo", ""
    found = re.search(r"`([^`]+)`", command)
    assert found, f"the command cell {command!r} should hold the command in backticks"
    typed = found.group(1)
    words = typed.split()
    key = words[0]
    if len(words) > 1 and words[1] in SUBCOMMANDS:
        key += " " + words[1]
    return key + (" CODE" if "CODE" in words else ""), typed


@cache
def chat_rows() -> tuple[Row, ...]:
    header, *body = table_after(CHAT_HEADING)
    assert header == CHAT_HEADER, f"the chat table's columns changed: {header}"
    rows = []
    for cells in body:
        assert len(cells) == len(header), f"row {cells[0]}: {len(cells)} cells"
        key, typed = row_key(cells[0])
        if cells[1] == ELSEWHERE:  # the same command, typed where it must show nothing
            key = f"{key} ({ELSEWHERE})"
        expected = {col: expectation(cell) for col, cell in zip(header[3:], cells[3:], strict=True)}
        rows.append(Row(key, typed, cells[1], cells[2], expected))
    return tuple(rows)


def test_the_document_has_a_row_for_every_command_and_the_test_knows_every_row() -> None:
    keys = [row.key for row in chat_rows()]
    assert len(keys) == len(set(keys)), "a command has two rows"
    assert {f"/{name}" for name in CONTRACT_COMMANDS} <= set(keys)
    assert set(keys) == set(SPECS), "a row the test cannot play, or a spec without a row"
    assert {row.chat for row in chat_rows()} <= set(CHATS)
    assert {row.case for row in chat_rows()} <= set(STATES)
    http = table_after(HTTP_HEADING)
    assert http[0] == HTTP_HEADER
    assert {r[0] for r in http[1:]} == set(CALLS)


# --------------------------------------------------------------------------- the stage


@dataclass
class Matrix:
    """The running bot, the sandbox's people, and helpers to put cases in a state."""

    stage: Stage
    client: SandboxClient
    actors: dict[str, Actor] = field(default_factory=dict)
    spare: int = 0

    @property
    def container(self) -> Container:
        return self.stage.container

    async def intake(self, kind: CaseKind, received_ago: timedelta = timedelta(0)) -> str:
        return await intake(self.stage, kind, received_ago)

    async def claim(self, ref: str) -> None:
        cmd = c.ClaimCase(actor=self.actors["minh"], source=Source.API, origin=None, ref=ref)
        await self.container.service.claim(cmd, self.container.uow())

    async def step(self, ref: str, action: Action) -> None:
        svc, uow = self.container.service, self.container.uow()
        base: dict[str, Any] = {"actor": SYSTEM, "source": Source.API, "origin": None, "ref": ref}
        if action is Action.ESTIMATE:
            await svc.estimate(c.RecordEstimate(**base, customer_cost=1, utility_cost=2), uow)
        elif action is Action.INSTALL:
            await svc.install(c.RecordInstall(**base, meter_serial="CT-0001"), uow)
        elif action is Action.HOLD:
            await svc.hold(c.HoldCase(**base, reason="chờ giấy phép"), uow)
        else:
            await svc.report_step(c.ReportStep(**base, action=action, note="xong"), uow)

    async def spare_worker(self) -> Person:
        """A worker of PL nobody else needs: the one a `/remove` takes out."""
        self.spare += 1
        who = Person(
            f"spare{self.spare}",
            4000 + self.spare,
            f"Tạm {self.spare}",
            f"tam_{self.spare}",
            "vi",
            Role.WORKER,
            "PL",
        )
        await add_member(self, who)
        return who

    def invites(self) -> InviteService:
        onboarding = self.container.dispatcher.onboarding
        assert onboarding is not None and onboarding.service is not None
        return onboarding.service

    async def invite(self) -> str:
        made = await self.invites().create(
            self.actors["lead"], "PL", Role.WORKER, self.container.uow()
        )
        return str(made.token)

    async def link_asked(self) -> str:
        """A link code Minh made on Telegram, opened on a Zalo account: he is being asked."""
        self.spare += 1
        zalo_id = f"0a1b2c3d4e5f6000{7000 + self.spare}"
        assert self.stage.zalo is not None
        await self.stage.zalo.add_user(zalo_id, f"Zalo {self.spare}")
        service, minh = self.invites(), self.actors["minh"]
        account = Identity("telegram", str(ASSIGNEE.tg_id), ASSIGNEE.username)
        made = await service.create_link(minh, account, self.container.uow())
        opener = Joiner("zalo", zalo_id, f"Zalo {self.spare}")
        await service.open(made.token, opener, None, self.container.uow())
        return str(made.token)

    async def snapshot(self) -> Snapshot:
        """Every row of every table that holds state (not the outbox: answers go there)."""
        tables = (
            t.teams,
            t.team_chats,
            t.members,
            t.identities,
            t.cases,
            t.case_events,
            t.evidence,
            t.invites,
            t.forms,
        )
        shot: Snapshot = {}
        async with self.container.engine.connect() as conn:
            for table in tables:
                query = sa.select(table).order_by(*table.primary_key.columns)
                shot[table.name] = [dict(r._mapping) for r in await conn.execute(query)]
        return shot


SYSTEM = Actor(uid="api:matrix", name="matrix", is_system=True)


async def intake(stage: Stage, kind: CaseKind, received_ago: timedelta = timedelta(0)) -> str:
    """A new case of team PL, as the intake API files it (its card goes to the group)."""
    svc = stage.container.service
    case, _ = await svc.intake(
        c.IntakeCase(
            actor=SYSTEM,
            source=Source.API,
            origin=None,
            kind=kind,
            team_code="PL",
            customer=Customer("Trần Văn Hưng", "0912345678", "12 Trần Hưng Đạo, Phủ Lý"),
            description="Ma trận quyền",
            area=Area.URBAN if kind is CaseKind.NEW_CONNECTION else None,
            purpose=Purpose.DOMESTIC if kind is CaseKind.NEW_CONNECTION else None,
            received_at=svc.clock.now() - received_ago,
        ),
        stage.container.uow(),
    )
    return str(case.ref)


async def add_member(m: Matrix, who: Person) -> None:
    assert who.role is not None
    ident = Identity("telegram", str(who.tg_id), who.username)
    member = Member(who.uid, who.name, who.role, who.team, None, (ident,))
    async with m.container.uow() as uow:
        await uow.members.add(member)
        await uow.commit()
    m.actors[who.key] = Actor(uid=who.uid, name=who.name, member=member)


@pytest.fixture
async def matrix(database_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Matrix]:
    """Team PL's group with all seven people in it; DL is the other team."""
    cast = {
        p.key: "telegram" for p in COLUMNS.values() if p.key in ("lead", "minh", "hung", "clerk")
    }
    async with running_stage(
        database_url,
        tmp_path,
        clock,
        cast,
        admins="telegram:9001",
        also=("zalo",),  # where the link codes of `/invite ok CODE` are opened
        reminder_interval_seconds=3600,  # no reminder pass during the test
    ) as stage:
        phone = stage.phones["telegram"]
        assert isinstance(phone, TelegramPhone)
        m = Matrix(stage, phone.client)
        for who in COLUMNS.values():
            if who.key not in cast:
                await m.client.add_user(
                    who.tg_id, who.name, username=who.username, language_code=who.lang
                )
                await m.client.add_member(GROUP, who.tg_id)
            if who.role is not None:
                await add_member(m, who)  # the cast again: same rows, and its Actor
        await m.client.add_chat(
            DL_GROUP, title="Đội DL", members=[p.tg_id for p in COLUMNS.values()]
        )
        yield m


# --------------------------------------------------------------------------- one cell


@dataclass
class Cell:
    row: Row
    column: str
    who: Person
    expect: Expect
    chat: int = GROUP
    ref: str | None = None
    card: int | None = None  # the case's card in the group (the photo row replies to it)
    target: Person | None = None  # whom `/remove` names
    code: str | None = None  # the invite `/start CODE` opens

    @property
    def text(self) -> str:
        typed = self.row.typed.replace("REF", self.ref or "REF")
        if self.target is not None:
            typed = typed.replace("@user", f"@{self.target.username}")
        return typed.replace("CODE", self.code or "CODE")

    def __str__(self) -> str:
        return f"{self.row.key} by {self.column} ({self.expect.value})"


Effect = Callable[[Cell, Snapshot, Snapshot], list[str]]

#: How each state named in the table is reached, from a new case.
STATES: dict[str, tuple[CaseKind, tuple[Action, ...]] | None] = {
    "—": None,
    "open": (CaseKind.NEW_CONNECTION, ()),
    "overdue": (CaseKind.NEW_CONNECTION, ()),  # received a week ago, never claimed
    "claimed": (CaseKind.NEW_CONNECTION, (Action.CLAIM,)),
    "surveyed": (CaseKind.NEW_CONNECTION, (Action.CLAIM, Action.SURVEY)),
    "estimated": (CaseKind.NEW_CONNECTION, (Action.CLAIM, Action.SURVEY, Action.ESTIMATE)),
    "agreed": (
        CaseKind.NEW_CONNECTION,
        (Action.CLAIM, Action.SURVEY, Action.ESTIMATE, Action.AGREE),
    ),
    "installed": (
        CaseKind.NEW_CONNECTION,
        (Action.CLAIM, Action.SURVEY, Action.ESTIMATE, Action.AGREE, Action.INSTALL),
    ),
    "on hold": (CaseKind.NEW_CONNECTION, (Action.CLAIM, Action.HOLD)),
    "complaint claimed": (CaseKind.METER_COMPLAINT, (Action.CLAIM,)),
    "complaint inspected": (CaseKind.METER_COMPLAINT, (Action.CLAIM, Action.INSPECT)),
}
#: Rows whose CODE is a link code Minh made and someone opened on Zalo (not a team invite).
LINK_ROWS = frozenset({"/invite ok CODE"})
#: Team DL's group (the stage binds DL to it); everyone of the table is in it.
ELSEWHERE = "DL's group"
DL_GROUP = -100777
SECOND = "second group"
CHATS = ("group", "private", "new group", ELSEWHERE, SECOND)


async def prepare(m: Matrix, cell: Cell) -> None:
    """The case, group, invite or person the cell needs, made before the snapshot."""
    state = STATES[cell.row.case]
    if state is not None:
        kind, actions = state
        ago = timedelta(days=7) if cell.row.case == "overdue" else timedelta(0)
        cell.ref = await m.intake(kind, ago)
        for action in actions:
            if action is Action.CLAIM:
                await m.claim(cell.ref)
            else:
                await m.step(cell.ref, action)
    if cell.row.chat == "private":
        cell.chat = cell.who.tg_id
    elif cell.row.chat == ELSEWHERE:
        cell.chat = DL_GROUP
    elif cell.row.chat == "new group":
        everyone = [p.tg_id for p in COLUMNS.values()]
        cell.chat = (await m.client.add_chat(title="Nhóm mới", members=everyone)).id
    elif cell.row.chat == SECOND:
        everyone = [p.tg_id for p in COLUMNS.values()]
        cell.chat = (await m.client.add_chat(title="Đội PL (2)", members=everyone)).id
        async with m.container.uow() as uow:
            await uow.teams.bind_chat("PL", ChatBinding("telegram", str(cell.chat)))
            await uow.commit()
    if "@user" in cell.row.typed:
        cell.target = await m.spare_worker()
    if "CODE" in cell.row.typed:
        cell.code = await (m.link_asked() if cell.row.key in LINK_ROWS else m.invite())


async def find_card(m: Matrix, ref: str) -> int:
    card = await m.client.wait_for_message(GROUP, contains=f"📋 {ref} ")
    return card.message_id


async def send(m: Matrix, cell: Cell) -> ChatMessage:
    if cell.row.key == "photo":
        assert cell.card is not None
        return await m.client.send_photo(
            cell.who.tg_id, cell.chat, make_png(64, 48), reply_to=cell.card
        )
    return await m.client.send_text(cell.who.tg_id, cell.chat, cell.text)


async def play(m: Matrix, cell: Cell) -> list[str]:
    """Play one cell; returns what went wrong (nothing: the cell holds)."""
    if cell.row.key == "photo":
        assert cell.ref is not None
        cell.card = await find_card(m, cell.ref)
    await m.stage.settled()
    before = await m.snapshot()
    sent = await send(m, cell)
    spec = SPECS[cell.row.key]
    if cell.expect is Expect.IGNORED:
        return await ignored(m, cell, sent, before)
    try:
        answer = await m.client.wait_for_message(
            cell.chat,
            after=sent.message_id,
            where=(lambda x: True) if spec.form else (lambda x: x.reply_to == sent.message_id),
        )
    except SandboxTimeout:
        return ["no answer came"]
    await m.stage.settled()
    after = await m.snapshot()
    if cell.expect is Expect.ALLOWED:
        return allowed(cell, spec, answer, before, after)
    problems = []
    lang = Lang(cell.who.lang)
    keys = REFUSALS.get(cell.column, REFUSALS[""])
    if cell.expect is Expect.JOIN:
        keys = frozenset({"start.stranger"})
    if not said(answer, keys, lang):
        problems.append(f"expected a refusal ({', '.join(sorted(keys))}), got {answer.body!r}")
    if cell.expect is Expect.JOIN and cell.who.uid not in answer.body:
        problems.append(f"the answer does not give the user id: {answer.body!r}")
    if len(answer.body) > MAX_REFUSAL:
        problems.append(f"a refusal of {len(answer.body)} characters: {answer.body!r}")
    problems += plain(answer, lang)
    if before != after:
        problems.append(f"refused, yet changed {changed(before, after)}")
    return problems


async def ignored(m: Matrix, cell: Cell, sent: ChatMessage, before: Snapshot) -> list[str]:
    """No answer: a member's message typed after it is answered, and still nothing came."""
    probe = await m.client.send_text(LEAD.tg_id, LEAD.tg_id, "/help")
    await m.client.wait_for_message(LEAD.tg_id, where=lambda x: x.reply_to == probe.message_id)
    await m.stage.settled()
    shown = [
        x.body
        for x in await m.client.messages(cell.chat)
        if x.from_bot and x.message_id > sent.message_id
    ]
    after = await m.snapshot()
    problems = [f"expected no answer, got {shown}"] if shown else []
    if before != after:
        problems.append(f"ignored, yet changed {changed(before, after)}")
    return problems


def allowed(
    cell: Cell, spec: Spec, answer: ChatMessage, before: Snapshot, after: Snapshot
) -> list[str]:
    lang = Lang(spec.answer_lang or cell.who.lang)
    problems = []
    if not said(answer, spec.answers, lang):
        problems.append(f"expected {', '.join(sorted(spec.answers))}, got {answer.body!r}")
    problems += plain(answer, lang)
    problems += spec.effect(cell, before, after)
    return problems


# --------------------------------------------------------------------------- answers


#: A refusal is read on a phone: a line or two.
MAX_REFUSAL = 200
#: What a refusal for want of rights may say (not a typo's usage line, not a crash); by
#: column, where it must be more precise: a lead of another team is refused for not
#: being in this team, never told that "only a lead" may.
REFUSALS: dict[str, frozenset[str]] = {
    "": frozenset(
        {
            "err.not_member",
            "err.forbidden",
            "err.not_assignee",
            "err.not_claimed",
            "err.not_admin",
            "invite.already_member",
            "invite.member_of_all_teams",
            "invite.link_private_only",
            "invite.not_code_owner",
            "err.case_other_team",
        }
    ),
    "other team's lead": frozenset(
        {
            "err.not_member",
            "err.not_admin",
            "invite.member_elsewhere",
            "invite.link_private_only",
            "invite.not_code_owner",
        }
    ),
}


def said(answer: ChatMessage, keys: frozenset[str], lang: Lang) -> bool:
    """The answer's first line is one of these messages, in this language."""
    first = answer.body.split("\n", 1)[0].strip()
    return any(x.key in keys and x.pattern.match(first) for x in templates(lang))


def plain(answer: ChatMessage, lang: Lang) -> list[str]:
    """Short words from the catalogue in the person's language; no trace, no class name."""
    problems = []
    if uncatalogued([answer], [lang]):
        problems.append(f"not all from the {lang.value} catalogue: {answer.body!r}")
    if re.search(r"Traceback|Error\b|Exception|errors\.\w+", answer.body):
        problems.append(f"shows internals: {answer.body!r}")
    return problems


# --------------------------------------------------------------------------- effects


def changed(before: Snapshot, after: Snapshot) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def new_rows(before: Snapshot, after: Snapshot, table: str) -> list[dict[str, Any]]:
    return [r for r in after[table] if r not in before[table]]


def only(*tables: str) -> Callable[[Snapshot, Snapshot], list[str]]:
    def check(before: Snapshot, after: Snapshot) -> list[str]:
        diff = changed(before, after)
        return [] if diff == set(tables) else [f"changed {sorted(diff)}, not {sorted(tables)}"]

    return check


def nothing(cell: Cell, before: Snapshot, after: Snapshot) -> list[str]:
    return [] if before == after else [f"a look-up changed {changed(before, after)}"]


def moved(
    status: CaseStatus, action: Action, assignee: str | None = "minh", **fields: Any
) -> Effect:
    """The case is in `status`, with one more history line: `action`, by the person."""

    def check(cell: Cell, before: Snapshot, after: Snapshot) -> list[str]:
        problems = only("cases", "case_events")(before, after)
        case = next(r for r in after["cases"] if r["ref"] == cell.ref)
        want: dict[str, Any] = {"status": status.value, **fields}
        if assignee != "unchanged":
            holder = {"minh": ASSIGNEE.uid, "self": cell.who.uid, None: None}
            want["assignee"] = holder.get(assignee, assignee)
        for name, value in want.items():
            if case[name] != value:
                problems.append(f"case {name} is {case[name]!r}, not {value!r}")
        events = [e for e in new_rows(before, after, "case_events") if e["case_id"] == case["id"]]
        if [(e["action"], e["actor"]) for e in events] != [(action.value, cell.who.uid)]:
            problems.append(f"history gained {[(e['action'], e['actor']) for e in events]}")
        return problems

    return check


def form_started(cell: Cell, before: Snapshot, after: Snapshot) -> list[str]:
    problems = only("forms")(before, after)
    forms = new_rows(before, after, "forms")
    if [(f["user_id"], f["state"].get("kind")) for f in forms] != [(str(cell.who.tg_id), "intake")]:
        problems.append(f"forms gained {forms}")
    return problems


def group_bound(cell: Cell, before: Snapshot, after: Snapshot) -> list[str]:
    rows = [(r["team_code"], r["chat_id"]) for r in new_rows(before, after, "team_chats")]
    return only("team_chats")(before, after) + (
        [] if rows == [("DL", str(cell.chat))] else [f"team_chats gained {rows}"]
    )


def invited(cell: Cell, before: Snapshot, after: Snapshot) -> list[str]:
    rows = [
        (r["team_code"], r["role"], r["created_by"], r["status"])
        for r in new_rows(before, after, "invites")
    ]
    want = [("PL", "worker", cell.who.uid, "open")]
    return only("invites")(before, after) + ([] if rows == want else [f"invites gained {rows}"])


def link_made(cell: Cell, before: Snapshot, after: Snapshot) -> list[str]:
    rows = [(r["kind"], r["member_uid"], r["status"]) for r in new_rows(before, after, "invites")]
    want = [("link", cell.who.uid, "open")]
    return only("invites")(before, after) + ([] if rows == want else [f"invites gained {rows}"])


def linked(cell: Cell, before: Snapshot, after: Snapshot) -> list[str]:
    """The Zalo account that opened the code is now the person's, and the code is spent."""
    invites = [(r["token"], r["status"]) for r in new_rows(before, after, "invites")]
    opener = next(r for r in after["invites"] if r["token"] == cell.code)["joiner"]
    idents = [(r["channel"], r["external_id"], r["member_uid"]) for r in after["identities"]]
    problems = only("invites", "identities")(before, after)
    if invites != [(cell.code, "linked")]:
        problems.append(f"invites became {invites}")
    if ("zalo", opener["external_id"], cell.who.uid) not in idents:
        problems.append(f"no Zalo identity for {cell.who.uid}: {idents}")
    return problems


def removed(cell: Cell, before: Snapshot, after: Snapshot) -> list[str]:
    assert cell.target is not None
    rows = [(r["uid"], r["active"]) for r in new_rows(before, after, "members")]
    want = [(cell.target.uid, False)]
    return only("members")(before, after) + ([] if rows == want else [f"members became {rows}"])


def group_unbound(cell: Cell, before: Snapshot, after: Snapshot) -> list[str]:
    gone = [
        (r["team_code"], r["chat_id"]) for r in before["team_chats"] if r not in after["team_chats"]
    ]
    return only("team_chats")(before, after) + (
        [] if gone == [("PL", str(cell.chat))] else [f"team_chats lost {gone}"]
    )


def lang_kept(cell: Cell, before: Snapshot, after: Snapshot) -> list[str]:
    if cell.who.role is None:  # nothing to store for someone who is no member
        return nothing(cell, before, after)
    rows = [(r["uid"], r["lang"]) for r in new_rows(before, after, "members")]
    want = [(cell.who.uid, "en")]
    return only("members")(before, after) + ([] if rows == want else [f"members became {rows}"])


def join_asked(cell: Cell, before: Snapshot, after: Snapshot) -> list[str]:
    rows = [
        (r["token"], r["status"], (r["joiner"] or {}).get("external_id"))
        for r in new_rows(before, after, "invites")
    ]
    want = [(cell.code, "pending", str(cell.who.tg_id))]
    return only("invites")(before, after) + ([] if rows == want else [f"invites became {rows}"])


def evidence_added(cell: Cell, before: Snapshot, after: Snapshot) -> list[str]:
    case = next(r for r in after["cases"] if r["ref"] == cell.ref)
    rows = [(r["case_id"], r["kind"], r["actor"]) for r in new_rows(before, after, "evidence")]
    want = [(case["id"], "photo", cell.who.uid)]
    return only("evidence")(before, after) + ([] if rows == want else [f"evidence gained {rows}"])


@dataclass(frozen=True)
class Spec:
    """How an allowed cell of a row is recognised: its answer and what it changes."""

    answers: frozenset[str]
    effect: Effect
    form: bool = False  # the answer is a form's first question, which replies to nothing
    answer_lang: str | None = None


def spec(*answers: str, effect: Effect = nothing, **kw: Any) -> Spec:
    return Spec(frozenset(answers), effect, **kw)


MOVED = ("reply.moved", "reply.moved_next")
SPECS: dict[str, Spec] = {
    "/claim": spec("reply.claimed", effect=moved(CaseStatus.CLAIMED, Action.CLAIM, "self")),
    "/survey": spec(*MOVED, effect=moved(CaseStatus.SURVEYED, Action.SURVEY)),
    "/estimate": spec(
        *MOVED,
        effect=moved(
            CaseStatus.ESTIMATED, Action.ESTIMATE, customer_cost=1_500_000, utility_cost=2_000_000
        ),
    ),
    "/agree": spec(*MOVED, effect=moved(CaseStatus.AGREED, Action.AGREE)),
    "/install": spec(
        *MOVED,
        effect=moved(
            CaseStatus.INSTALLED, Action.INSTALL, meter_serial="CT-0815", meter_reading="12"
        ),
    ),
    "/inspect": spec(*MOVED, effect=moved(CaseStatus.INSPECTED, Action.INSPECT)),
    "/resolve": spec(*MOVED, effect=moved(CaseStatus.RESOLVED, Action.RESOLVE)),
    "/close": spec(*MOVED, effect=moved(CaseStatus.CLOSED, Action.CLOSE)),
    "/release": spec("reply.released", effect=moved(CaseStatus.OPEN, Action.RELEASE, None)),
    "/hold": spec(*MOVED, effect=moved(CaseStatus.ON_HOLD, Action.HOLD)),
    "/resume": spec(*MOVED, effect=moved(CaseStatus.CLAIMED, Action.RESUME)),
    "/assign": spec(
        "reply.assigned",
        effect=moved(CaseStatus.CLAIMED, Action.ASSIGN, COLUMNS["worker: other"].uid),
    ),
    "/cancel": spec(*MOVED, effect=moved(CaseStatus.CANCELLED, Action.CANCEL)),
    "/rate": spec("reply.rated", effect=moved(CaseStatus.INSTALLED, Action.RATE, satisfaction=9)),
    "photo": spec("evidence.saved", effect=evidence_added),
    "/case": spec("card.title"),
    f"/case ({ELSEWHERE})": spec("card.title"),
    # A clerk's /mine lists the cases she filed (list.filed_*), anyone else's their own.
    "/mine": spec("list.mine_title", "list.mine_empty", "list.filed_title", "list.filed_empty"),
    "/open": spec("list.open_title"),
    "/overdue": spec("list.overdue_title"),
    "/members": spec("members.title"),
    "/report": spec("report.title"),
    "/new": spec("form.title_new", effect=form_started, form=True),
    "/bindteam": spec("bind.done", effect=group_bound),
    "/invite": spec("invite.sent_privately", effect=invited),
    "/invite link": spec("invite.link_created", effect=link_made),
    "/invite ok CODE": spec("invite.link_confirmed", effect=linked),
    "/remove": spec("member.remove_ask"),
    "/remove ok": spec("member.removed", effect=removed),
    "/handover": spec("handover.offered"),
    "/unbindteam": spec("unbind.done", effect=group_unbound),
    "/lang": spec("lang.set", effect=lang_kept, answer_lang="en"),
    "/help": spec("help.title"),
    "/start": spec("start.member", "start.admin"),
    "/start CODE": spec("invite.waiting", effect=join_asked),
}


# --------------------------------------------------------------------------- the chat rows


@pytest.mark.parametrize("row", chat_rows(), ids=str)
async def test_every_person_gets_what_the_matrix_says(matrix: Matrix, row: Row) -> None:
    cells = [Cell(row, col, COLUMNS[col], row.cells[col]) for col in COLUMNS]
    for cell in cells:
        await prepare(matrix, cell)
    failures = []
    for cell in cells:
        problems = await play(matrix, cell)
        failures += [f"{cell}: {p}" for p in problems]
    assert failures == [], "\n".join(failures)


# --------------------------------------------------------------------------- HTTP

TG_SECRET = "tg-webhook-secret-0123456789"
ZALO_SECRET = "zalo-webhook-secret-0123456789"
WRONG = "wrong-secret-0123456789"
PL_ONLY = "pl-desk-secret-0123456789"
DL_ONLY = "dl-desk-secret-0123456789"
#: The intake tokens of the HTTP table's columns, and the teams each may reach (None: all).
SCOPED_TOKENS = f"pldesk:{PL_ONLY}:PL,dldesk:{DL_ONLY}:DL"
REACH: dict[str | None, frozenset[str] | None] = {
    INTAKE: None,
    PL_ONLY: frozenset({"PL"}),
    DL_ONLY: frozenset({"DL"}),
}


@dataclass
class Http:
    stage: Stage
    ref: str
    evidence_id: int
    photo: Path  # that evidence's file
    update_id: int = 100

    async def call(
        self, method: str, path: str, headers: Mapping[str, str], body: Any = None
    ) -> int:
        url = f"{self.stage.api}{path}"
        async with self.stage.http.request(method, url, json=body, headers=headers) as resp:
            await resp.read()
            return resp.status


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


Call = Callable[[Http, str | None], Awaitable[tuple[int, list[str]]]]


def api(method: str, path: str) -> Call:
    """One API call; a POST must store a case exactly when allowed, and a list must hold
    only cases of the teams the token reaches."""

    async def call(h: Http, token: str | None) -> tuple[int, list[str]]:
        body = new_connection(f"MATRIX-{h.update_id}") if method == "POST" else None
        h.update_id += 1
        async with h.stage.container.engine.connect() as conn:
            before = (await conn.execute(sa.select(sa.func.count()).select_from(t.cases))).scalar()
        url = f"{h.stage.api}{path.format(ref=h.ref, id=h.evidence_id)}"
        async with h.stage.http.request(method, url, json=body, headers=bearer(token)) as resp:
            status, answer = resp.status, await resp.read()
        async with h.stage.container.engine.connect() as conn:
            after = (await conn.execute(sa.select(sa.func.count()).select_from(t.cases))).scalar()
        grew = (after or 0) - (before or 0)
        stored = 1 if method == "POST" and status < 300 else 0
        problems = [] if grew == stored else [f"{grew} case(s) stored"]
        reach = REACH.get(token)
        listing = path.split("?")[0] == "/api/v1/cases" and method == "GET"
        if listing and status == 200 and reach is not None:
            teams = {case["team"] for case in json.loads(answer)}
            problems += [f"listed cases of {sorted(teams - reach)}"] if teams - reach else []
        return status, problems

    return call


def webhook(channel: str) -> Call:
    """A member's `/claim` as the platform would push it: handled only with the secret."""

    async def call(h: Http, secret: str | None) -> tuple[int, list[str]]:
        ref = await intake(h.stage, CaseKind.NEW_CONNECTION)
        await h.stage.settled()
        h.update_id += 1
        if channel == "telegram":
            header = "X-Telegram-Bot-Api-Secret-Token"
            text = f"/claim {ref}"
            body: dict[str, Any] = {
                "update_id": h.update_id,
                "message": {
                    "message_id": h.update_id,
                    "date": 1_764_200_000,
                    "chat": {"id": GROUP, "type": "supergroup", "title": "Đội PL"},
                    "from": {"id": LEAD.tg_id, "is_bot": False, "first_name": LEAD.name},
                    "text": text,
                    "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
                },
            }
        else:
            header = "X-Bot-Api-Secret-Token"
            body = {
                "event_name": "message.text.received",
                "message": {
                    "from": {"id": ZALO_MINH, "display_name": "Minh", "is_bot": False},
                    "chat": {"id": ZGROUP, "chat_type": "GROUP"},
                    "message_id": f"matrix-{h.update_id}",
                    "date": 1_764_200_000_000,
                    "text": f"@{ZALO_BOT} /claim {ref}",
                },
            }
        headers = {header: secret} if secret else {}
        status = await h.call("POST", f"/{channel}/webhook", headers, body)
        case = await h.stage.case(ref)
        claimed = case["status"] == "claimed"
        if claimed != (status == 200):
            return status, [f"status {status}, yet the case is {case['status']}"]
        return status, []

    return call


SIGNED = "signed"


def media_link() -> Call:
    """A photo the bot sent on Zalo, fetched by its link: signed, badly signed, unsigned."""

    async def call(h: Http, given: str | None) -> tuple[int, list[str]]:
        zalo = h.stage.container.channels["zalo"]
        assert isinstance(zalo, ZaloChannel) and zalo.media is not None
        token = zalo.media.link(h.photo).rsplit("/", 1)[1]
        name = token.partition(".")[0]
        if given is None:
            token = name
        elif given != SIGNED:  # a wrong signature, or an intake token offered as one
            token = f"{name}.{given}"
        return await h.call("GET", f"/zalo/media/{token}", {}), []

    return call


ZALO_MINH = "0a1b2c3d4e5f60003002"  # Minh on Zalo (tests/e2e/conftest.py: CAST)
CALLS: dict[str, tuple[Call, str | None]] = {
    "`POST /api/v1/cases`": (api("POST", "/api/v1/cases"), INTAKE),
    "`GET /api/v1/cases`": (api("GET", "/api/v1/cases"), INTAKE),
    "`GET /api/v1/cases?team=PL`": (api("GET", "/api/v1/cases?team=PL"), INTAKE),
    "`GET /api/v1/cases/{ref}`": (api("GET", "/api/v1/cases/{ref}"), INTAKE),
    "`GET /api/v1/cases/{ref}/evidence/{id}`": (
        api("GET", "/api/v1/cases/{ref}/evidence/{id}"),
        INTAKE,
    ),
    "`GET /api/v1/openapi.json`": (api("GET", "/api/v1/openapi.json"), None),
    "`GET /healthz`": (api("GET", "/healthz"), None),
    "`GET /metrics`": (api("GET", "/metrics"), None),
    "`POST` Telegram webhook": (webhook("telegram"), TG_SECRET),
    "`POST` Zalo webhook": (webhook("zalo"), ZALO_SECRET),
    "`GET` Zalo media link": (media_link(), SIGNED),
}


def expected_status(cell: str) -> tuple[Expect, int]:
    """`✅ 200`, or with a footnote for the reader: `❌ 403 ²`."""
    symbol, code, *_ = cell.split()
    return Expect(symbol), int(code)


async def test_every_http_call_answers_what_the_matrix_says(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    where = {"lead": "telegram", "minh": "zalo"}
    async with running_stage(
        database_url,
        tmp_path,
        clock,
        where,
        reminder_interval_seconds=3600,
        intake_tokens=SCOPED_TOKENS,
        **webhook_mode("telegram", TG_SECRET),
        **webhook_mode("zalo", ZALO_SECRET),
    ) as stage:
        ref = await intake(stage, CaseKind.NEW_CONNECTION)
        files = MediaFiles(stage.container.settings.media_dir)
        path, mime = await files.save_final(make_png(8, 8), clock.now())
        async with stage.container.uow() as uow:
            case = await uow.cases.get_by_ref(ref)
            assert case is not None and case.id is not None
            photo = NewEvidence.photo(path, mime, 100)
            evidence_id = await uow.evidence.add(
                case.id, photo, "api:matrix", clock.now(), Source.API
            )
            await uow.commit()
        h = Http(stage, ref, evidence_id, files.resolve(path))
        _, *body = table_after(HTTP_HEADING)
        failures = []
        for name, _, right, scoped_pl, scoped_dl, wrong, none in body:
            call, credential = CALLS[name]
            for label, given, cell in (
                ("right", credential, right),
                ("PL-scoped", PL_ONLY, scoped_pl),
                ("DL-scoped", DL_ONLY, scoped_dl),
                ("wrong", WRONG, wrong),
                ("none", None, none),
            ):
                expect, want = expected_status(cell)
                status, problems = await call(h, given)
                if status != want:
                    problems.append(f"answered {status}, not {want}")
                if (expect is Expect.ALLOWED) != (status < 300):
                    problems.append(f"{expect.value} does not fit {status}")
                failures += [f"{name} with the {label} credential: {p}" for p in problems]
        assert failures == [], "\n".join(failures)
