"""The sandbox seen through a real python-telegram-bot ``Bot``/``Application``.

Every wait here is a condition with a deadline (``wait_for*`` or ``asyncio.wait_for``).
"""

from __future__ import annotations

import asyncio

import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from sandbox import (
    ChatType,
    SandboxClient,
    SandboxError,
    SandboxUser,
    TelegramSandbox,
    make_png,
)

from .conftest import TOKEN

CLAIM = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Nhận việc / Claim", callback_data="claim:42"),
            InlineKeyboardButton("Từ chối / Decline", callback_data="decline:42"),
        ],
        [InlineKeyboardButton("Bản đồ / Map", url="https://maps.example.org/?q=42")],
    ]
)


async def test_get_me_identifies_the_bot_from_the_token(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == int(TOKEN.split(":")[0])
    assert me.is_bot
    assert me.username == "dispatch_sandbox_bot"
    assert me.can_read_all_group_messages is True


async def test_sent_message_with_inline_keyboard_is_what_the_chat_shows(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    sent = await bot.send_message(lan.id, "Ca #42: mất nước", reply_markup=CLAIM)

    assert sent.chat.id == lan.id and sent.chat.type == ChatType.PRIVATE
    assert sent.from_user is not None and sent.from_user.is_bot
    assert sent.reply_markup == CLAIM  # PTB parsed the echoed markup back
    [shown] = await humans.messages(lan)
    assert shown.message_id == sent.message_id
    assert shown.from_bot and shown.text == "Ca #42: mất nước"
    assert [(b.text, b.callback_data, b.url, b.row) for b in shown.buttons] == [
        ("Nhận việc / Claim", "claim:42", None, 0),
        ("Từ chối / Decline", "decline:42", None, 0),
        ("Bản đồ / Map", None, "https://maps.example.org/?q=42", 1),
    ]
    assert not shown.edited


async def test_message_ids_count_per_chat_and_group_ids_are_negative(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    crew = await humans.add_chat(type=ChatType.SUPERGROUP, title="Đội 1", members=[lan])
    assert crew.id < -1_000_000_000_000
    first_private = await bot.send_message(lan.id, "a")
    first_group = await bot.send_message(crew.id, "b")
    second_private = await bot.send_message(lan.id, "c")
    assert (first_private.message_id, second_private.message_id) == (1, 2)
    assert first_group.message_id == 1
    assert first_group.chat.title == "Đội 1"
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(-100999, "nobody here")


async def test_edit_changes_the_text_and_marks_it_edited(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    sent = await bot.send_message(lan.id, "Ca #42: chờ nhận", reply_markup=CLAIM)
    edited = await bot.edit_message_text(
        "Ca #42: Lan đã nhận", chat_id=lan.id, message_id=sent.message_id, reply_markup=CLAIM
    )
    assert not isinstance(edited, bool)
    assert edited.edit_date is not None
    [shown] = await humans.messages(lan)
    assert shown.text == "Ca #42: Lan đã nhận"
    assert shown.edited
    assert len(shown.buttons) == 3


async def test_edit_without_reply_markup_removes_the_keyboard_like_telegram(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    sent = await bot.send_message(lan.id, "Ca #42", reply_markup=CLAIM)
    await bot.edit_message_text("Ca #42 (đã nhận)", chat_id=lan.id, message_id=sent.message_id)
    [shown] = await humans.messages(lan)
    assert shown.buttons == ()


async def test_edit_with_identical_content_is_not_modified(bot: Bot, lan: SandboxUser) -> None:
    sent = await bot.send_message(lan.id, "Ca #42", reply_markup=CLAIM)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "Ca #42", chat_id=lan.id, message_id=sent.message_id, reply_markup=CLAIM
        )
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=lan.id, message_id=sent.message_id, reply_markup=CLAIM
        )
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=lan.id, message_id=999)


async def test_text_limit_is_4096_characters(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    await bot.send_message(lan.id, "ư" * 4096)  # characters, not bytes
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(lan.id, "x" * 4097)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(lan.id, "   ")
    assert len(await humans.messages(lan)) == 1


async def test_text_and_caption_limits_count_utf16_units_so_an_emoji_counts_twice(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    await bot.send_message(lan.id, "😀" * 2048)  # 4,096 UTF-16 units
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(lan.id, "😀" * 2049)  # 2,049 characters, 4,098 units
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_photo(lan.id, make_png(4, 4), caption="😀" * 513)
    assert len(await humans.messages(lan)) == 1


async def test_callback_data_limit_is_64_bytes(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="x" * 64)]])
    await bot.send_message(lan.id, "fits", reply_markup=ok)
    for too_long in ("x" * 65, "đ" * 33):  # 33 two-byte characters = 66 bytes
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("no", callback_data=too_long)]])
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            await bot.send_message(lan.id, "too long", reply_markup=markup)
    assert [m.text for m in await humans.messages(lan)] == ["fits"]


async def test_inline_button_needs_exactly_one_action(bot: Bot, lan: SandboxUser) -> None:
    bare = InlineKeyboardMarkup([[InlineKeyboardButton("label only")]])
    with pytest.raises(BadRequest, match=r"(?i)text buttons are unallowed"):
        await bot.send_message(lan.id, "x", reply_markup=bare)
    both = InlineKeyboardMarkup(
        [[InlineKeyboardButton("two", url="https://example.org", callback_data="d")]]
    )
    with pytest.raises(BadRequest, match="Button_type_invalid"):
        await bot.send_message(lan.id, "x", reply_markup=both)


async def test_user_message_and_button_press_arrive_through_get_updates(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    offer = await bot.send_message(lan.id, "Ca #42", reply_markup=CLAIM)
    typed = await humans.send_text(lan, lan, "/start")
    press = await humans.press(lan, lan, offer.message_id, "claim:42")

    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == sorted(u.update_id for u in updates)
    assert len(updates) == 2
    message, callback = updates[0].message, updates[1].callback_query
    assert message is not None and message.text == "/start"
    assert message.message_id == typed.message_id
    assert message.from_user is not None and message.from_user.language_code == "vi"
    assert message.entities[0].type == "bot_command"
    assert callback is not None and callback.data == "claim:42"
    assert callback.id == press.id
    assert callback.from_user.id == lan.id
    assert callback.message is not None and callback.message.message_id == offer.message_id

    # Unconfirmed updates come again; an offset past them confirms them.
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [u.update_id for u in updates]
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()
    assert await humans.pending_updates() == []

    await bot.answer_callback_query(callback.id, text="Đã nhận ca #42")
    answered = await humans.callback(press)
    assert answered.answered and answered.text == "Đã nhận ca #42" and not answered.show_alert
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(callback.id)


async def test_pressing_a_button_that_is_not_there_is_refused(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    offer = await bot.send_message(lan.id, "Ca #42", reply_markup=CLAIM)
    with pytest.raises(SandboxError, match="no button with callback_data 'claim:43'"):
        await humans.press(lan, lan, offer.message_id, "claim:43")
    by_label = await humans.press_button(lan, lan, offer.message_id, "Từ chối / Decline")
    assert by_label.data == "decline:42"
    assert await humans.pending_updates() != []


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    loop = asyncio.get_running_loop()
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await humans.wait_for_calls("getUpdates", where=lambda c: c.ok is None)
    started = loop.time()
    await humans.send_text(lan, lan, "Có ai không?")
    updates = await asyncio.wait_for(poll, timeout=5)
    assert loop.time() - started < 5
    assert [u.message.text for u in updates if u.message] == ["Có ai không?"]


async def test_a_second_bot_instance_polling_terminates_the_waiting_poll(
    sandbox: TelegramSandbox, bot: Bot, humans: SandboxClient
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await humans.wait_for_calls("getUpdates", where=lambda c: c.ok is None)
    async with Bot(TOKEN, base_url=sandbox.base_url) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await asyncio.wait_for(first, timeout=5)


async def test_stopping_the_sandbox_ends_a_waiting_long_poll(
    sandbox: TelegramSandbox, bot: Bot, humans: SandboxClient
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await humans.wait_for_calls("getUpdates", where=lambda c: c.ok is None)
    await asyncio.wait_for(sandbox.stop(), timeout=5)
    assert await asyncio.wait_for(poll, timeout=5) == ()


async def test_bot_photo_upload_can_be_fetched_back_with_get_file(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    picture = make_png(1600, 900)
    sent = await bot.send_photo(lan.id, picture, caption="Sơ đồ / Map")
    assert sent.caption == "Sơ đồ / Map"
    biggest = sent.photo[-1]
    assert (biggest.width, biggest.height) == (1600, 900)
    assert [p.width for p in sent.photo] == sorted(p.width for p in sent.photo)

    file = await bot.get_file(biggest.file_id)
    assert file.file_path is not None and file.file_path.startswith(sandbox_file_prefix(bot))
    assert bytes(await file.download_as_bytearray()) == picture

    [shown] = await humans.messages(lan)
    assert shown.photo is not None and shown.photo.file_id == biggest.file_id
    assert await humans.download(biggest.file_id) == picture

    again = await bot.send_photo(lan.id, biggest.file_id)  # re-send by file_id
    assert again.photo[-1].file_id == biggest.file_id
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(lan.id, b"not an image at all")
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_photo(lan.id, "AgACnonexistent")


def sandbox_file_prefix(bot: Bot) -> str:
    return f"{bot.base_file_url}/photos/"


async def test_photo_from_a_person_can_be_downloaded_by_the_bot(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    picture = make_png(800, 600, rgb=(200, 10, 10))
    sent = await humans.send_photo(lan, lan, picture, caption="Đồng hồ nước")
    [update] = await bot.get_updates(timeout=0)
    assert update.message is not None and update.message.message_id == sent.message_id
    assert update.message.caption == "Đồng hồ nước"
    largest = update.message.photo[-1]
    assert (largest.width, largest.height) == (800, 600)
    data = await (await bot.get_file(largest.file_id)).download_as_bytearray()
    assert bytes(data) == picture


async def test_documents_round_trip(bot: Bot, humans: SandboxClient, lan: SandboxUser) -> None:
    report = "Biên bản\n".encode() * 50
    sent = await bot.send_document(lan.id, report, filename="bien-ban.txt")
    assert sent.document is not None and sent.document.file_name == "bien-ban.txt"
    assert sent.document.mime_type == "text/plain"
    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == report

    await humans.send_document(lan, lan, b"%PDF-1.4 fake", "hoa-don.pdf")
    [update] = await bot.get_updates(timeout=0)
    assert update.message is not None and update.message.document is not None
    got = await (await bot.get_file(update.message.document.file_id)).download_as_bytearray()
    assert bytes(got) == b"%PDF-1.4 fake"


async def test_wrong_token_is_unauthorized(sandbox: TelegramSandbox) -> None:
    impostor = Bot("7100000001:wrong-secret", base_url=sandbox.base_url)
    try:
        with pytest.raises(InvalidToken, match="was rejected by the server"):
            await impostor.initialize()  # PTB checks the token with getMe
    finally:
        await impostor.shutdown()


async def test_blocked_user_gives_forbidden(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    offer = await bot.send_message(lan.id, "Ca #42", reply_markup=CLAIM)
    await humans.block(lan)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(lan.id, "hello?")
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.edit_message_text("x", chat_id=lan.id, message_id=offer.message_id)
    [update] = await bot.get_updates(timeout=0)
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"
    with pytest.raises(SandboxError, match="has blocked the bot"):
        await humans.send_text(lan, lan, "hi")

    await humans.unblock(lan)
    await bot.send_message(lan.id, "welcome back")


async def test_application_answers_ping_typed_by_a_person(
    sandbox: TelegramSandbox, humans: SandboxClient, lan: SandboxUser
) -> None:
    async def ping(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("pong")

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(sandbox.base_url)
        .base_file_url(sandbox.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("ping", ping))
    crew = await humans.add_chat(type=ChatType.GROUP, title="Đội 1", members=[lan])
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=5)
        await app.start()
        try:
            typed = await humans.send_text(lan, crew, "/ping")
            reply = await humans.wait_for_message(crew, text="pong", after=typed.message_id)
        finally:
            await app.updater.stop()
            await app.stop()
    assert reply.from_bot
    assert reply.reply_to == typed.message_id  # in groups PTB quotes by default
    # The Updater's final getUpdates confirmed the /ping update.
    assert await humans.pending_updates() == []
