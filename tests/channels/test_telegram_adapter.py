"""The Telegram adapter: pure conversion and rendering first, then the real HTTP round trip."""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.channels.base import (
    Attachment,
    AttachmentKind,
    Button,
    CallbackPress,
    ChannelAddress,
    ChatKind,
    HandleResult,
    Inbound,
    InboundUser,
    MessageGone,
    NotModified,
    Outbound,
    PermanentFailure,
    RetryLater,
    TransientFailure,
)
from bot.channels.reach import PersonUnreachable
from bot.channels.refusals import ChatMoved, ChatRefuses, Rejected, TokenRefused
from bot.channels.telegram import (
    MAX_CAPTION,
    MAX_TEXT,
    PartKind,
    TelegramChannel,
    TelegramMode,
    render,
    split_text,
    telegram_length,
    to_inbound,
    translate_error,
)
from bot.channels.telegram.inbound import TelegramUpdate, read_update
from sandbox import (
    DEFAULT_TOKEN,
    ChatType,
    FaultKind,
    SandboxChat,
    SandboxClient,
    SandboxUser,
    TelegramSandbox,
    make_png,
)

GROUP = {"id": -1001, "type": "supergroup", "title": "Đội Phủ Lý"}
ALICE = {
    "id": 42,
    "is_bot": False,
    "first_name": "Lan",
    "last_name": "Nguyễn",
    "username": "lan_ng",
    "language_code": "vi",
}


def update(**fields: Any) -> TelegramUpdate:
    return read_update({"update_id": 900, **fields})


def message(**fields: Any) -> dict[str, Any]:
    return {"message_id": 7, "date": 1_700_000_000, "chat": GROUP, "from": ALICE, **fields}


# --------------------------------------------------------------------------- Update → Inbound


def test_group_command_replying_to_a_card_becomes_a_neutral_inbound() -> None:
    card = {"message_id": 3, "date": 1_700_000_000, "chat": GROUP, "text": "PL-1"}
    inbound = to_inbound(update(message=message(text="/claim PL-1", reply_to_message=card)))

    assert inbound is not None
    assert inbound.address == ChannelAddress("telegram", "-1001")
    assert inbound.chat_kind is ChatKind.GROUP
    assert inbound.user == InboundUser(id="42", name="Nguyễn Lan", username="lan_ng", lang="vi")
    assert inbound.text == "/claim PL-1"
    assert inbound.message_id == "7"
    assert inbound.reply_to_message_id == "3"
    assert inbound.update_id == "900"
    assert inbound.callback is None
    assert inbound.attachments == ()
    assert not inbound.forwarded


def test_private_chat_is_private_and_plain_group_is_group() -> None:
    private = {"id": 42, "type": "private", "first_name": "Lan"}
    small_group = {"id": -5, "type": "group", "title": "Tổ"}
    dm = to_inbound(update(message=message(chat=private, text="/mine")))
    grp = to_inbound(update(message=message(chat=small_group, text="/open")))
    assert dm is not None and dm.chat_kind is ChatKind.PRIVATE
    assert grp is not None and grp.chat_kind is ChatKind.GROUP


def test_photo_takes_the_largest_size_and_the_caption_as_text() -> None:
    sizes = [
        {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 60, "file_size": 900},
        {"file_id": "big", "file_unique_id": "b", "width": 1280, "height": 960, "file_size": 9000},
        {"file_id": "mid", "file_unique_id": "m", "width": 320, "height": 240, "file_size": 3000},
    ]
    inbound = to_inbound(update(message=message(photo=sizes, caption="/survey PL-1 ok")))

    assert inbound is not None
    assert inbound.text == "/survey PL-1 ok"
    assert inbound.attachments == (
        Attachment(AttachmentKind.PHOTO, file_ref="big", size=9000, mime="image/jpeg"),
    )


def test_image_document_counts_as_photo_and_other_documents_do_not() -> None:
    png = {"file_id": "d1", "file_unique_id": "u1", "mime_type": "image/png", "file_size": 5}
    pdf = {"file_id": "d2", "file_unique_id": "u2", "mime_type": "application/pdf"}
    as_photo = to_inbound(update(message=message(document=png)))
    as_doc = to_inbound(update(message=message(document=pdf)))

    assert as_photo is not None and as_photo.attachments == (
        Attachment(AttachmentKind.PHOTO, file_ref="d1", size=5, mime="image/png"),
    )
    assert as_doc is not None and as_doc.attachments == (
        Attachment(AttachmentKind.DOCUMENT, file_ref="d2", mime="application/pdf"),
    )


def test_location_becomes_a_location_attachment() -> None:
    inbound = to_inbound(update(message=message(location={"latitude": 20.54, "longitude": 105.91})))
    assert inbound is not None
    assert inbound.text == ""
    assert inbound.attachments == (
        Attachment(AttachmentKind.LOCATION, latitude=20.54, longitude=105.91),
    )


def test_forwarded_customer_message_is_marked_forwarded() -> None:
    origin = {"type": "hidden_user", "date": 1_699_999_000, "sender_user_name": "Khách"}
    inbound = to_inbound(update(message=message(text="Xin cấp điện", forward_origin=origin)))
    assert inbound is not None and inbound.forwarded


def test_button_press_carries_its_data_and_the_message_it_sits_on() -> None:
    card = {"message_id": 11, "date": 1_700_000_000, "chat": GROUP, "text": "PL-1"}
    press = {
        "id": "cb-1",
        "from": ALICE,
        "chat_instance": "ci",
        "message": card,
        "data": "c:claim:PL-1",
    }
    inbound = to_inbound(update(callback_query=press))

    assert inbound is not None
    assert inbound.callback == CallbackPress(id="cb-1", data="c:claim:PL-1")
    assert inbound.message_id == "11"
    assert inbound.address == ChannelAddress("telegram", "-1001")
    assert inbound.user.id == "42"
    assert inbound.text == ""


def test_messages_without_a_person_or_substance_are_ignored() -> None:
    no_sender = {"message_id": 1, "date": 1_700_000_000, "chat": GROUP, "text": "hi"}
    channel = {"id": -100777, "type": "channel", "title": "Tin"}
    joined = message(new_chat_members=[ALICE])

    assert to_inbound(update(message=no_sender)) is None
    assert to_inbound(update(message=message(chat=channel, text="/claim PL-1"))) is None
    assert to_inbound(update(message=joined)) is None
    assert to_inbound(update(channel_post=no_sender)) is None


def test_command_addressed_to_us_loses_the_mention_and_one_for_another_bot_is_dropped() -> None:
    ours = to_inbound(update(message=message(text="/claim@DispatchBot PL-1")), "dispatchbot")
    other = to_inbound(update(message=message(text="/claim@OtherBot PL-1")), "dispatchbot")
    assert ours is not None and ours.text == "/claim PL-1"
    assert other is None


# --------------------------------------------------------------------------- Outbound → calls


def test_text_is_split_on_line_ends_under_the_limit() -> None:
    lines = [f"{i:04d} " + "x" * 95 for i in range(50)]  # 50 lines of 100 chars: 5049 chars
    text = "\n".join(lines)
    chunks = split_text(text)

    assert len(chunks) == 2
    assert all(len(c) <= MAX_TEXT for c in chunks)
    assert "\n".join(chunks) == text
    assert chunks[0].split("\n")[-1] in lines  # the cut fell between two whole lines


def test_one_overlong_line_is_cut_hard_and_nothing_is_lost() -> None:
    text = "a" * 10_000
    chunks = split_text(text, 4096)
    assert [len(c) for c in chunks] == [4096, 4096, 1808]
    assert "".join(chunks) == text


def test_length_counts_utf16_units_so_emoji_never_overflow() -> None:
    text = "⚡" * 10 + "😀" * 3000  # astral emoji count twice for Telegram
    chunks = split_text(text, 4096)
    assert telegram_length(text) == 6010
    assert all(telegram_length(c) <= 4096 for c in chunks)
    assert "".join(chunks) == text


def test_blank_pieces_are_never_sent() -> None:
    assert split_text("   ") == []
    assert all(c.strip() for c in split_text("a" * 4096 + "\n\n\n" + "b"))


def test_only_the_last_message_carries_buttons_and_only_the_first_replies() -> None:
    rows = ((Button("Nhận việc / Claim", "c:claim:PL-1"),),)
    parts = render(Outbound("\n".join(["y" * 99] * 60), buttons=rows, reply_to="5"))

    assert [p.kind for p in parts] == [PartKind.TEXT, PartKind.TEXT]
    assert parts[0].reply_to == 5 and parts[1].reply_to is None
    assert parts[0].keyboard is None
    assert parts[1].keyboard is not None
    button = parts[1].keyboard.inline_keyboard[0][0]
    assert (button.text, button.callback_data) == ("Nhận việc / Claim", "c:claim:PL-1")


def test_short_text_with_a_photo_is_its_caption() -> None:
    rows = ((Button("OK", "ok"),),)
    parts = render(Outbound("<Hưng> & co", buttons=rows, photo_path="/tmp/p.jpg"))
    assert len(parts) == 1
    assert parts[0].kind is PartKind.PHOTO
    assert parts[0].text == "<Hưng> & co"  # sent as is, no parse mode to trip over "<"
    assert parts[0].keyboard is not None


def test_long_text_with_a_document_goes_after_it() -> None:
    text = "z" * (MAX_CAPTION + 1)
    parts = render(Outbound(text, document_path="/tmp/r.xlsx", reply_to="9"))
    assert [(p.kind, p.text, p.reply_to) for p in parts] == [
        (PartKind.DOCUMENT, None, 9),
        (PartKind.TEXT, text, None),
    ]


def test_an_empty_message_is_refused() -> None:
    with pytest.raises(PermanentFailure):
        render(Outbound("  "))


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (BadRequest("Message is not modified: specified new message content is"), NotModified),
        (BadRequest("Message to edit not found"), MessageGone),
        (BadRequest("Chat not found"), ChatRefuses),
        (BadRequest("Can't parse entities"), Rejected),
        (Forbidden("Forbidden: bot was blocked by the user"), PersonUnreachable),
        (Forbidden("Forbidden: bot can't initiate conversation with a user"), PersonUnreachable),
        (Forbidden("Forbidden: user is deactivated"), PersonUnreachable),
        (Forbidden("Forbidden: bot was kicked from the group chat"), ChatRefuses),
        (InvalidToken("Unauthorized"), TokenRefused),
        (InvalidToken("Not Found"), TokenRefused),
        (ChatMigrated(-100123), ChatMoved),
        (TimedOut(), TransientFailure),
        (NetworkError("Internal Server Error (500)"), TransientFailure),
        (NetworkError("Bad Gateway"), TransientFailure),
        (Conflict("terminated by other getUpdates request"), TransientFailure),
        (TelegramError("something new"), TransientFailure),
    ],
)
def test_telegram_errors_map_to_what_the_caller_should_do(
    error: TelegramError, expected: type[Exception]
) -> None:
    assert type(translate_error(error)) is expected
    if expected is ChatMoved:
        moved = translate_error(error)
        assert isinstance(moved, ChatMoved) and moved.new_chat_id == "-100123"


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
@pytest.mark.parametrize("after", [7, dtm.timedelta(seconds=7)])
def test_flood_control_becomes_retry_later_with_seconds(after: int | dtm.timedelta) -> None:
    mapped = translate_error(RetryAfter(after))
    assert isinstance(mapped, RetryLater)
    assert mapped.retry_after == 7.0


def test_webhook_mode_needs_a_url_and_the_token_never_shows() -> None:
    with pytest.raises(ValueError, match="webhook"):
        TelegramChannel("1:SECRET", mode=TelegramMode.WEBHOOK)
    assert "SECRET" not in repr(TelegramChannel("1:SECRET"))


# --------------------------------------------------------------------------- against the sandbox
#
# Real HTTP: PTB talks to the local Bot API sandbox, people are played through its control
# API.  Nothing sleeps: every wait is on a condition with a deadline.

WAIT = 5.0


class Recorder:
    """A sink that keeps what arrives and answers what the test told it to."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Inbound] = asyncio.Queue()
        self.answer = HandleResult()
        self.fail_next = False

    async def __call__(self, inbound: Inbound) -> HandleResult:
        await self.queue.put(inbound)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("handler exploded")
        return self.answer

    async def next(self) -> Inbound:
        return await asyncio.wait_for(self.queue.get(), WAIT)


@pytest.fixture
async def sandbox() -> AsyncIterator[TelegramSandbox]:
    async with TelegramSandbox() as server:
        yield server


@pytest.fixture
async def humans(sandbox: TelegramSandbox) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(sandbox.root_url) as client:
        yield client


@pytest.fixture
def sink() -> Recorder:
    return Recorder()


@pytest.fixture
async def channel(sandbox: TelegramSandbox, sink: Recorder) -> AsyncIterator[TelegramChannel]:
    adapter = TelegramChannel(DEFAULT_TOKEN, sandbox.root_url, request_timeout=5.0)
    await adapter.start(sink)
    yield adapter
    await adapter.stop()


@pytest.fixture
async def lan(humans: SandboxClient) -> SandboxUser:
    return await humans.add_user(1001, "Lan", last_name="Nguyễn", language_code="vi")


@pytest.fixture
async def team(humans: SandboxClient, lan: SandboxUser) -> SandboxChat:
    return await humans.add_chat(type=ChatType.SUPERGROUP, title="Đội Phủ Lý", members=[lan])


CLAIM = ((Button("Nhận việc / Claim", "c:claim:PL-1"),),)


async def test_started_bot_knows_its_username(channel: TelegramChannel) -> None:
    assert channel.bot_username == "dispatch_sandbox_bot"


async def test_command_replying_to_a_card_reaches_the_sink(
    channel: TelegramChannel,
    humans: SandboxClient,
    sink: Recorder,
    lan: SandboxUser,
    team: SandboxChat,
) -> None:
    card = await channel.send(str(team.id), Outbound("PL-1 · cấp điện mới", buttons=CLAIM))
    said = await humans.send_text(lan, team, "/claim PL-1", reply_to=int(card.message_ids[0]))

    inbound = await sink.next()
    assert inbound.address == ChannelAddress("telegram", str(team.id))
    assert inbound.chat_kind is ChatKind.GROUP
    assert inbound.user == InboundUser(id="1001", name="Nguyễn Lan", lang="vi")
    assert inbound.text == "/claim PL-1"
    assert inbound.message_id == str(said.message_id)
    assert inbound.reply_to_message_id == card.message_ids[0]
    assert inbound.update_id == str(said.update_id)


async def test_command_naming_the_bot_arrives_without_the_mention(
    channel: TelegramChannel,
    humans: SandboxClient,
    sink: Recorder,
    lan: SandboxUser,
    team: SandboxChat,
) -> None:
    await humans.send_text(lan, team, "/claim@dispatch_sandbox_bot PL-1")
    assert (await sink.next()).text == "/claim PL-1"


async def test_button_press_arrives_and_is_answered_with_the_toast(
    channel: TelegramChannel,
    humans: SandboxClient,
    sink: Recorder,
    lan: SandboxUser,
    team: SandboxChat,
) -> None:
    card = await channel.send(str(team.id), Outbound("PL-1", buttons=CLAIM))
    sink.answer = HandleResult(toast="Bạn đã nhận PL-1")
    press = await humans.press(lan, team, int(card.message_ids[0]), "c:claim:PL-1")

    inbound = await sink.next()
    assert inbound.callback == CallbackPress(id=press.id, data="c:claim:PL-1")
    assert inbound.message_id == card.message_ids[0]
    assert inbound.address.chat_id == str(team.id)
    answered = await humans.wait_for_answer(press, timeout=WAIT)
    assert (answered.text, answered.show_alert) == ("Bạn đã nhận PL-1", False)


async def test_alert_answers_as_a_popup(
    channel: TelegramChannel,
    humans: SandboxClient,
    sink: Recorder,
    lan: SandboxUser,
    team: SandboxChat,
) -> None:
    card = await channel.send(str(team.id), Outbound("PL-1", buttons=CLAIM))
    sink.answer = HandleResult(toast="Minh đã nhận PL-1 trước", alert=True)
    press = await humans.press(lan, team, int(card.message_ids[0]), "c:claim:PL-1")

    answered = await humans.wait_for_answer(press, timeout=WAIT)
    assert (answered.text, answered.show_alert) == ("Minh đã nhận PL-1 trước", True)


async def test_a_failing_handler_is_logged_and_polling_goes_on(
    channel: TelegramChannel,
    humans: SandboxClient,
    sink: Recorder,
    lan: SandboxUser,
    team: SandboxChat,
    caplog: pytest.LogCaptureFixture,
) -> None:
    card = await channel.send(str(team.id), Outbound("PL-1", buttons=CLAIM))
    sink.fail_next = True
    press = await humans.press(lan, team, int(card.message_ids[0]), "c:claim:PL-1")
    await sink.next()
    answered = await humans.wait_for_answer(press, timeout=WAIT)  # the spinner still stops
    assert answered.text is None

    await humans.send_text(lan, team, "/mine")
    assert (await sink.next()).text == "/mine"
    assert "handler exploded" in caplog.text
    assert DEFAULT_TOKEN not in caplog.text
    shown = await humans.messages(team)
    assert [m.body for m in shown if m.from_bot] == ["PL-1"]  # no traceback in the chat


async def test_photo_location_and_document_arrive_as_attachments(
    channel: TelegramChannel,
    humans: SandboxClient,
    sink: Recorder,
    lan: SandboxUser,
    team: SandboxChat,
) -> None:
    await humans.send_photo(lan, team, make_png(800, 600), caption="/survey PL-1 xong")
    photo = await sink.next()
    await humans.send_location(lan, team, 20.5411, 105.9139)
    place = await sink.next()
    await humans.send_document(lan, lan, b"%PDF-1.4", "hd.pdf", mime_type="application/pdf")
    doc = await sink.next()

    assert photo.text == "/survey PL-1 xong"
    [picture] = photo.attachments
    assert (picture.kind, picture.mime) == (AttachmentKind.PHOTO, "image/jpeg")
    assert place.attachments == (
        Attachment(AttachmentKind.LOCATION, latitude=20.5411, longitude=105.9139),
    )
    assert doc.chat_kind is ChatKind.PRIVATE
    assert [(a.kind, a.mime, a.size) for a in doc.attachments] == [
        (AttachmentKind.DOCUMENT, "application/pdf", 8)
    ]


async def test_a_photo_from_a_person_can_be_downloaded_but_not_over_the_limit(
    channel: TelegramChannel,
    humans: SandboxClient,
    sink: Recorder,
    lan: SandboxUser,
    team: SandboxChat,
) -> None:
    png = make_png(640, 480)
    await humans.send_photo(lan, team, png)
    [picture] = (await sink.next()).attachments
    assert picture.file_ref is not None

    assert await channel.download(picture.file_ref, max_bytes=len(png)) == png
    with pytest.raises(PermanentFailure, match="over the"):
        await channel.download(picture.file_ref, max_bytes=len(png) - 1)


async def test_send_shows_plain_text_buttons_and_the_reply(
    channel: TelegramChannel, humans: SandboxClient, lan: SandboxUser, team: SandboxChat
) -> None:
    asked = await humans.send_text(lan, team, "/case PL-1")
    sent = await channel.send(
        str(team.id), Outbound("<b>Trần & Hưng</b>", buttons=CLAIM, reply_to=str(asked.message_id))
    )
    [shown] = [m for m in await humans.messages(team) if m.from_bot]

    assert sent.message_ids == (str(shown.message_id),)
    assert shown.text == "<b>Trần & Hưng</b>"
    assert shown.parse_mode is None
    assert shown.reply_to == asked.message_id
    assert [(b.text, b.callback_data) for b in shown.buttons] == [
        ("Nhận việc / Claim", "c:claim:PL-1")
    ]


async def test_reply_to_a_deleted_message_still_sends(
    channel: TelegramChannel, humans: SandboxClient, team: SandboxChat
) -> None:
    sent = await channel.send(str(team.id), Outbound("PL-1", reply_to="999"))
    [shown] = await humans.messages(team)
    assert (shown.message_id, shown.reply_to) == (int(sent.message_ids[0]), None)


async def test_long_text_arrives_as_two_messages_cut_at_a_line_end(
    channel: TelegramChannel, humans: SandboxClient, team: SandboxChat
) -> None:
    text = "\n".join(f"PL-{i:03d} " + "đ" * 93 for i in range(50))  # 5049 characters
    sent = await channel.send(str(team.id), Outbound(text, buttons=CLAIM))
    shown = await humans.messages(team)

    assert len(sent.message_ids) == 2
    assert [str(m.message_id) for m in shown] == list(sent.message_ids)
    assert all(len(m.body) <= 4096 for m in shown)
    assert shown[0].body + "\n" + shown[1].body == text
    assert [bool(m.buttons) for m in shown] == [False, True]


async def test_edit_changes_the_card_and_the_same_edit_is_not_modified(
    channel: TelegramChannel, humans: SandboxClient, team: SandboxChat
) -> None:
    card = await channel.send(str(team.id), Outbound("PL-1 · chưa ai nhận", buttons=CLAIM))
    message_id = card.message_ids[0]
    claimed = Outbound("PL-1 · Lan đã nhận", buttons=((Button("Trả lại", "c:release:PL-1"),),))

    await channel.edit(str(team.id), message_id, claimed)
    [shown] = await humans.messages(team)
    assert (shown.text, shown.edited) == ("PL-1 · Lan đã nhận", True)
    assert [b.callback_data for b in shown.buttons] == ["c:release:PL-1"]

    with pytest.raises(NotModified):
        await channel.edit(str(team.id), message_id, claimed)

    await channel.edit(str(team.id), message_id, Outbound("PL-1 · đã đóng"))
    [closed] = await humans.messages(team)
    assert (closed.text, closed.buttons) == ("PL-1 · đã đóng", ())


async def test_editing_a_message_that_is_gone_says_so(
    channel: TelegramChannel, team: SandboxChat
) -> None:
    with pytest.raises(MessageGone):
        await channel.edit(str(team.id), "4242", Outbound("PL-1"))
    with pytest.raises(MessageGone):
        await channel.edit(str(team.id), "zalo-abc", Outbound("PL-1"))


async def test_photo_with_short_text_is_captioned_and_long_text_follows_it(
    channel: TelegramChannel, humans: SandboxClient, team: SandboxChat, tmp_path: Path
) -> None:
    picture = tmp_path / "so-do.png"
    picture.write_bytes(make_png(320, 240))
    short = await channel.send(
        str(team.id), Outbound("Sơ đồ PL-1", buttons=CLAIM, photo_path=str(picture))
    )
    long = await channel.send(str(team.id), Outbound("x" * 2000, photo_path=str(picture)))
    shown = await humans.messages(team)

    assert len(short.message_ids) == 1 and len(long.message_ids) == 2
    first, second, third = shown
    assert first.photo is not None and first.caption == "Sơ đồ PL-1" and first.buttons
    assert second.photo is not None and second.caption is None
    assert third.text == "x" * 2000
    data = await humans.download(first.photo.file_id)
    assert data == picture.read_bytes()


async def test_document_is_sent_with_its_name(
    channel: TelegramChannel, humans: SandboxClient, team: SandboxChat, tmp_path: Path
) -> None:
    report = tmp_path / "bao-cao.csv"
    report.write_text("ref,status\nPL-1,closed\n")
    await channel.send(str(team.id), Outbound("Báo cáo tuần", document_path=str(report)))
    [shown] = await humans.messages(team)
    assert shown.document is not None
    assert (shown.document.file_name, shown.caption) == ("bao-cao.csv", "Báo cáo tuần")


async def test_missing_file_is_a_permanent_failure(
    channel: TelegramChannel, team: SandboxChat, tmp_path: Path
) -> None:
    with pytest.raises(PermanentFailure):
        await channel.send(str(team.id), Outbound("x", photo_path=str(tmp_path / "none.jpg")))


async def test_a_person_who_blocked_the_bot_is_a_permanent_failure(
    channel: TelegramChannel, humans: SandboxClient, lan: SandboxUser
) -> None:
    await humans.block(lan)
    with pytest.raises(PermanentFailure):
        await channel.send(str(lan.id), Outbound("0912345678"))


async def test_an_unknown_chat_is_a_permanent_failure(channel: TelegramChannel) -> None:
    with pytest.raises(PermanentFailure):
        await channel.send("-100999", Outbound("PL-1"))


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_flood_control_becomes_retry_later(
    channel: TelegramChannel, humans: SandboxClient, team: SandboxChat
) -> None:
    await humans.add_fault(FaultKind.TOO_MANY_REQUESTS, retry_after=3, methods=["sendMessage"])
    with pytest.raises(RetryLater) as caught:
        await channel.send(str(team.id), Outbound("PL-1"))
    assert caught.value.retry_after == 3.0


async def test_server_error_becomes_transient(
    channel: TelegramChannel, humans: SandboxClient, team: SandboxChat
) -> None:
    await humans.add_fault(FaultKind.SERVER_ERROR, methods=["editMessageText"])
    card = await channel.send(str(team.id), Outbound("PL-1"))
    with pytest.raises(TransientFailure):
        await channel.edit(str(team.id), card.message_ids[0], Outbound("PL-1 · Lan"))


async def test_a_stalled_call_times_out_as_transient(
    sandbox: TelegramSandbox, humans: SandboxClient, team: SandboxChat
) -> None:
    impatient = TelegramChannel(DEFAULT_TOKEN, sandbox.root_url, request_timeout=0.3)
    try:
        await humans.add_fault(FaultKind.STALL, delay=10, methods=["sendMessage"])
        with pytest.raises(TransientFailure):
            await impatient.send(str(team.id), Outbound("PL-1"))
    finally:
        await humans.clear_faults()
        await impatient.stop()


async def test_sending_works_without_polling(
    sandbox: TelegramSandbox, humans: SandboxClient, team: SandboxChat
) -> None:
    """The CLI and the scheduler send through a channel nobody started."""
    quiet = TelegramChannel(DEFAULT_TOKEN, sandbox.root_url)
    try:
        await quiet.send(str(team.id), Outbound("PL-1 quá hạn"))
    finally:
        await quiet.stop()
    assert [m.text for m in await humans.messages(team)] == ["PL-1 quá hạn"]
    assert await humans.calls("getUpdates") == []


async def test_start_and_stop_twice_do_not_hang(
    sandbox: TelegramSandbox, humans: SandboxClient, sink: Recorder, lan: SandboxUser
) -> None:
    adapter = TelegramChannel(DEFAULT_TOKEN, sandbox.root_url, request_timeout=5.0)
    async with asyncio.timeout(WAIT):
        await adapter.start(sink)
        await adapter.stop()
        await adapter.stop()
        await adapter.start(sink)
        await humans.send_text(lan, lan, "/start")
        assert (await sink.next()).text == "/start"
        await adapter.stop()
    assert not adapter.running


async def test_commands_are_published_per_scope_and_language(
    channel: TelegramChannel, humans: SandboxClient
) -> None:
    await channel.set_commands(
        {
            ("private", "vi"): [("mine", "Việc của tôi"), ("new", "Tạo hồ sơ")],
            ("group", "en"): [("/claim", "Claim a case")],
            ("group", ""): [("claim", "Nhận việc")],
        }
    )
    published = {(c.scope["type"], c.language_code): c.commands for c in await humans.commands()}
    assert published == {
        ("all_private_chats", "vi"): (("mine", "Việc của tôi"), ("new", "Tạo hồ sơ")),
        ("all_group_chats", "en"): (("claim", "Claim a case"),),
        ("all_group_chats", ""): (("claim", "Nhận việc"),),
    }


async def test_webhook_mode_registers_and_handles_a_push_before_returning(
    sandbox: TelegramSandbox,
    humans: SandboxClient,
    sink: Recorder,
    lan: SandboxUser,
    team: SandboxChat,
) -> None:
    hook = TelegramChannel(
        DEFAULT_TOKEN,
        sandbox.root_url,
        mode=TelegramMode.WEBHOOK,
        webhook_url="https://dispatch.example.vn/telegram/hook",
        webhook_secret="s3cret",
    )
    await hook.start(sink)
    try:
        [registered] = await humans.calls("setWebhook")
        assert registered.params["url"] == "https://dispatch.example.vn/telegram/hook"
        assert registered.params["secret_token"] == "s3cret"
        assert hook.secret_matches("s3cret") and not hook.secret_matches("nope")
        assert not hook.secret_matches(None)

        card = await hook.send(str(team.id), Outbound("PL-1", buttons=CLAIM))
        sink.answer = HandleResult(toast="OK")
        press = await humans.press(lan, team, int(card.message_ids[0]), "c:claim:PL-1")
        [pushed] = await humans.pending_updates()

        result = await hook.process_webhook(pushed)

        assert result == HandleResult(toast="OK")
        assert sink.queue.get_nowait().callback == CallbackPress(press.id, "c:claim:PL-1")
        assert (await humans.callback(press)).text == "OK"  # answered before returning
        assert await hook.process_webhook({"nonsense": True}) is None
        assert await humans.calls("getUpdates") == []
    finally:
        await hook.stop()


#: An update PTB cannot read: a message whose chat is no object. Telegram would never send
#: it, but a newer Bot API or a fault on its side might send something PTB cannot read.
UNREADABLE = {"message_id": 9, "date": 1_764_200_000, "chat": "nobody's chat 0912345678"}


async def test_an_unreadable_update_is_retried_with_a_pause_then_skipped_and_later_ones_arrive(
    channel: TelegramChannel,
    humans: SandboxClient,
    sink: Recorder,
    lan: SandboxUser,
    team: SandboxChat,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """It made the poller ask again at once, for ever: 5,249 tries and 77 MB of log in
    ten seconds, and no later update arrived."""
    before = await humans.calls("getUpdates", include_polling=True)
    bad = await humans.queue_update("message", UNREADABLE)
    await humans.send_text(lan, team, "/help")

    assert (await sink.next()).text == "/help"  # waits WAIT seconds at most
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while await humans.pending_updates():  # the next poll confirms both to Telegram
        assert loop.time() < deadline, await humans.pending_updates()
        await asyncio.sleep(0.02)

    # From the long poll that was waiting when the update came (it handed it out first).
    waiting = [c.seq for c in before if c.ok is None] or [before[-1].seq + 1]
    polls = await humans.calls("getUpdates", include_polling=True, since=min(waiting) - 1)
    asked_for_it = [c for c in polls if int(c.params.get("offset") or 0) <= (bad or 0)]
    assert len(asked_for_it) == 3, [c.params for c in polls]  # read 3 times, then skipped
    assert len(polls) <= 6
    said = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert 1 <= len(said) <= 2, [r.getMessage() for r in said]
    assert all(r.name == "bot.channels.telegram" for r in said)
    assert "0912345678" not in caplog.text and "nobody" not in caplog.text
    assert channel.running


async def test_polled_updates_of_other_chats_pass_a_slow_one_and_one_chat_keeps_order(
    sandbox: TelegramSandbox, humans: SandboxClient, lan: SandboxUser, team: SandboxChat
) -> None:
    other = await humans.add_chat(type=ChatType.SUPERGROUP, title="Đội Kim Bảng", members=[lan])
    held = asyncio.Event()
    seen: list[str] = []
    other_seen = asyncio.Event()
    second_seen = asyncio.Event()

    async def sink(inbound: Inbound) -> HandleResult:
        seen.append(inbound.text)
        if inbound.text == "/first":
            await asyncio.wait_for(held.wait(), WAIT)  # slow: until the other group is served
        if inbound.address.chat_id == str(other.id):
            other_seen.set()
        if inbound.text == "/second":
            second_seen.set()
        return HandleResult()

    adapter = TelegramChannel(DEFAULT_TOKEN, sandbox.root_url, request_timeout=5.0)
    await humans.send_text(lan, team, "/first")
    await humans.send_text(lan, team, "/second")
    await humans.send_text(lan, other, "/elsewhere")
    await adapter.start(sink)  # all three come in one getUpdates answer
    try:
        await asyncio.wait_for(other_seen.wait(), WAIT)
        assert "/second" not in seen  # behind /first, in its own chat
        held.set()

        await asyncio.wait_for(second_seen.wait(), WAIT)
        assert seen.index("/first") < seen.index("/second")
    finally:
        await adapter.stop()
