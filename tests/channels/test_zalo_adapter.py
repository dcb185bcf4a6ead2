"""The Zalo adapter: pure conversion and rendering first, then the real HTTP round trip."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.channels.base import (
    AttachmentKind,
    ChatKind,
    HandleResult,
    Inbound,
    Outbound,
    PermanentFailure,
    RetryLater,
    TransientFailure,
)
from bot.channels.reach import PersonUnreachable
from bot.channels.refusals import ChatRefuses, Rejected, TokenRefused
from bot.channels.zalo import (
    MAX_TEXT,
    MediaLinks,
    PartKind,
    RecentIds,
    ZaloApiError,
    ZaloChannel,
    ZaloMode,
    ZaloRenderer,
    media_base,
    split_text,
    strip_mention,
    to_inbound,
    translate_error,
    unwrap_update,
    zalo_length,
)
from bot.i18n import Lang, Translator
from sandbox import ZaloPerson, ZaloSandbox, ZaloSandboxClient, make_png

TOKEN = "2708888:zalo-adapter-tests"
BOT_NAME = "Bot Điện Lực PL"
GROUP = "9b2f6c1e0a7d44e18c3b"
TR = Translator()


def update(
    text: str | None = "/mine",
    *,
    event: str = "message.text.received",
    chat_type: str = "PRIVATE",
    **extra: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "from": {"id": "e4ea2cd5189df1c3a88c", "display_name": "Đỗ Minh", "is_bot": False},
        "chat": {"id": GROUP if chat_type == "GROUP" else "e4ea2cd5189df1c3a88c"},
        "message_id": "16f6366b3f02645a3d15",
        "date": 1766619597466,
    }
    message["chat"]["chat_type"] = chat_type
    if text is not None:
        message["text"] = text
    message.update(extra)
    return {"event_name": event, "message": message}


def card(lang: Lang = Lang.VI, *, claim: bool = True, assignee: str | None = None) -> Outbound:
    """A card as `Renderer.card` builds it: its text, and its language and summary lines."""
    t = TR.t
    lines = [
        t(lang, "card.title", ref="PL-17", kind="Cấp điện mới"),
        t(lang, "card.address", address="12 Trần Hưng Đạo"),
        t(lang, "card.customer", name="Trần Văn Hưng", phone="0912***678"),
        t(lang, "card.status", status=t(lang, "status.open" if claim else "status.claimed")),
    ]
    summary = [lines[0], lines[-1]]
    if assignee:
        lines.append(t(lang, "card.assignee", name=assignee))
        summary.append(lines[-1])
    return Outbound(
        text="\n".join(lines),
        claim_ref="PL-17" if claim else None,
        lang=lang,
        summary=tuple(summary),
    )


# --------------------------------------------------------------------------- inbound


def test_a_private_text_becomes_a_neutral_inbound_with_string_ids() -> None:
    inbound = to_inbound(update("/mine"))
    assert inbound is not None
    assert inbound.channel == "zalo" and inbound.chat_kind is ChatKind.PRIVATE
    assert inbound.address.chat_id == "e4ea2cd5189df1c3a88c"
    assert inbound.user.id == "e4ea2cd5189df1c3a88c" and inbound.user.name == "Đỗ Minh"
    assert inbound.user.uid("zalo") == "zalo:e4ea2cd5189df1c3a88c"
    assert inbound.text == "/mine" and inbound.message_id == "16f6366b3f02645a3d15"
    assert inbound.reply_to_message_id is None and inbound.callback is None


@pytest.mark.parametrize(
    ("said", "names", "seen"),
    [
        ("@Bot Điện Lực PL /claim PL-17", [BOT_NAME], "/claim PL-17"),
        ("@bot điện lực pl   /survey PL-17 xong", [BOT_NAME], "/survey PL-17 xong"),
        ("/claim PL-17 @Bot Điện Lực PL", [BOT_NAME], "/claim PL-17"),
        ("@Bot Lạ Tên /claim PL-17", [], "/claim PL-17"),  # unknown name before a command
        ("@Bot Điện Lực PL ảnh công tơ", [BOT_NAME], "ảnh công tơ"),
        ("@Lan xem giúp", [BOT_NAME], "@Lan xem giúp"),  # someone else, no command: untouched
    ],
)
def test_the_mention_a_group_message_needs_is_stripped(
    said: str, names: list[str], seen: str
) -> None:
    assert strip_mention(said, names) == seen
    inbound = to_inbound(update(said, chat_type="GROUP"), names)
    assert inbound is not None and inbound.text == seen
    assert inbound.chat_kind is ChatKind.GROUP and inbound.address.chat_id == GROUP


def test_an_image_becomes_a_photo_attachment_with_its_caption_as_text() -> None:
    url = "https://photo.zdn.vn/abc.jpg"
    inbound = to_inbound(
        update(None, event="message.image.received", photo_url=url, caption="/survey PL-17 ok")
    )
    assert inbound is not None
    assert inbound.text == "/survey PL-17 ok"
    (attachment,) = inbound.attachments
    assert attachment.kind is AttachmentKind.PHOTO and attachment.file_ref == url


@pytest.mark.parametrize(
    "raw",
    [
        update(None, event="message.sticker.received", sticker="abc"),
        update(None, event="message.unsupported.received", chat_type="GROUP"),
        update("   "),
        update("/mine", chat_type="CHANNEL"),
        {"event_name": "message.text.received"},
        {
            **update(),
            "message": {**update()["message"], "from": {"id": "b0", "is_bot": True}},
        },
    ],
)
def test_what_carries_nothing_for_the_handlers_is_dropped(raw: dict[str, Any]) -> None:
    assert to_inbound(raw) is None


def test_a_file_in_the_private_chat_becomes_a_document_to_answer() -> None:
    """Zalo sends a PDF, a voice note or a video as "unsupported", with nothing in it."""
    inbound = to_inbound(update(None, event="message.unsupported.received"))
    assert inbound is not None
    (attachment,) = inbound.attachments
    assert attachment.kind is AttachmentKind.DOCUMENT and attachment.file_ref is None


def test_getupdates_wraps_the_update_and_the_webhook_does_not() -> None:
    inner = update()
    assert unwrap_update({"ok": True, "result": inner}) == inner
    assert unwrap_update(inner) == inner
    assert unwrap_update({"ok": True}) is None


def test_recent_ids_remember_a_bounded_number_of_messages() -> None:
    recent = RecentIds(size=2)
    assert recent.first_time("a") and recent.first_time("b")
    assert not recent.first_time("a")  # seen, and now the freshest
    assert recent.first_time("c")  # over the size: "b", the stalest, is forgotten
    assert not recent.first_time("a")
    assert recent.first_time("b")


# --------------------------------------------------------------------------- outbound


def test_a_3000_character_report_is_split_into_pieces_of_at_most_2000() -> None:
    report = "\n".join(f"PL-{i}: Đã lắp, đóng điện — 12 Trần Hưng Đạo" for i in range(80))
    assert len(report) > 3000
    pieces = split_text(report)
    assert len(pieces) >= 2 and all(zalo_length(p) <= MAX_TEXT for p in pieces)
    assert "\n".join(pieces) == report  # cut at line ends, nothing lost


def test_a_line_longer_than_the_limit_is_cut_between_words_and_emoji_count_double() -> None:
    line = " ".join(["điện"] * 700)  # 3,499 characters, no line break
    pieces = split_text(line)
    assert all(zalo_length(p) <= MAX_TEXT for p in pieces)
    assert "".join(pieces) == line and pieces[0].endswith(" ")
    emoji = "⚡" + "🔌" * 1500  # 1,501 characters but 3,001 UTF-16 units
    assert all(zalo_length(p) <= MAX_TEXT for p in split_text(emoji))
    assert split_text("  \n ") == []
    assert split_text("🔌🔌", limit=1) == ["🔌", "🔌"]  # wider than the limit: one per piece


def test_the_claim_button_becomes_an_instruction_line_in_the_cards_language() -> None:
    renderer = ZaloRenderer(TR, Lang.VI)
    (part,) = renderer.render(card(Lang.VI))
    assert part.kind is PartKind.TEXT and part.text is not None
    assert part.text.startswith("📋 PL-17 · ")
    assert part.text.endswith("Trả lời /claim PL-17 để nhận việc")
    (english,) = renderer.render(card(Lang.EN))
    assert english.text is not None and english.text.endswith(
        "Reply /claim PL-17 to take this case"
    )
    (claimed,) = renderer.render(card(claim=False, assignee="Minh"))
    assert claimed.text is not None and "/claim" not in claimed.text


def test_a_card_edit_becomes_a_short_status_message() -> None:
    renderer = ZaloRenderer(TR, Lang.VI)
    (part,) = renderer.render_update(card(claim=False, assignee="@minh_pl"))
    assert part.text == "\n".join(
        ["📋 PL-17 · Cấp điện mới", "Trạng thái: Đã nhận", "👷 Người làm: @minh_pl"]
    )
    (reopened,) = renderer.render_update(card(claim=True))
    assert reopened.text is not None and reopened.text.endswith("/claim PL-17 để nhận việc")
    (plain,) = renderer.render_update(Outbound(text="not a card"))
    assert plain.text == "not a card"


def test_a_photo_goes_by_url_with_the_text_as_caption_when_it_fits(tmp_path: Path) -> None:
    renderer = ZaloRenderer(TR, Lang.VI)
    (part,) = renderer.render(Outbound(text="Ảnh", photo_path="https://x.vn/a.png"))
    assert part == type(part)(PartKind.PHOTO, "Ảnh", "https://x.vn/a.png")
    long_text = "x" * 2500
    parts = renderer.render(Outbound(text=long_text, photo_path="https://x.vn/a.png"))
    assert [p.kind for p in parts] == [PartKind.PHOTO, PartKind.TEXT, PartKind.TEXT]
    assert parts[0].text is None
    local = tmp_path / "a.png"
    local.write_bytes(make_png(4, 4))
    (text_only,) = renderer.render(Outbound(text="Ảnh", photo_path=str(local)))
    assert text_only.kind is PartKind.TEXT  # no public URL for a local file: text only
    media = MediaLinks("https://dispatch.example.vn/zalo/media", "hook-secret-1")
    linked = ZaloRenderer(TR, Lang.VI, media=media)
    (photo,) = linked.render(Outbound(text="Ảnh", photo_path=str(local)))
    assert photo.photo_url is not None
    assert photo.photo_url.startswith("https://dispatch.example.vn/zalo/media/")
    (doc,) = renderer.render(Outbound(text="Báo cáo", document_path="/tmp/kpi.xlsx"))
    assert doc.text == "Báo cáo\n(Tệp kpi.xlsx không gửi được qua Zalo.)"
    with pytest.raises(PermanentFailure):
        renderer.render(Outbound(text=" "))


def test_media_links_resolve_only_what_the_bot_signed(tmp_path: Path) -> None:
    photo = tmp_path / "evidence.png"
    photo.write_bytes(make_png(2, 2))
    media = MediaLinks("https://d.example.vn/zalo/media", "hook-secret-1")
    token = media.link(photo).rsplit("/", 1)[1]
    assert media.resolve(token) == photo.resolve()
    name, _, signature = token.partition(".")
    assert media.resolve(f"{name}.{'0' * len(signature)}") is None
    other = MediaLinks("https://d.example.vn/zalo/media", "another-secret")
    assert other.resolve(token) is None
    assert media.resolve("garbage") is None
    assert media.route_path == "/zalo/media/{token}"
    assert media_base("https://d.example.vn/zalo/webhook") == "https://d.example.vn/zalo/media"
    assert media_base("https://d.example.vn/hook") == "https://d.example.vn/media"
    assert media_base("https://d.example.vn") == "https://d.example.vn/media"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ZaloApiError(429, 429, "slow down", retry_after=7), RetryLater),
        (ZaloApiError(500, None, "boom"), TransientFailure),
        (ZaloApiError(502, 502, "bad gateway"), TransientFailure),
        (ZaloApiError(400, 400, "chat not found"), ChatRefuses),
        (ZaloApiError(401, 401, "Unauthorized"), TokenRefused),
        (ZaloApiError(404, 404, "Not Found"), TokenRefused),
        (ZaloApiError(403, 403, "blocked"), ChatRefuses),
        (
            ZaloApiError(403, 403, "Forbidden: user has not started a conversation with the bot"),
            PersonUnreachable,
        ),
        (ZaloApiError(403, 403, "Forbidden: bot was blocked by the user"), PersonUnreachable),
        (ZaloApiError(200, 400, "ok false"), Rejected),
        (ZaloApiError(413, None, "HTTP 413", is_json=False), Rejected),
    ],
)
def test_refusals_map_to_what_the_relay_should_do(error: ZaloApiError, expected: type) -> None:
    mapped = translate_error(error)
    assert type(mapped) is expected
    if isinstance(mapped, RetryLater):
        assert mapped.retry_after == 7


# --------------------------------------------------------------------------- round trip


@pytest.fixture
async def sandbox() -> AsyncIterator[ZaloSandbox]:
    async with ZaloSandbox(token=TOKEN, bot_display_name=BOT_NAME) as server:
        yield server


@pytest.fixture
async def people(sandbox: ZaloSandbox) -> AsyncIterator[ZaloSandboxClient]:
    async with ZaloSandboxClient(sandbox.root_url) as client:
        yield client


@pytest.fixture
async def minh(people: ZaloSandboxClient) -> ZaloPerson:
    return await people.add_user("e4ea2cd5189df1c3a88c", "Đỗ Minh")


class Inbox:
    """A sink that records what the adapter hands the handlers."""

    def __init__(self) -> None:
        self.items: list[Inbound] = []
        self.changed = asyncio.Event()

    async def __call__(self, inbound: Inbound) -> HandleResult:
        self.items.append(inbound)
        self.changed.set()
        return HandleResult()

    async def wait(self, count: int) -> list[Inbound]:
        async with asyncio.timeout(5):
            while len(self.items) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.items


@pytest.fixture
async def channel(sandbox: ZaloSandbox) -> AsyncIterator[ZaloChannel]:
    zalo = ZaloChannel(TOKEN, sandbox.root_url, poll_timeout=1, request_timeout=5)
    yield zalo
    await zalo.stop()


async def test_polling_hands_each_message_to_the_sink_once_even_when_zalo_repeats_it(
    channel: ZaloChannel, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    inbox = Inbox()
    await channel.start(inbox)
    first = await people.send_text(minh, None, "/mine")
    await people.redeliver(first)
    await people.send_text(minh, None, "/open")
    got = await inbox.wait(2)
    assert [(i.text, i.message_id) for i in got] == [
        ("/mine", first.message_id),
        ("/open", got[1].message_id),
    ]
    calls = [c.method for c in await people.calls()]
    assert calls[:2] == ["getMe", "deleteWebhook"]


async def test_an_idle_long_poll_is_no_error_and_polling_goes_on(
    channel: ZaloChannel, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    inbox = Inbox()
    await channel.start(inbox)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while not [c for c in await people.calls("getUpdates") if c.error_code == 408]:
        assert loop.time() < deadline, "no idle long poll seen"
        await asyncio.sleep(0.05)
    await people.send_text(minh, None, "/help")
    (got,) = await inbox.wait(1)
    assert got.text == "/help"


async def test_a_group_mention_reaches_the_sink_without_the_mention(
    channel: ZaloChannel, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    inbox = Inbox()
    await channel.start(inbox)
    await people.add_chat(GROUP, title="Đội PL", members=[minh])
    await people.send_text(minh, GROUP, "nói chuyện riêng")  # never reaches the bot
    await people.send_text(minh, GROUP, f"@{BOT_NAME} /claim PL-17")
    (got,) = await inbox.wait(1)
    assert got.text == "/claim PL-17" and got.chat_kind is ChatKind.GROUP


async def test_a_photo_arrives_as_an_attachment_that_can_be_downloaded(
    channel: ZaloChannel, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    inbox = Inbox()
    await channel.start(inbox)
    png = make_png(8, 6)
    await people.send_photo(minh, None, png, caption="/survey PL-17 ảnh công tơ")
    (got,) = await inbox.wait(1)
    assert got.text == "/survey PL-17 ảnh công tơ"
    (attachment,) = got.attachments
    assert attachment.file_ref is not None
    assert await channel.download(attachment.file_ref, 1_000_000) == png
    with pytest.raises(PermanentFailure):
        await channel.download(attachment.file_ref, 10)


async def test_long_text_goes_out_as_several_messages_none_over_2000(
    channel: ZaloChannel, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    report = "\n".join(f"{i:03d} " + "x" * 96 for i in range(30))  # 3,029 characters
    assert len(report) == 3029
    sent = await channel.send(minh.id, Outbound(text=report))
    shown = await people.messages(minh)
    assert len(shown) == len(sent.message_ids) >= 2
    assert [m.message_id for m in shown] == list(sent.message_ids)
    assert all(len(m.body) <= 2000 for m in shown)
    assert "\n".join(m.body for m in shown) == report


async def test_an_edit_posts_a_short_status_message_because_zalo_cannot_edit(
    channel: ZaloChannel, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    first = await channel.send(minh.id, card())
    await channel.edit(minh.id, first.message_ids[0], card(claim=False, assignee="Minh"))
    original, status = await people.messages(minh)
    assert "/claim PL-17" in original.body
    assert status.body == "📋 PL-17 · Cấp điện mới\nTrạng thái: Đã nhận\n👷 Người làm: Minh"


async def test_send_failures_become_the_delivery_errors_the_relay_understands(
    channel: ZaloChannel, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    await people.add_fault(429, methods=["sendMessage"], retry_after=7)
    with pytest.raises(RetryLater) as slow:
        await channel.send(minh.id, Outbound(text="a"))
    assert slow.value.retry_after == 7
    await people.add_fault(500, methods=["sendMessage"])
    with pytest.raises(TransientFailure):
        await channel.send(minh.id, Outbound(text="a"))
    with pytest.raises(PermanentFailure):
        await channel.send("no-such-chat", Outbound(text="a"))
    assert [m.body for m in await people.messages(minh)] == []


async def test_a_wrong_token_stops_start_up_and_never_shows_the_token(
    sandbox: ZaloSandbox,
) -> None:
    zalo = ZaloChannel("2708888:not-the-token", sandbox.root_url)
    with pytest.raises(TokenRefused) as err:
        await zalo.start(Inbox())
    assert "not-the-token" not in str(err.value) and "getMe" in str(err.value)
    assert "not-the-token" not in repr(zalo)
    assert not zalo.running
    unreachable = ZaloChannel("2708888:not-the-token", "http://127.0.0.1:9", request_timeout=2)
    with pytest.raises(TransientFailure) as down:
        await unreachable.start(Inbox())
    assert "not-the-token" not in str(down.value)


async def test_webhook_mode_registers_the_url_and_secret_and_checks_the_header(
    sandbox: ZaloSandbox, people: ZaloSandboxClient
) -> None:
    url = "https://dispatch.example.vn/zalo/webhook"
    zalo = ZaloChannel(
        TOKEN,
        sandbox.root_url,
        mode=ZaloMode.WEBHOOK,
        webhook_url=url,
        webhook_secret="hook-secret-1",
    )
    inbox = Inbox()
    await zalo.start(inbox)
    try:
        (call,) = await people.calls("setWebhook")
        assert call.params == {"url": url, "secret_token": "hook-secret-1"}
        assert zalo.secret_matches("hook-secret-1")
        assert not zalo.secret_matches("hook-secret-2") and not zalo.secret_matches(None)
        await zalo.process_webhook(update("/help"))
        await zalo.process_webhook({"ok": True, "result": update("/help")})  # same message id
        assert [i.text for i in inbox.items] == ["/help"]
        assert await people.calls("getUpdates") == []
    finally:
        await zalo.stop()
    with pytest.raises(ValueError, match="8 to 256"):
        ZaloChannel(TOKEN, mode=ZaloMode.WEBHOOK, webhook_url=url, webhook_secret="short")


async def test_stop_ends_a_waiting_long_poll_at_once(
    sandbox: ZaloSandbox, people: ZaloSandboxClient
) -> None:
    zalo = ZaloChannel(TOKEN, sandbox.root_url, poll_timeout=30)
    await zalo.start(Inbox())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while not await people.calls("getUpdates"):
        assert loop.time() < deadline
        await asyncio.sleep(0.02)
    await asyncio.wait_for(zalo.stop(), 5)
    assert not zalo.running


def test_media_links_serve_nothing_outside_the_media_folder(tmp_path: Path) -> None:
    """Zalo knows the webhook secret the links are signed with: a signed path is not enough."""
    media = tmp_path / "media"
    chart = media / "reports" / "chart.png"
    chart.parent.mkdir(parents=True)
    chart.write_bytes(make_png(2, 2))
    database = tmp_path / "dispatch.db"
    database.write_bytes(b"SQLite format 3\0")
    (media / "escape.png").symlink_to(database)
    links = MediaLinks("https://d.example.vn/zalo/media", "hook-secret-1", media)

    def forged(path: Path) -> str:
        """What a holder of the secret can sign: any path, as it is (not resolved)."""
        raw = str(path).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=") + "." + links._sign(raw)

    assert links.resolve(links.link(chart).rsplit("/", 1)[1]) == chart.resolve()
    assert links.resolve(forged(chart)) == chart
    assert links.resolve(forged(database)) is None
    assert links.resolve(forged(media / ".." / "dispatch.db")) is None
    assert links.resolve(forged(media / "escape.png")) is None
    assert links.resolve(forged(Path("/etc/passwd"))) is None


async def test_odd_updates_are_ignored_without_a_pause_or_a_flood_and_later_ones_arrive(
    channel: ZaloChannel,
    people: ZaloSandboxClient,
    minh: ZaloPerson,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Zalo hands each update out once: one the bot cannot use is gone, never asked for
    again; a message without an id, delivered twice, is handled once (it was twice)."""
    inbox = Inbox()
    await channel.start(inbox)
    junk: list[Any] = [
        "garbage 0912345678",
        42,
        ["x"],
        {"event_name": "message.text.received"},
        {"event_name": "message.text.received", "message": {"message_id": {"x": 1}}},
        {"event_name": "message.text.received", "message": {"message_id": "7" * 60_000}},
    ]
    for update in junk:
        await people.queue_update(update)
    without_id = {
        "event_name": "message.text.received",
        "message": {
            "from": {"id": minh.id, "display_name": "Đỗ Minh", "is_bot": False},
            "chat": {"id": minh.id, "chat_type": "PRIVATE"},
            "date": 1_764_200_000_000,
            "text": "/mine",
        },
    }
    await people.queue_update(without_id)
    await people.queue_update(without_id)  # Zalo delivers it again
    await people.send_text(minh, None, "/help")

    got = await inbox.wait(2)
    assert [i.text for i in got] == ["/mine", "/help"]
    assert await people.pending_updates() == []
    polls = await people.calls("getUpdates")
    assert len(polls) <= len(junk) + 3 + 3  # one update per call, and a few long polls
    said = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) <= 1, [r.getMessage() for r in said]
    assert "0912345678" not in caplog.text
    assert channel.running


async def test_a_card_stored_before_outbound_had_a_summary_still_goes_out_and_changes_whole(
    channel: ZaloChannel, people: ZaloSandboxClient, minh: ZaloPerson
) -> None:
    """An outbox row written before `Outbound` carried a card's summary: nothing to shorten
    it by, so its change is shown whole rather than lost."""
    stored = card().to_json()
    del stored["lang"], stored["summary"]
    old = Outbound.from_json(stored)
    first = await channel.send(minh.id, old)
    await channel.edit(minh.id, first.message_ids[0], old)
    posted, changed = await people.messages(minh)
    assert posted.body == changed.body == f"{old.text}\n👉 Trả lời /claim PL-17 để nhận việc"
