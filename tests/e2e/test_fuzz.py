"""Fuzzing the running bot: 2,000 random messages, photo captions and button presses.

The real system runs (webhook mode, our HTTP server, the relay, the sandbox standing in
for Telegram). The inputs are Telegram updates posted to our webhook with its secret,
because that is the only way to send what a phone cannot: 10 kB texts, forged button
data, control characters, lone surrogates. Their authors are members of both teams (the
lead, workers, the clerk), the other team's people, and strangers; in the team groups, an
unbound group and private chats.

Every input is one that must change nothing: strangers and the other team may try
anything on a team's cases, while a member only tries what cannot lawfully change a case
(read-only commands, commands and buttons aimed at cases not theirs to act on, garbage).
Two codes wait for an answer all along: a link code of Minh's, opened on a Zalo account,
and a PL invite opened by a stranger. Everybody but Minh (for the first) and PL's lead
(for the second) tries to answer them, by button and by `/invite ok|no CODE`; and
`/invite link` is typed in groups, where no code may be made.
`Fuzzer.lawful` encodes that, and a generated input it flags is drawn again. So the
database's cases, history, evidence, teams and people must be exactly as before.

Also checked: every webhook call is answered 200, the bot never answers with a stack
trace, an exception name or a database message, strangers in groups are never answered,
the serve task still runs, and `/help` works afterwards. The cases' names, addresses,
descriptions and notes carry phone numbers written every which way (full-width digits,
`+84`, mixed separators, zero-width spaces): none reaches a group chat in full, while
the cards, `/case` and the list buttons are shown there all along.

Reproducible: the inputs come from `random.Random(SEED)`. Runs on SQLite and PostgreSQL
(the `database_url` fixture), about 30 s and 20 s. Telegram only: Zalo has no buttons, and
past its adapter a Zalo message takes the same path.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from bot.bootstrap import Container, bootstrap
from bot.domain.clock import FixedClock
from bot.domain.model import Role
from bot.domain.people import Actor, ChatBinding, Identity, Member, Team
from bot.runner import serve
from bot.services.invites import Joiner, normalize_code
from handlers.callbacks import (
    ButtonAction,
    CallbackData,
    InvitePress,
    LinkPress,
    Press,
    decode_press,
)
from handlers.parsing import CommandName, normalize_ref, parse_command
from sandbox import SandboxClient, TelegramSandbox, make_png
from storage import tables as t
from storage.outbox_store import DeliveryState
from tests.conftest import make_settings
from tests.e2e.conftest import TOKEN, on_sandbox, started, webhook_mode
from tests.e2e.fieldkit import full_numbers

SEED = 20261127
INPUTS = 2000
SECRET = "fuzz-webhook-secret-0123456789"
INTAKE = "test-intake-token"
BOT_USERNAME = "dispatch_sandbox_bot"
PL_GROUP, DL_GROUP, LOOSE_GROUP = -100555, -100777, -100999
#: Webhook calls in flight at once (SQLite queues the writers; PostgreSQL takes them).
CONCURRENCY = 4

#: What must never show in what the bot says: traces, exception names, database talk.
#: None of it occurs in the inputs (checked), so an echo cannot cause a false alarm.
LEAKS = re.compile(
    r"Traceback|Exception|Error:|\b[A-Z][A-Za-z]+Error\b|sqlalchemy|asyncpg|aiosqlite|"
    r"sqlite3|psycopg|\[SQL:|Background on this error|File \"/",
)
#: Commands that change something other than a case (a language, an invite, a team's
#: people) or start a new case: left out for members, whose inputs must change nothing.
NOT_FOR_MEMBERS = frozenset(
    {CommandName.LANG, CommandName.INVITE, CommandName.REMOVE, CommandName.NEW}
)
#: Commands that may change a case, for somebody with the right to.
CASE_CHANGES = frozenset(
    {
        CommandName.CLAIM,
        CommandName.SURVEY,
        CommandName.ESTIMATE,
        CommandName.AGREE,
        CommandName.INSTALL,
        CommandName.INSPECT,
        CommandName.RESOLVE,
        CommandName.CLOSE,
        CommandName.RELEASE,
        CommandName.HOLD,
        CommandName.RESUME,
        CommandName.ASSIGN,
        CommandName.CANCEL,
        CommandName.RATE,
    }
)
#: The tables a stray input could change.
SNAPSHOT = (
    "cases",
    "case_events",
    "evidence",
    "teams",
    "team_chats",
    "members",
    "identities",
    "invites",
)


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    username: str | None
    role: Role | None = None  # None: a stranger
    team: str | None = None
    active_cases: int = 0  # never exactly one: "/survey note" must not find a case alone

    @property
    def own_teams(self) -> frozenset[str]:
        """Teams whose cases this person may lawfully change (a clerk serves every team)."""
        if self.role is Role.CLERK:
            return frozenset({"PL", "DL"})
        return frozenset({self.team}) if self.team else frozenset()

    def user(self, lang: str | None) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.name}
        if self.username:
            data["username"] = self.username
        if lang:
            data["language_code"] = lang
        return data


LEAD = Person(3001, "Lan", "lan_pl", Role.LEAD, "PL")
MINH = Person(3002, "Minh", "minh_pl", Role.WORKER, "PL", active_cases=2)
HUNG = Person(3003, "Hùng", "hung_pl", Role.WORKER, "PL")
CLERK = Person(3004, "Thu", "thu_desk", Role.CLERK)
STRANGER = Person(3005, "Lạ", "la")
OTHER_LEAD = Person(3006, "Quang", "quang_dl", Role.LEAD, "DL")
DL_WORKER = Person(3007, "Tâm", "tam_dl", Role.WORKER, "DL", active_cases=2)
STRANGERS = tuple(Person(3100 + i, f"Khách {i}", f"khach{i}" if i % 2 else None) for i in range(12))
MEMBERS = (LEAD, MINH, HUNG, CLERK, OTHER_LEAD, DL_WORKER)
STRANGERS_ALL = (STRANGER, *STRANGERS)
EVERYONE = (*MEMBERS, *STRANGERS_ALL)

# ------------------------------------------------------------------ raw material

SQL = (
    "'; DROP TABLE cases;--",
    "1' OR '1'='1",
    "PL-1'); DELETE FROM case_events; --",
    '" OR 1=1 --',
    "UNION SELECT customer_phone FROM cases",
    "%' AND 1=0 UNION ALL SELECT NULL--",
)
HTML = (
    "<b>đậm</b>",
    "<script>alert(1)</script>",
    "<a href='tg://user?id=1'>x</a>",
    "&lt;&amp;&gt;",
    "<i>chưa đóng",
    "*đậm* _nghiêng_ `mã` [x](http://e.vn)",
)
ODD = (
    "\u202e1-LP mialc/",
    "\u200f/claim PL-1",
    "\u200b\u200d\ufeff",
    "\x00",
    "\x07\x1b[31m",
    "\r\n\t",
    "👷\u200d♀️🔌⚡🇻🇳",
    "Ｐ Ｌ －１",
    "ＰＬ-１",
    "PL-1\x00",
    "\ud800",
    "a\udfffb",
    "",
    " ",
    "@",
    "@" + "x" * 100,
    f"@{BOT_USERNAME}",
    "/",
    "//claim",
    "/ claim PL-1",
    "/claim_",
    "/claim@other_bot PL-1",
    # Digits str.isdigit() takes and int() does not (or reads as nobody meant).
    "²",
    "①",
    "٣",
    "１０",
)
REF_LIKE = (
    "PL-1",
    "pl-01",
    "PL-0",
    "PL-999999999",
    "PL-99999999999",
    "ZZ-1",
    "PL--1",
    "PL-1.5",
    "P L-1",
    "-1",
    "DL-1",
    "dl-2",
    "DL-9",
)
AMOUNTS = (
    *("1,5tr", "-1tr", "1e9", "9" * 30 + "tr", "NaN", "∞", "1.500.000", "2 triệu", "0"),
    *("²tr", "１,５tr", "١٥٠٠٠٠٠", "1 ５００ ０００"),
)
#: Phone numbers typed into customers' names, addresses and descriptions and into notes
#: (setup_cases): none may reach a group in full. Their national forms, for the check.
PLANTED_PHONES = {
    "0913.456.789": "0913456789",
    "０２２６ ３８５２ １２３": "02263852123",
    "+84 977 123 456": "0977123456",
    "0966 111.222": "0966111222",
    "0955\u200b222\u200b333": "0955222333",
    "(+84) 88-444-5555": "0884445555",
}
#: Phone-looking text in the random inputs (other numbers: what a person types in a group
#: is theirs to show, and an echo of it is no leak of a customer's number).
PHONE_LIKE = (
    "0938 765 432",
    "+84 938 765 432",
    "０９３８７６５４３２",
    "05-11-2026 08:30",
    "0938.765-432",
)
WORDS = (*[c.value for c in CommandName], "foo", "CLAIM", "Survey", "x" * 40, "claim_all")
ALPHABETS = (
    "abcdefghijklmnopqrstuvwxyz0123456789 -_/@:.,",
    "ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ ",
    "中文字符測試日本語한국어",
    "😀👷🔌⚡📋✅❌🇻🇳",
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2069",
    "".join(chr(c) for c in [*range(0, 32), 127]),
    "\u0300\u0301\u0303\u0309\u0323",
    "אבגדהוזחטיכלמנסעפצקרשתابتثجحخدذرزسشصضطظعغفقكلمنهوي",
)
PNG = make_png(24, 24)


def seeded(rng: random.Random) -> str:
    """A random string: any mix of scripts, marks and control characters."""
    size = rng.choice((0, 1, 3, 10, 40, 200))
    alphabet = "".join(rng.sample(ALPHABETS, rng.randint(1, 3)))
    return "".join(rng.choice(alphabet) for _ in range(size))


@dataclass
class Card:
    ref: str
    chat: int
    message_id: int

    @property
    def team(self) -> str:
        return self.ref.split("-")[0]


@dataclass
class Input:
    """One input: what was posted, by whom, where."""

    update: dict[str, Any]
    person: Person
    chat: int
    kind: str


@dataclass(frozen=True)
class Codes:
    """The codes that wait for an answer, and who alone may give it."""

    link: str  # Minh's link code, opened on Zalo: only Minh's account confirms
    team: str  # a PL invite a stranger opened: only PL's lead agrees

    def all(self) -> tuple[str, str]:
        return self.link, self.team

    def may_answer(self, person: Person, code: str | None) -> bool:
        return (code == self.link and person is MINH) or (code == self.team and person is LEAD)


@dataclass
class Fuzzer:
    rng: random.Random
    cards: list[Card]
    photo_ids: list[str]
    codes: Codes
    update_id: int = 10_000
    message_id: int = 500_000

    # ------------------------------------------------------------ pieces
    def junk(self) -> str:
        r = self.rng.random()
        if r < 0.35:
            return seeded(self.rng)
        if r < 0.55:
            return self.rng.choice((*SQL, *HTML, *ODD))
        if r < 0.75:
            return self.rng.choice(REF_LIKE + tuple(c.ref for c in self.cards))
        if r < 0.85:
            return self.rng.choice(AMOUNTS)
        if r < 0.9:
            return self.rng.choice(PHONE_LIKE)
        return self.rng.choice(("@minh_pl", "@lan_pl", "@quang_dl", "@nobody", "telegram:3002"))

    def long_text(self) -> str:
        size = self.rng.choice((4097, 5000, 10_240))
        head = self.rng.choice(("", "/survey PL-1 ", "/claim ", "/new ", "@x /help "))
        filler = self.rng.choice(("A", "đ", "😀", "\u202e", "ư ", "\x00"))
        return head + filler * (size // len(filler))

    def attack(self) -> str:
        """A well-formed command on a real case, as someone trying their luck would type."""
        word = self.rng.choice(sorted(CASE_CHANGES))
        ref = self.rng.choice(self.cards).ref
        if self.rng.random() < 0.3:
            ref = ref.lower()
        args = {
            CommandName.ESTIMATE: "1,5tr 2.000.000 ghi chú",
            CommandName.INSTALL: "CT-123456 42",
            CommandName.ASSIGN: self.rng.choice(("@minh_pl", "@tam_dl", "@la", "telegram:3003")),
            CommandName.RATE: self.rng.choice(("9", "10", "1", "11", "0", "²", "①", "٣", "１０")),
        }.get(word, self.rng.choice(("ghi chú", "khách hẹn", self.junk())))
        return f"/{word.value} {ref} {args}"

    def code_talk(self) -> str:
        """Answering, opening or asking for codes, as somebody who has none would."""
        code = self.rng.choice((*self.codes.all(), "ABCDEFGHJK", self.junk()))
        if self.rng.random() < 0.3:
            code = code.lower()
        return self.rng.choice(
            (f"/invite ok {code}", f"/invite no {code}", f"/start {code}", "/invite link")
        )

    def text(self) -> str:
        r = self.rng.random()
        if r < 0.3:
            return self.attack()
        if r < 0.36:
            return self.code_talk()
        if r < 0.5:
            word = self.rng.choice(WORDS)
            at = self.rng.choice(("", "", "", f"@{BOT_USERNAME}", "@someone_bot"))
            args = " ".join(self.junk() for _ in range(self.rng.randint(0, 4)))
            prefix = self.rng.choice(("", "", "", "@minh_pl ", " ", "\u200f"))
            return f"{prefix}/{word}{at} {args}".rstrip()
        if r < 0.7:
            return seeded(self.rng)
        if r < 0.8:
            return self.long_text()
        return self.junk()

    def callback_data(self) -> str:
        r = self.rng.random()
        refs = [c.ref for c in self.cards] + list(REF_LIKE)
        if r < 0.3:  # a real button of a real case, pressed by whoever
            action = self.rng.choice((ButtonAction.CLAIM, ButtonAction.CLAIM, *ButtonAction))
            return f"c:{action.value}:{self.rng.choice(self.cards).ref}"
        if r < 0.5:
            action = self.rng.choice([a.value for a in ButtonAction] + ["nope", ""])
            return f"c:{action}:{self.rng.choice(refs)}"
        if r < 0.6:
            return self.rng.choice(("l:mine:1", "l:open:2", "l:open:0", "l:mine:-1", "l:x:1"))
        if r < 0.7:
            op = self.rng.choice(("d", "s", "y", "x", "o1", "o100", "z", ""))
            return f"f:{self.rng.choice(('deadbeef', '0', 'a' * 80, '😀'))}:{op}"
        if r < 0.78:
            family = self.rng.choice("ik")
            code = self.rng.choice(("ABCDEF", "x", "", "a" * 40, *self.codes.all()))
            return f"{family}:{code}:{self.rng.choice('yyn?')}"
        if r < 0.9:
            return self.rng.choice(("", ":", ":::", "c::", "c:claim", "c:claim:PL-1:x", "\x00"))
        return seeded(self.rng)[:200]

    def chat_for(self, person: Person) -> int:
        return self.rng.choice((PL_GROUP, PL_GROUP, DL_GROUP, LOOSE_GROUP, person.id, person.id))

    def chat_json(self, chat: int, person: Person) -> dict[str, Any]:
        if chat > 0:
            return {"id": chat, "type": "private", "first_name": person.name}
        return {"id": chat, "type": "supergroup", "title": f"Nhóm {chat}"}

    # ------------------------------------------------------------ updates
    def next_update(self) -> tuple[Input, Press | None, Card | None]:
        # Members half the time (their refusals are the interesting ones), strangers else.
        person = self.rng.choice(MEMBERS if self.rng.random() < 0.5 else STRANGERS_ALL)
        chat = self.chat_for(person)
        lang = self.rng.choice(("vi", "en", "fr", None, "zz"))
        self.update_id += 1
        self.message_id += 1
        in_chat = [c for c in self.cards if c.chat == chat]
        card = self.rng.choice(in_chat) if in_chat and self.rng.random() < 0.3 else None
        r = self.rng.random()
        if r < 0.3:
            data = self.callback_data()
            message_id = card.message_id if card else self.rng.randint(1, 10**6)
            update = {
                "update_id": self.update_id,
                "callback_query": {
                    "id": str(900_000_000 + self.update_id),
                    "from": person.user(lang),
                    "chat_instance": str(chat),
                    "data": data,
                    "message": {
                        "message_id": message_id,
                        "date": 1_795_000_000,
                        "chat": self.chat_json(chat, person),
                    },
                },
            }
            return Input(update, person, chat, "press"), decode_press(data), card
        message: dict[str, Any] = {
            "message_id": self.message_id,
            "date": 1_795_000_000,
            "chat": self.chat_json(chat, person),
            "from": person.user(lang),
        }
        if card is not None:
            message["reply_to_message"] = {
                "message_id": card.message_id,
                "date": 1_795_000_000,
                "chat": self.chat_json(chat, person),
                "text": card.ref,
            }
        kind = "text"
        if r < 0.5:
            kind = "photo"
            size = self.rng.choice((len(PNG), 50, 11 * 1024 * 1024))
            file_id = self.rng.choice((*self.photo_ids, "forged-file-id", "", "😀"))
            message["photo"] = [
                {"file_id": file_id, "file_unique_id": "u1", "width": 24, "height": 24}
                | ({"file_size": size} if self.rng.random() < 0.8 else {})
            ]
            if self.rng.random() < 0.8:
                message["caption"] = self.text()[:1100]
        else:
            message["text"] = self.text()
            if person.role is None and chat > 0 and self.rng.random() < 0.1:
                kind = "forward"
                message["forward_origin"] = {
                    "type": "hidden_user",
                    "date": 1_795_000_000,
                    "sender_user_name": "Khách",
                }
        return (
            Input({"update_id": self.update_id, "message": message}, person, chat, kind),
            None,
            card,
        )

    def lawful(self, item: Input, press: Press | None, card: Card | None) -> bool:
        """Could this input lawfully change something? Then it is no input for this test."""
        person = item.person
        if person.role is None:
            return False  # strangers may try anything: nothing of theirs is lawful
        own = person.own_teams
        if card is not None and card.team in own:
            return True  # a reply to (or a press on) a card of a case theirs to act on
        if isinstance(press, InvitePress | LinkPress):
            return self.codes.may_answer(person, press.code)
        if isinstance(press, CallbackData):
            return press.action is not ButtonAction.CASE and press.ref.split("-")[0] in own
        if item.kind == "press":
            return False
        if item.kind == "forward":
            return True
        message = item.update.get("message", {})
        text = message.get("text") or message.get("caption") or ""
        parsed = parse_command(text, BOT_USERNAME)
        if parsed is None or parsed.name is None:
            return False
        if parsed.name is CommandName.INVITE:
            return self.lawful_invite(item, parsed.args)
        if parsed.name in NOT_FOR_MEMBERS:
            return True
        if parsed.name not in CASE_CHANGES:
            return False
        ref = normalize_ref(parsed.args[0]) if parsed.args else None
        if ref is None:  # the replied-to case (none here) or the person's only case
            return person.active_cases == 1
        return ref.split("-")[0] in own

    def lawful_invite(self, item: Input, args: tuple[str, ...]) -> bool:
        """`/invite ok|no CODE` answers only for the one who may; `/invite link` makes a
        code only in the private chat; a team invite (`/invite worker`) is never tried."""
        word = args[0].lower() if args else ""
        if word in ("ok", "no"):
            code = normalize_code(args[1]) if len(args) > 1 else None
            return self.codes.may_answer(item.person, code)
        if word == "link":
            return item.chat > 0
        return True

    def inputs(self, count: int) -> list[Input]:
        out: list[Input] = []
        while len(out) < count:
            item, press, card = self.next_update()
            if self.lawful(item, press, card) or LEAKS.search(repr(item.update)):
                continue
            out.append(item)
        # A few updates arrive twice, as Telegram re-sends when an answer is slow.
        out += self.rng.sample(out, 20)
        return out


# ------------------------------------------------------------------ the stage


@dataclass
class Stage:
    container: Container
    client: SandboxClient
    task: asyncio.Task[None]
    http: aiohttp.ClientSession

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.container.http_port}/telegram/webhook"

    async def post(self, update: dict[str, Any]) -> int:
        """As Telegram posts: UTF-8 JSON (escapes only for what UTF-8 cannot carry)."""
        try:
            body = json.dumps(update, ensure_ascii=False).encode()
        except UnicodeEncodeError:  # a lone surrogate
            body = json.dumps(update).encode()
        headers = {
            "X-Telegram-Bot-Api-Secret-Token": SECRET,
            "Content-Type": "application/json",
        }
        async with self.http.post(self.webhook, data=body, headers=headers) as resp:
            await resp.read()
            return resp.status

    async def intake(self, ext: str, team: str, kind: str, planted: str = "") -> str:
        """A case; `planted` is a phone number typed into its name, address and description."""
        body: dict[str, Any] = {
            "external_ref": ext,
            "kind": kind,
            "team": team,
            "customer": {
                "name": f"Trần Văn Hưng {planted}".strip(),
                "phone": "0912345678",
                "address": f"12 THĐ, ĐT nhà {planted}",
            },
            "description": "Khách báo mất điện. " * 14 + planted,  # across the card's cut
        }
        if kind == "new_connection":
            body |= {"area": "urban", "purpose": "domestic"}
        url = f"http://127.0.0.1:{self.container.http_port}/api/v1/cases"
        headers = {"Authorization": f"Bearer {INTAKE}"}
        async with self.http.post(url, json=body, headers=headers) as resp:
            assert resp.status == 201, await resp.text()
            return str((await resp.json())["ref"])

    async def settled(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while await self.container.store.pending_count():
            assert loop.time() < deadline, "the outbox did not drain"
            await asyncio.sleep(0.05)


@pytest.fixture
async def stage(database_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Stage]:
    async with TelegramSandbox(token=TOKEN) as sandbox, SandboxClient(sandbox.root_url) as client:
        for person in EVERYONE:
            await client.add_user(person.id, person.name, username=person.username)
        everyone = [p.id for p in EVERYONE]
        await client.add_chat(PL_GROUP, title="Đội PL", members=everyone)
        await client.add_chat(DL_GROUP, title="Đội DL", members=everyone)
        await client.add_chat(LOOSE_GROUP, title="Nhóm chung", members=everyone)
        settings = make_settings(
            database_url,
            tmp_path,
            **on_sandbox("telegram", sandbox.root_url),
            **webhook_mode("telegram", SECRET),
            http_port=0,
            admin_ids="telegram:9001",
            reminder_interval_seconds=3600,  # no scheduler pass during the run
            user_rate_limit="off",  # the flood is the point here; the limit has its own tests
        )
        container = await bootstrap(settings, clock=clock)
        async with container.uow() as uow:
            await uow.teams.add(Team("PL", "Phủ Lý", (ChatBinding("telegram", str(PL_GROUP)),)))
            await uow.teams.add(Team("DL", "Duy Tiên", (ChatBinding("telegram", str(DL_GROUP)),)))
            for p in MEMBERS:
                assert p.role is not None
                ident = Identity("telegram", str(p.id), p.username)
                await uow.members.add(
                    Member(f"telegram:{p.id}", p.name, p.role, p.team, None, (ident,))
                )
            await uow.commit()
        stop = asyncio.Event()
        task = asyncio.create_task(serve(container, stop))
        try:
            await started(container, task)
            async with aiohttp.ClientSession() as http:
                yield Stage(container, client, task, http)
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 15)
            await container.close()


async def snapshot(container: Container) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with container.engine.connect() as conn:
        for name in SNAPSHOT:
            table = t.metadata.tables[name]
            key = list(table.primary_key.columns)
            assert key, name
            out[name] = [tuple(row) for row in await conn.execute(sa.select(table).order_by(*key))]
    return out


async def setup_cases(s: Stage) -> tuple[list[Card], list[str]]:
    """Ten cases on two teams, four of them claimed; the cards' messages; a stored photo."""
    planted = list(PLANTED_PHONES)
    for i in range(6):
        kind = ("new_connection", "meter_complaint")[i % 2]
        await s.intake(f"FZ-PL-{i}", "PL", kind, planted[i % len(planted)])
    for i in range(4):
        kind = ("meter_complaint", "new_connection")[i % 2]
        await s.intake(f"FZ-DL-{i}", "DL", kind, planted[(i + 3) % len(planted)])
    lawful = [
        (MINH, PL_GROUP, "/claim PL-1"),
        (MINH, PL_GROUP, "/claim PL-2"),
        (MINH, PL_GROUP, f"/survey PL-1 đã khảo sát, gọi {planted[2]} hoặc {planted[3]}"),
        (DL_WORKER, DL_GROUP, "/claim DL-1"),
        (DL_WORKER, DL_GROUP, "/claim DL-2"),
        (LEAD, PL_GROUP, f"/hold PL-3 chờ giấy phép, khách {planted[4]}"),
    ]
    for n, (person, chat, text) in enumerate(lawful):
        status = await s.post(
            {
                "update_id": 1 + n,
                "message": {
                    "message_id": 1 + n,
                    "date": 1_795_000_000,
                    "chat": {"id": chat, "type": "supergroup", "title": "Đội"},
                    "from": person.user("vi"),
                    "text": text,
                },
            }
        )
        assert status == 200
    await s.settled()
    cards: list[Card] = []
    for chat in (PL_GROUP, DL_GROUP):
        for m in await s.client.messages(chat):
            found = re.match(r"📋 ([A-Z]+-\d+) ", m.body)
            if m.from_bot and found:
                cards.append(Card(found.group(1), chat, m.message_id))
    assert len(cards) == 10, [c.ref for c in cards]
    # Real photo ids, from photos people sent (the bot can fetch them): an image, and a
    # file that says it is a JPEG and is not.
    photo = await s.client.send_photo(STRANGER.id, STRANGER.id, PNG)
    fake = await s.client.send_message(
        STRANGER.id,
        STRANGER.id,
        document={
            "base64": base64.b64encode(b"not really a jpeg").decode(),
            "file_name": "x.jpg",
            "mime_type": "image/jpeg",
        },
    )
    assert photo.photo is not None and fake.document is not None
    return cards, [photo.photo.file_id, fake.document.file_id]


async def setup_codes(s: Stage) -> Codes:
    """Minh's link code opened on a Zalo account, and a PL invite a stranger opened: both
    wait for an answer that only Minh, and only PL's lead, may give."""
    onboarding = s.container.dispatcher.onboarding
    assert onboarding is not None and onboarding.service is not None
    service = onboarding.service
    minh = Member(f"telegram:{MINH.id}", MINH.name, Role.WORKER, "PL")
    lan = Member(f"telegram:{LEAD.id}", LEAD.name, Role.LEAD, "PL")
    account = Identity("telegram", str(MINH.id), MINH.username)
    link = await service.create_link(
        Actor(minh.uid, minh.name, member=minh), account, s.container.uow()
    )
    await service.open(
        link.token, Joiner("zalo", "fz0a1b2c3d4e", "Người Zalo"), None, s.container.uow()
    )
    team = await service.create(
        Actor(lan.uid, lan.name, member=lan), "PL", Role.WORKER, s.container.uow()
    )
    stranger = STRANGERS[0]
    joiner = Joiner("telegram", str(stranger.id), stranger.name, stranger.username)
    await service.open(team.token, joiner, None, s.container.uow())
    await s.settled()
    return Codes(link.token, team.token)


async def bot_said(s: Stage) -> list[str]:
    """Everything the bot said or tried to: the outbox, and the platform calls it made."""
    said: list[str] = []
    async with s.container.engine.connect() as conn:
        for (payload,) in await conn.execute(sa.select(t.outbox.c.payload)):
            said.append(str(payload.get("text", "")))
    for method in ("sendMessage", "editMessageText", "sendPhoto", "answerCallbackQuery"):
        for call in await s.client.calls(method):
            said.append(str(call.params.get("text") or call.params.get("caption") or ""))
    return said


async def group_lines(s: Stage) -> list[str]:
    """Every line the bot said, or meant to say, in a group chat."""
    texts: list[str] = []
    async with s.container.engine.connect() as conn:
        for chat, payload in await conn.execute(sa.select(t.outbox.c.chat_id, t.outbox.c.payload)):
            if int(chat) < 0:
                texts.append(str(payload.get("text", "")))
    for method in ("sendMessage", "editMessageText", "sendPhoto"):
        for call in await s.client.calls(method):
            if int(call.params.get("chat_id", 0)) < 0:
                texts.append(str(call.params.get("text") or call.params.get("caption") or ""))
    return [line for text in texts for line in text.split("\n")]


async def test_two_thousand_random_inputs_change_nothing_and_leak_nothing(
    stage: Stage, caplog: pytest.LogCaptureFixture
) -> None:
    s = stage
    rng = random.Random(SEED)
    cards, photo_ids = await setup_cases(s)
    codes = await setup_codes(s)
    before = await snapshot(s.container)
    fuzzer = Fuzzer(rng, cards, photo_ids, codes)
    inputs = fuzzer.inputs(INPUTS)
    assert len({id(x.update) for x in inputs}) == INPUTS  # and 20 of them twice
    kinds = {k: sum(1 for x in inputs if x.kind == k) for k in ("text", "photo", "press")}
    assert min(kinds.values()) > INPUTS // 10, kinds
    assert sum(1 for x in inputs if x.person.role is None) > INPUTS // 4
    assert sum(1 for x in inputs if x.person.role is not None) > INPUTS // 4
    aimed = [x for x in inputs if any(code in repr(x.update) for code in codes.all())]
    assert len(aimed) > INPUTS // 100, len(aimed)  # the waiting codes are tried

    gate = asyncio.Semaphore(CONCURRENCY)

    async def post(item: Input) -> int:
        async with gate:
            return await s.post(item.update)

    statuses = await asyncio.gather(*(post(x) for x in inputs[:INPUTS]))
    statuses += [await s.post(x.update) for x in inputs[INPUTS:]]  # replays, after the first
    assert set(statuses) == {200}, {code: statuses.count(code) for code in set(statuses)}
    await s.settled()

    assert not s.task.done(), "the bot stopped"
    crashed = [r.getMessage() for r in caplog.records if r.name.startswith("handlers")]
    assert [m for m in crashed if "failed" in m] == []  # every input got an answer, no trace
    assert await snapshot(s.container) == before
    media = s.container.settings.media_dir
    assert [p for p in media.rglob("*") if p.is_file()] == []

    said = await bot_said(s)
    leaks = [text[:200] for text in said if LEAKS.search(text)]
    assert leaks == []
    # No customer's number typed into a name, an address or a note reached a group in
    # full, though cards, /case and list buttons were shown there all along.
    lines = await group_lines(s)
    assert sum("0913***789" in line for line in lines) > 1, "the planted numbers were never shown"
    assert full_numbers(lines, [*PLANTED_PHONES.values(), "0912345678"]) == []
    async with s.container.engine.connect() as conn:
        rows = (await conn.execute(sa.select(t.outbox.c.chat_id, t.outbox.c.payload))).all()
        failed = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(t.outbox)
                .where(t.outbox.c.status == DeliveryState.FAILED.value)
            )
        ).scalar_one()
    assert failed == 0
    strangers_in_groups = {
        str(x.update["message"]["message_id"])
        for x in inputs
        if x.person.role is None and x.chat < 0 and "message" in x.update
    }
    answered = [
        payload
        for chat, payload in rows
        if int(chat) < 0 and str(payload.get("reply_to")) in strangers_in_groups
    ]
    assert answered == []

    # Still itself: a member's /help is answered.
    last = max(m.message_id for m in await s.client.messages(PL_GROUP))
    status = await s.post(
        {
            "update_id": 99_999,
            "message": {
                "message_id": 99_999,
                "date": 1_795_000_000,
                "chat": {"id": PL_GROUP, "type": "supergroup", "title": "Đội PL"},
                "from": MINH.user("vi"),
                "text": "/help",
            },
        }
    )
    assert status == 200
    await s.client.wait_for_message(PL_GROUP, contains="/claim", after=last)


# ------------------------------------------------------------------ the envelope

#: update_id values Telegram never sends: each must be refused before it is stored.
ODD_UPDATE_IDS: tuple[Any, ...] = (
    None,
    1.0,
    2.5,
    "3",
    "7" * 60_000,
    True,
    -1,
    2**64,
    [1],
    {"id": 1},
    "",
    "\ud800",
)


def envelope(rng: random.Random, n: int) -> tuple[bytes, dict[str, str], set[int]]:
    """One request as only an outsider (or a broken proxy) would send it: its body, its
    headers, and the answers it may get."""
    good = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    message = {
        "message_id": 700_000 + n,
        "date": 1_795_000_000,
        "chat": {"id": PL_GROUP, "type": "supergroup", "title": "Đội PL"},
        "from": MINH.user("vi"),
        "text": rng.choice(("/mine", "/open", "/rate PL-1 ²", seeded(rng))),
    }
    r = rng.random()
    if r < 0.4:
        body = json.dumps({"update_id": rng.choice(ODD_UPDATE_IDS), "message": message})
        return body.encode(), good, {400}
    if r < 0.6:
        depth = rng.choice((1_500, 30_000))
        opener, closer = rng.choice(((b"[", b"]"), (b'{"a":', b"}")))
        depth = min(depth, 60_000 // (len(opener) + len(closer)))
        return opener * depth + b"1" * (opener == b'{"a":') + closer * depth, good, {400}
    if r < 0.75:
        pieces = ('{"update_id": 1, "update_id": 2}', '{"update_id": 1', "\xff", "[1, 2", "NaN")
        return rng.choice(pieces).encode("utf-8", "surrogateescape"), good, {400}
    secret = rng.choice((SECRET + "x", "bí mật", SECRET[:-1], "", "😀" * 10))
    headers = {**good, "X-Telegram-Bot-Api-Secret-Token": secret}
    return json.dumps({"update_id": 800_000 + n, "message": message}).encode(), headers, {403}


async def test_odd_envelopes_are_refused_with_a_4xx_and_change_nothing(stage: Stage) -> None:
    """Odd update ids, nesting too deep, broken JSON and wrong secrets, with and without
    non-ASCII: every one refused with a 4xx (none was a 500), nothing stored, nothing said."""
    s = stage
    rng = random.Random(SEED + 1)
    await setup_cases(s)
    before = await snapshot(s.container)
    async with s.container.engine.connect() as conn:
        seen_before = (await conn.execute(sa.select(t.processed_updates.c.update_id))).all()
    wrong: list[str] = []
    for n in range(300):
        body, headers, allowed = envelope(rng, n)
        async with s.http.post(s.webhook, data=body, headers=headers) as resp:
            answer = await resp.json()
            if resp.status not in allowed or set(answer) != {"error"}:
                wrong.append(f"{resp.status} {answer} for {body[:60]!r}")
    assert wrong == []
    await s.settled()
    assert await snapshot(s.container) == before
    async with s.container.engine.connect() as conn:
        seen = (await conn.execute(sa.select(t.processed_updates.c.update_id))).all()
    assert seen == seen_before
    assert not s.task.done()
