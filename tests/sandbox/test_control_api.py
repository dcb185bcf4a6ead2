"""The humans' side: control API, transcripts, waiting, privacy mode and fault injection."""

from __future__ import annotations

import asyncio

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageOriginUser,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.error import BadRequest, NetworkError, RetryAfter

from sandbox import (
    ChatType,
    FaultKind,
    SandboxClient,
    SandboxError,
    SandboxTimeout,
    SandboxUser,
    TelegramSandbox,
    render_transcript,
)

from .conftest import TOKEN

CLAIM = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Nhận việc / Claim", callback_data="claim:42"),
            InlineKeyboardButton("Bản đồ", url="https://maps.example.org/42"),
        ]
    ]
)


async def test_transcript_shows_the_chat_as_people_see_it(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    crew = await humans.add_chat(-4001, title="Đội 1 / Crew 1", members=[lan])
    question = await humans.send_text(lan, crew, "Ca nào tiếp theo?")
    offer = await bot.send_message(
        crew.id, "Ca #42\nMất nước", reply_markup=CLAIM, reply_to_message_id=question.message_id
    )
    await bot.edit_message_text(
        "Ca #42\nMất nước (gấp)", chat_id=crew.id, message_id=offer.message_id, reply_markup=CLAIM
    )
    await humans.send_location(lan, crew, 10.776889, 106.700806)
    await humans.send_photo(lan, crew, width=64, height=48, caption="Đồng hồ")

    transcript = await humans.transcript(crew)
    assert transcript == "\n".join(
        [
            "=== Đội 1 / Crew 1 (group -4001) ===",
            "#1 Lan Nguyễn: Ca nào tiếp theo?",
            "#2 Dispatch Bot ↪ #1: Ca #42",
            "    Mất nước (gấp) (edited)",
            "    [Nhận việc / Claim] [Bản đồ ↗ https://maps.example.org/42]",
            "#3 Lan Nguyễn: [location 10.77689, 106.70081]",
            "#4 Lan Nguyễn: [photo 64x48] Đồng hồ",
        ]
    )
    assert render_transcript("empty", []) == "=== empty ===\n(no messages)"


async def test_wait_for_returns_the_predicate_value_or_fails_with_the_transcript(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    await bot.send_message(lan.id, "Xin chào")
    found = await humans.wait_for(lan, lambda ms: [m for m in ms if "chào" in m.body])
    assert [m.text for m in found] == ["Xin chào"]

    with pytest.raises(SandboxTimeout) as caught:
        await humans.wait_for_message(lan, contains="pong", timeout=0.1)
    assert "contains='pong'" in str(caught.value)
    assert "#1 Dispatch Bot: Xin chào" in str(caught.value)


async def test_reply_keyboard_is_shown_until_removed(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    keyboard = ReplyKeyboardMarkup([["Đã xong / Done", "Cần hỗ trợ / Help"]])
    sent = await bot.send_message(lan.id, "Báo cáo?", reply_markup=keyboard)
    assert sent.reply_markup is None  # Telegram never echoes reply keyboards
    [shown] = await humans.messages(lan)
    assert shown.reply_keyboard == (("Đã xong / Done", "Cần hỗ trợ / Help"),)
    assert (await humans.chat(lan)).reply_keyboard == shown.reply_keyboard

    await bot.send_message(lan.id, "Cảm ơn", reply_markup=ReplyKeyboardRemove())
    assert (await humans.chat(lan)).reply_keyboard is None
    assert (await humans.messages(lan))[-1].remove_keyboard


async def test_replies_forwards_contacts_and_commands_reach_the_bot(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    boss = await humans.add_user(1002, "Minh")
    prompt = await bot.send_message(lan.id, "Số điện thoại khách?")
    await humans.send_contact(lan, lan, "+84901234567", "Khách", contact_user_id=None)
    await humans.forward_text(lan, lan, "Khách gọi lại", original_sender=boss)
    await humans.send_text(lan, lan, "/report@dispatch_sandbox_bot 42", reply_to=prompt.message_id)

    updates = await bot.get_updates(timeout=0)
    messages = [u.message for u in updates if u.message is not None]
    assert len(messages) == 3
    contact, forwarded, command = messages
    assert contact.contact is not None and contact.contact.phone_number == "+84901234567"
    assert isinstance(forwarded.forward_origin, MessageOriginUser)
    assert forwarded.forward_origin.sender_user.id == boss.id
    assert command.reply_to_message is not None
    assert command.reply_to_message.message_id == prompt.message_id
    assert command.entities[0].type == "bot_command"
    assert command.entities[0].length == len("/report@dispatch_sandbox_bot")


async def test_group_membership_is_checked_and_bot_needs_admin_to_delete_others(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    outsider = await humans.add_user(1003, "Hùng")
    crew = await humans.add_chat(type=ChatType.GROUP, title="Đội 2", members=[lan])
    with pytest.raises(SandboxError, match="not a member"):
        await humans.send_text(outsider, crew, "hi")
    await humans.add_member(crew, outsider)
    said = await humans.send_text(outsider, crew, "hi")

    with pytest.raises(BadRequest, match="Message can't be deleted"):
        await bot.delete_message(crew.id, said.message_id)
    mine = await bot.send_message(crew.id, "tạm thời")
    assert await bot.delete_message(crew.id, mine.message_id)
    assert [m.message_id for m in await humans.messages(crew)] == [said.message_id]
    deleted = await humans.messages(crew, include_deleted=True)
    assert [m.deleted for m in deleted] == [False, True]

    admin_crew = await humans.add_chat(title="Đội 3", members=[lan], bot_is_admin=True)
    spam = await humans.send_text(lan, admin_crew, "spam")
    assert await bot.delete_message(admin_crew.id, spam.message_id)


async def test_privacy_mode_hides_ordinary_group_chatter() -> None:
    async with (
        TelegramSandbox(token=TOKEN, privacy_mode=True) as sandbox,
        SandboxClient(sandbox.root_url) as humans,
    ):
        lan = await humans.add_user(1001, "Lan")
        crew = await humans.add_chat(title="Đội 1", members=[lan])
        chatter = await humans.send_text(lan, crew, "ăn trưa chưa?")
        command = await humans.send_text(lan, crew, "/ping")
        other_bot = await humans.send_text(lan, crew, "/ping@some_other_bot")
        mention = await humans.send_text(lan, crew, "@dispatch_sandbox_bot giúp với")
        private = await humans.send_text(lan, lan, "riêng tư")
        assert chatter.update_id is None and other_bot.update_id is None
        assert None not in (command.update_id, mention.update_id, private.update_id)
        assert len(await humans.pending_updates()) == 3


async def test_answer_after_the_timeout_is_too_old() -> None:
    now = [1_700_000_000.0]
    async with (
        TelegramSandbox(token=TOKEN, clock=lambda: now[0]) as sandbox,
        SandboxClient(sandbox.root_url) as humans,
        Bot(TOKEN, base_url=sandbox.base_url) as bot,
    ):
        lan = await humans.add_user(1001, "Lan")
        offer = await bot.send_message(lan.id, "Ca #42", reply_markup=CLAIM)
        assert int(offer.date.timestamp()) == 1_700_000_000
        press = await humans.press(lan, lan, offer.message_id, "claim:42")
        now[0] += 16
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query(press.id)
        assert not (await humans.callback(press)).answered


async def test_wait_for_answer_sees_the_bots_answer(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    offer = await bot.send_message(lan.id, "Ca #42", reply_markup=CLAIM)
    press = await humans.press(lan, lan, offer.message_id, "claim:42")

    async def bot_side() -> None:
        [update] = await bot.get_updates(timeout=5)
        assert update.callback_query is not None
        await update.callback_query.answer("Ca đã có người nhận", show_alert=True)

    task = asyncio.create_task(bot_side())
    answer = await humans.wait_for_answer(press)
    await asyncio.wait_for(task, timeout=5)
    assert answer.text == "Ca đã có người nhận" and answer.show_alert


async def test_allowed_updates_filters_what_is_queued(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    offer = await bot.send_message(lan.id, "Ca #42", reply_markup=CLAIM)
    assert await bot.get_updates(timeout=0, allowed_updates=["callback_query"]) == ()
    text = await humans.send_text(lan, lan, "bị lọc")
    await humans.press(lan, lan, offer.message_id, "claim:42")
    assert text.update_id is None
    [update] = await bot.get_updates(timeout=0)
    assert update.callback_query is not None


async def test_commands_are_stored_by_scope_and_language(bot: Bot, humans: SandboxClient) -> None:
    await bot.set_my_commands([BotCommand("claim", "Nhận ca")], language_code="vi")
    await bot.set_my_commands(
        [BotCommand("board", "Cases board")], scope=BotCommandScopeAllGroupChats()
    )
    assert [c.command for c in await bot.get_my_commands(language_code="vi")] == ["claim"]
    assert await bot.get_my_commands() == ()
    sets = {
        (tuple(sorted(s.scope.items())), s.language_code): s.commands
        for s in await humans.commands()
    }
    assert sets == {
        ((("type", "default"),), "vi"): (("claim", "Nhận ca"),),
        ((("type", "all_group_chats"),), ""): (("board", "Cases board"),),
    }
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Claim", "upper case is refused")])
    await bot.delete_my_commands(language_code="vi")
    assert await bot.get_my_commands(language_code="vi") == ()


async def test_calls_are_logged_with_decoded_parameters(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    await bot.send_chat_action(lan.id, "typing")
    await bot.send_message(lan.id, "Ca #42", reply_markup=CLAIM)
    calls = await humans.calls()
    assert [c.method for c in calls] == ["getMe", "sendChatAction", "sendMessage"]
    assert calls[-1].params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "claim:42"
    assert all(c.ok for c in calls)
    await humans.clear_calls()
    assert await humans.calls() == []


# PTB itself warns about its RetryAfter.retry_after type change while building the error.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_fault_429_then_recovery(bot: Bot, humans: SandboxClient, lan: SandboxUser) -> None:
    await humans.add_fault(
        FaultKind.TOO_MANY_REQUESTS, count=1, retry_after=7, methods=["sendMessage"]
    )
    await bot.get_me()  # other methods are unaffected
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(lan.id, "a")
    assert "7" in str(caught.value)
    await bot.send_message(lan.id, "b")
    assert [m.text for m in await humans.messages(lan)] == ["b"]
    [failed] = [c for c in await humans.calls("sendMessage") if not c.ok]
    assert failed.error_code == 429


async def test_fault_500_for_a_time_window(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    await humans.add_fault("500", seconds=60)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(lan.id, "x")
    await humans.clear_faults()
    await bot.send_message(lan.id, "ok")


async def test_stalled_call_completes_when_released(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    await humans.add_fault(FaultKind.STALL, count=1, delay=60, methods=["sendMessage"])
    sending = asyncio.create_task(bot.send_message(lan.id, "chậm", read_timeout=30))
    await humans.wait_for_calls("sendMessage", where=lambda c: c.ok is None)
    assert await humans.messages(lan) == []  # still hanging
    await humans.clear_faults()
    sent = await asyncio.wait_for(sending, timeout=5)
    assert sent.text == "chậm"


async def test_control_api_refuses_bad_setup(humans: SandboxClient, lan: SandboxUser) -> None:
    with pytest.raises(SandboxError, match="unknown user 5"):
        await humans.send_text(5, None, "hi")
    with pytest.raises(SandboxError, match="group id must be negative"):
        await humans.add_chat(4001, type=ChatType.GROUP)
    with pytest.raises(SandboxError, match="supergroup id"):
        await humans.add_chat(-4001, type=ChatType.SUPERGROUP)
    with pytest.raises(SandboxError, match="no message 9"):
        await humans.press(lan, lan, 9, "x")
    with pytest.raises(SandboxError, match="kind must be"):
        await humans.add_fault("418")


async def test_an_update_of_any_content_is_queued_numbered_by_telegram(
    humans: SandboxClient, lan: SandboxUser
) -> None:
    """What a newer Bot API might send that a library cannot read: served like any update."""
    odd = {"message_id": 1, "date": 0, "chat": "no object"}
    update_id = await humans.queue_update("message", odd)
    said = await humans.send_text(lan, lan, "sau đó")
    assert update_id is not None and said.update_id == update_id + 1
    pending = await humans.pending_updates()
    assert pending[0] == {"update_id": update_id, "message": odd}
    assert [u["update_id"] for u in pending] == [update_id, update_id + 1]
    with pytest.raises(SandboxError, match="numbers every update itself"):
        await humans.queue_update("message", {"update_id": 5})
    with pytest.raises(SandboxError, match="kind must be one of"):
        await humans.queue_update("telegram_update", {})
    with pytest.raises(SandboxError, match="payload must be a JSON object"):
        await humans._request("POST", "/updates", {"kind": "message", "payload": [1]})
