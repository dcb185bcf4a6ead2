"""`dispatchbot demo`: a scripted morning at the desk, offline, against the sandbox.

Everything is real except the people: the bot talks HTTP to the built-in Bot API
sandbox (Telegram's, or Zalo's with `--channel zalo`), the clerk files cases through
the intake API, and the database is an SQLite file in a temporary folder. The same
script plays on both channels; people's phones (`sandbox.phones`) hide how each
platform is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import sqlalchemy as sa

from bot.bootstrap import Container, bootstrap
from bot.config import load_settings
from bot.domain.clock import Clock, FixedClock
from bot.domain.model import Role
from bot.domain.people import ChatBinding, Identity, Member, Team
from bot.i18n import Lang
from bot.reports.period import Period
from bot.reports.service import ReportDeps, build
from bot.reports.text import summary
from bot.runner import serve
from bot.services.board_links import BoardLinks
from sandbox.client import ChatMessage, SandboxClient, SandboxUser, ZaloSandboxClient
from sandbox.phones import Person, Phone, Seen, TelegramPhone, ZaloPhone, say
from sandbox.telegram import TelegramSandbox
from sandbox.zalo import ZaloSandbox
from storage import tables as t

TOKEN = "123456:DEMO-sandbox-token-not-a-secret"
ZALO_TOKEN = "2700000000001:DEMO-zalo-sandbox-token"
ZALO_BOT_NAME = "Bot Điện lực Phủ Lý"
INTAKE = "demo-intake-token"
GROUP_ID = -100123456789
ZALO_GROUP_ID = "6d1f3b0a9c2e4d5f8a70"
#: Zalo ids are strings, and Zalo shows people by their display names.
ZALO_PEOPLE: dict[str, tuple[str, str]] = {
    "lan": ("3c8e5a1d7f2b9e0c4a61", "Phạm Lan"),
    "minh": ("3c8e5a1d7f2b9e0c4a62", "Đỗ Minh"),
    "hung": ("3c8e5a1d7f2b9e0c4a63", "Vũ Hùng"),
    "thu": ("3c8e5a1d7f2b9e0c4a64", "Ngô Thu"),
}
ZALO_PEOPLE_IDS = tuple(user_id for user_id, _ in ZALO_PEOPLE.values())

CASES: list[dict[str, Any]] = [
    {
        "external_ref": "TTHCC-PL-2026-00123",
        "kind": "new_connection",
        "team": "PL",
        "area": "urban",
        "purpose": "domestic",
        "customer": {
            "name": "Trần Văn Hưng",
            "phone": "0912345678",
            "address": "12 Trần Hưng Đạo, Phủ Lý",
        },
        "description": "Đăng ký cấp điện sinh hoạt",
    },
    {
        "external_ref": "TTHCC-PL-2026-00124",
        "kind": "meter_complaint",
        "team": "PL",
        "customer": {
            "name": "Nguyễn Thị Mai",
            "phone": "0987654321",
            "address": "5 Lê Lợi, Phủ Lý",
        },
        "description": "Công tơ quay nhanh bất thường",
    },
    {
        "external_ref": "TTHCC-PL-2026-00125",
        "kind": "new_connection",
        "team": "PL",
        "area": "rural",
        "purpose": "domestic",
        "customer": {
            "name": "Lê Văn Toàn",
            "phone": "0356789123",
            "address": "Xóm 3, Liêm Tuyền, Thanh Liêm",
        },
        "description": "Cấp điện nhà mới xây",
    },
]


@dataclass(frozen=True)
class Cast:
    """The people of the demo, their team's group, and the phone they all use."""

    phone: Phone
    group: str
    lan: Person
    minh: Person
    hung: Person
    thu: Person

    @property
    def people(self) -> dict[str, Person]:
        return {"lan": self.lan, "minh": self.minh, "hung": self.hung, "thu": self.thu}


class Script:
    """The humans of the demo, each acting through the sandbox like a phone would."""

    def __init__(self, cast: Cast, api: str, say: Callable[[str], None]) -> None:
        self.cast = cast
        self.api = api
        self.say = say

    async def post_case(self, http: aiohttp.ClientSession, body: dict[str, Any]) -> str:
        async with http.post(
            f"{self.api}/api/v1/cases", json=body, headers={"Authorization": f"Bearer {INTAKE}"}
        ) as resp:
            data = await resp.json()
            if resp.status not in (200, 201):
                raise RuntimeError(f"intake refused: {resp.status} {data}")
            return str(data["ref"])

    async def card(self, ref: str) -> Seen:
        return await self.cast.phone.card(self.cast.group, ref)

    async def type(self, user: Person, text: str) -> Seen:
        """A person types in the group; returns the bot's answer there."""
        self.say(f"  {user.name}: {text}")
        return await say(self.cast.phone, user, self.cast.group, text)


async def _telegram_cast(client: SandboxClient) -> Cast:
    lan, minh, hung = (
        await client.add_user(2001, "Lan", last_name="Phạm", username="lan_pl", language_code="vi"),
        await client.add_user(2002, "Minh", last_name="Đỗ", username="minh_pl", language_code="vi"),
        await client.add_user(2003, "Hùng", last_name="Vũ", username="hung_pl", language_code="vi"),
    )
    thu = await client.add_user(
        2004, "Thu", last_name="Ngô", username="thu_desk", language_code="vi"
    )
    await client.add_chat(
        GROUP_ID, title="Đội Phủ Lý", members=[lan, minh, hung, thu], bot_is_admin=True
    )

    def person(key: str, user: SandboxUser) -> Person:
        return Person(key, user.first_name, "telegram", str(user.id))

    return Cast(
        TelegramPhone(client),
        str(GROUP_ID),
        person("lan", lan),
        person("minh", minh),
        person("hung", hung),
        person("thu", thu),
    )


async def _zalo_cast(client: ZaloSandboxClient, settle: Callable[[], Awaitable[None]]) -> Cast:
    people = {}
    for key, (user_id, name) in ZALO_PEOPLE.items():
        await client.add_user(user_id, name)
        people[key] = Person(key, name.split()[-1], "zalo", user_id)
    await client.add_chat(ZALO_GROUP_ID, title="Đội Phủ Lý", members=list(ZALO_PEOPLE_IDS))
    return Cast(
        ZaloPhone(client, settle),
        ZALO_GROUP_ID,
        people["lan"],
        people["minh"],
        people["hung"],
        people["thu"],
    )


async def _seed(container: Container, cast: Cast) -> None:
    roles = {"lan": Role.LEAD, "minh": Role.WORKER, "hung": Role.WORKER, "thu": Role.CLERK}
    usernames = {"lan": "lan_pl", "minh": "minh_pl", "hung": "hung_pl", "thu": "thu_desk"}
    full_names = {"lan": "Phạm Lan", "minh": "Đỗ Minh", "hung": "Vũ Hùng", "thu": "Ngô Thu"}
    async with container.uow() as uow:
        channel = cast.phone.channel
        await uow.teams.add(Team("PL", "Điện lực Phủ Lý", (ChatBinding(channel, cast.group),)))
        for key, person in cast.people.items():
            username = usernames[key] if channel == "telegram" else None  # Zalo has none
            ident = Identity(channel, person.user_id, username)
            team = None if roles[key] is Role.CLERK else "PL"
            await uow.members.add(
                Member(person.uid, full_names[key], roles[key], team, "vi", (ident,))
            )
        await uow.commit()


#: The scripted day: a Friday, inside working hours from the first line on.
DEMO_DAY = date(2026, 11, 27)
DEMO_TZ = "Asia/Ho_Chi_Minh"
_TIME_OF_LINE = re.compile(r"^(\d\d):(\d\d) ")


async def _kpis(container: Container) -> list[str]:
    async with container.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(t.cases.c.status, sa.func.count()).group_by(t.cases.c.status)
            )
        ).all()
    counts = {str(r[0]): int(r[1]) for r in rows}
    received = sum(counts.values())
    finished = counts.get("closed", 0)
    lines = [
        f"  received: {received}",
        f"  closed:   {finished}",
        f"  open:     {received - finished - counts.get('cancelled', 0)}",
        "  by status: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())),
        "",
        "What the lead gets with /report for today (working days, holds excluded):",
    ]
    now = container.clock.now()
    today = now.astimezone(container.policy.calendar.tz).date()
    report = await build(ReportDeps.of(container), Period(today, today), "PL", now)
    lines += ["  " + line for line in summary(report, container.tr, Lang.VI).splitlines()]
    return lines


async def _race(container: Container, s: Script, card: Seen, ref: str) -> None:
    """Minh and Hùng go for the same case at the same moment; one gets it."""
    cast = s.cast
    rivals = (cast.minh, cast.hung)
    if cast.phone.edits_in_place:
        s.say("08:20 Minh and Hùng press «Nhận việc» on the first case at the same moment.")
        told = await asyncio.gather(*(cast.phone.claim(p, cast.group, card, ref) for p in rivals))
        for who, answer in zip(rivals, told, strict=True):
            s.say(f"  {who.name} sees: {answer}")
        await cast.phone.card(cast.group, ref, contains="👷")
        return
    s.say(f"08:20 Minh and Hùng both type /claim {ref} in the group at the same moment.")
    sent = await asyncio.gather(*(cast.phone.send(p, cast.group, f"/claim {ref}") for p in rivals))
    for who, message in zip(rivals, sent, strict=True):
        s.say(f"  {who.name}: {message.body}")
    after = max(m.index for m in sent)

    def answered(messages: list[Seen]) -> list[Seen]:
        """The bot's words after the two claims, once each claimant has had an answer."""
        said = [m for m in messages if m.index > after and m.from_bot]
        answers = [m for m in said if not m.body.startswith("📋 ")]
        return said if len(answers) >= len(rivals) else []

    for message in await _wait(cast.phone, cast.group, answered):
        s.say("  bot: " + message.body.replace("\n", "\n       "))


async def _wait(
    phone: Phone, chat: str, found: Callable[[list[Seen]], list[Seen]], seconds: float = 10.0
) -> list[Seen]:
    """Poll the chat until `found` finds something, with a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not (result := found(await phone.messages(chat))):
        if loop.time() > deadline:
            raise TimeoutError(f"the bot did not answer in time:\n{await phone.transcript(chat)}")
        await asyncio.sleep(0.02)
    return result


def _narrate(out: list[str], clock: Clock) -> Callable[[str], None]:
    """Each narrated "HH:MM …" line also sets the application's clock to that time of
    the demo's day, so due times, reminders and the day's figures follow the story."""

    def say(line: str) -> None:
        if (m := _TIME_OF_LINE.match(line)) and isinstance(clock, FixedClock):
            tz = clock.now().tzinfo
            at = datetime.combine(DEMO_DAY, time(int(m[1]), int(m[2])), ZoneInfo(DEMO_TZ))
            clock.set(at.astimezone(tz))
        out.append(line)

    return say


async def _play(container: Container, cast: Cast, api: str) -> list[str]:
    out: list[str] = []
    s = Script(cast, api, _narrate(out, container.clock))
    await _seed(container, cast)

    s.say("08:15 The clerk files three cases through the intake API.")
    async with aiohttp.ClientSession() as http:
        refs = [await s.post_case(http, body) for body in CASES]
        again = await s.post_case(http, CASES[0])
        s.say(f"  filed {', '.join(refs)}; a retried call returned {again} again, not a new case")
    cards = [await s.card(ref) for ref in refs]

    await _race(container, s, cards[0], refs[0])
    winner = await _winner(container, refs[0], {p.uid: p for p in (cast.minh, cast.hung)})
    other = cast.hung if winner is cast.minh else cast.minh

    s.say("08:30 The winner works the new connection from the site; the others reply in the group.")
    ref = refs[0]
    for user, text in (
        (winner, f"/survey {ref} Đã khảo sát, cần 25m cáp vặn xoắn"),
        # Typed again while the case stands at the survey: a correction (issue 15).
        (winner, f"/survey {ref} Đã khảo sát, cần 30m cáp vặn xoắn"),
        (winner, f"/estimate {ref} 1,5tr 2.000.000 vật tư theo đơn giá"),
        (cast.thu, f"/agree {ref}"),
        (winner, f"/install {ref} CT-2026-778899 0"),
        (cast.lan, f"/close {ref} Hồ sơ đủ"),
    ):
        reply = await s.type(user, text)
        s.say(f"  bot: {reply.body}")

    s.say("09:10 The meter complaint: claimed by command, then inspected and resolved.")
    ref = refs[1]
    for user, text in (
        (other, f"/claim {ref}"),
        (other, f"/inspect {ref} Kiểm tra tại chỗ, công tơ chạy đúng"),
        (other, f"/resolve {ref} Đã giải thích cho khách, khách đồng ý"),
        (cast.lan, f"/close {ref}"),
    ):
        reply = await s.type(user, text)
        s.say(f"  bot: {reply.body}")

    s.say("09:30 Careless input gets a clear answer and changes nothing.")
    for user, text in (
        (winner, "/survey PL-99 ghi chú"),
        (winner, f"/estimate {refs[2]} mười nghìn 2tr"),
        (other, f"/install {refs[2]} CT-1"),
        (cast.lan, f"/assign {refs[2]}"),  # a picker: the workers and their load (issue 15)
    ):
        reply = await s.type(user, text)
        s.say(f"  bot: {reply.body}")

    await _guided(s, refs[2], other)  # issue 5: buttons and a form, no typed syntax

    s.say("09:50 The lead asks who has what, and finds a customer typed without accents.")
    for user, text in ((cast.lan, "/board"), (cast.thu, "/find le van toan")):
        reply = await s.type(user, text)
        s.say("  bot: " + reply.body.replace("\n", "\n       "))

    await _settle(container)
    s.say("")
    for chat in (cast.group, winner.user_id, other.user_id):
        s.say(await cast.phone.transcript(chat))
        s.say("")
    s.say("The day's figures:")
    out.extend(await _kpis(container))
    s.say("")
    s.say("The lead's board (a Mini App; docs/board.md), open in a browser while the demo runs")
    s.say("(`dispatchbot demo --board` keeps it running until Ctrl-C):")
    s.say("  " + await _board_url(container, cast, api))
    return out


async def _board_url(container: Container, cast: Cast, api: str) -> str:
    """What Lan's Telegram opens for the board (signed launch data, valid for a day, by the
    demo's clock); on Zalo, the one-time link the bot would send her."""
    phone = cast.phone
    if isinstance(phone, TelegramPhone):
        at = container.clock.now().timestamp()
        return await phone.client.open_web_app(int(cast.lan.user_id), f"{api}/app/", auth_date=at)
    token = await BoardLinks(container.clock).issue(cast.lan.uid, container.uow())
    return f"{api}/app/#link={token}"


async def _guided(s: Script, ref: str, who: Person) -> None:
    """A case worked from the phone with buttons and a guided form only (Telegram, which
    has buttons; on Zalo the same form is answered by typing)."""
    phone = s.cast.phone
    if not isinstance(phone, TelegramPhone):
        return
    client, me = phone.client, int(who.user_id)

    async def after(sent_id: int, wanted: str) -> ChatMessage:
        found = await client.wait_for_message(me, after=sent_id, contains=wanted)
        s.say("  bot: " + found.body.replace("\n", "\n       "))
        return found

    async def tap(message: ChatMessage, label: str, wanted: str) -> ChatMessage:
        s.say(f"  {who.name} taps «{label}»")
        button = message.button(label)
        await client.press(me, me, message.message_id, button.callback_data or "")
        return await after(message.message_id, wanted)

    s.say(f"09:40 {who.name} takes {ref} with the card's button and reports the survey from")
    s.say("      the site with buttons only: a note, two photos, the location, confirm.")
    await phone.claim(who, s.cast.group, await s.card(ref), ref)
    contact = await client.wait_for_message(
        me, where=lambda m: any("Khảo sát" in b.text for b in m.buttons)
    )
    asked = await tap(contact, "📝 Khảo sát", "Gõ kết quả khảo sát")
    note = await client.send_text(me, me, "Cột cách nhà 30m, cần 35m cáp vặn xoắn")
    s.say(f"  {who.name}: {note.body}")
    await after(note.message_id, "Gửi ảnh")
    for n, size in enumerate(((64, 48), (48, 64)), start=1):
        sent = await client.send_photo(me, me, width=size[0], height=size[1])
        s.say(f"  {who.name}: [photo {n}]")
        asked = await after(sent.message_id, f"Đã nhận {n} ảnh")
    asked = await tap(asked, "✅ Xong", "Gửi vị trí")
    sent = await client.send_location(me, me, 20.54123, 105.91234)
    s.say(f"  {who.name}: [location, from the «📍 Gửi vị trí» key]")
    summary = await after(sent.message_id, "Xác nhận")
    await tap(summary, "✅ Xác nhận", f"{ref}: Đã khảo sát")


async def _winner(container: Container, ref: str, people: dict[str, Person]) -> Person:
    async with container.uow() as uow:
        case = await uow.cases.get_by_ref(ref)
    assert case is not None and case.assignee is not None
    return people[case.assignee]


async def _settle(container: Container, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Wait until the outbox is empty, so the transcripts show everything."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await container.store.pending_count() and loop.time() < deadline:
        container.relay.wake()
        await asyncio.sleep(0.05)


async def run_demo(
    channel: str = "telegram", echo: Callable[[str], None] = print, *, hold: bool = False
) -> int:
    """Run the scripted morning on `channel` and print what people saw; 0 when it all went
    through. `hold`: then keep serving (the board's URL works) until SIGINT or SIGTERM."""
    if channel not in ("telegram", "zalo"):
        echo(f"There is no {channel} channel; use --channel telegram or --channel zalo.")
        return 2
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="dispatch-demo-") as tmp:
        async with contextlib.AsyncExitStack() as stack:
            if channel == "telegram":
                sandbox = await stack.enter_async_context(TelegramSandbox(token=TOKEN))
                reach: dict[str, object] = {
                    "telegram_bot_token": TOKEN,
                    "telegram_api_url": sandbox.root_url,
                    "admin_ids": "telegram:2001",
                }
            else:
                zalo = await stack.enter_async_context(
                    ZaloSandbox(token=ZALO_TOKEN, bot_display_name=ZALO_BOT_NAME)
                )
                reach = {
                    "zalo_bot_token": ZALO_TOKEN,
                    "zalo_api_url": zalo.root_url,
                    "admin_ids": f"zalo:{ZALO_PEOPLE['lan'][0]}",
                }
            settings = load_settings(
                database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'demo.db'}",
                # The board's public address, as the reverse proxy would serve it; the
                # demo opens it on its own local port (printed at the end).
                webapp_url="https://dispatch.example.vn/app/",
                intake_token=INTAKE,
                http_port=0,
                media_dir=Path(tmp) / "media",
                # The sandbox does not enforce Telegram's limits; the demo need not wait.
                telegram_rate_per_chat="off",
                telegram_rate_per_group="off",
                telegram_rate_global="off",
                **reach,
            )
            start = datetime.combine(DEMO_DAY, time(7, 55), ZoneInfo(DEMO_TZ))
            container = await bootstrap(settings, clock=FixedClock(start))
            stop = asyncio.Event()
            server = asyncio.create_task(serve(container, stop))
            try:
                api = await _wait_api(container)
                if channel == "telegram":
                    client = await stack.enter_async_context(SandboxClient(sandbox.root_url))
                    cast = await _telegram_cast(client)
                else:
                    people = await stack.enter_async_context(ZaloSandboxClient(zalo.root_url))
                    cast = await _zalo_cast(people, lambda: _settle(container))
                lines = await _play(container, cast, api)
                if hold:
                    for line in lines:
                        echo(line)
                    lines = []
                    echo("Serving until Ctrl-C …")
                    await _until_stopped()
            finally:
                stop.set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server, 15)
                await container.close()
    for line in lines:
        echo(line)
    return 0


async def _until_stopped() -> None:
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    try:
        await stopped.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _wait_api(container: Container, timeout: float = 10.0) -> str:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        port = container.http_port
        if port:
            return f"http://127.0.0.1:{port}"
        await asyncio.sleep(0.02)
    raise TimeoutError("the HTTP server did not start")
