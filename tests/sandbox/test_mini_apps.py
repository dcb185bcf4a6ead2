"""The sandbox's Mini Apps as Telegram has them: web_app buttons in private chats only and
with HTTPS links only, and launch data signed the way Telegram's client signs it."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo
from telegram.error import BadRequest

from bot.webapp.launch import LaunchProblem, LaunchRefused, verify_launch
from sandbox import SandboxClient, SandboxUser

from .conftest import TOKEN


def board_button(url: str = "https://board.example.vn/app/") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Bảng", web_app=WebAppInfo(url))]])


async def test_a_mini_app_button_goes_to_a_private_chat(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    await bot.send_message(lan.id, "Bảng điều phối", reply_markup=board_button())
    [shown] = await humans.messages(lan)
    assert shown.buttons[0].web_app == "https://board.example.vn/app/"


async def test_a_mini_app_button_in_a_group_is_refused_as_telegram_refuses_it(
    bot: Bot, humans: SandboxClient, lan: SandboxUser
) -> None:
    group = await humans.add_chat(-100900, type="group", title="Đội", members=[lan])
    with pytest.raises(BadRequest, match=r"(?i)button_type_invalid"):
        await bot.send_message(group.id, "Bảng", reply_markup=board_button())
    assert await humans.messages(group) == []


async def test_a_mini_app_button_must_link_over_https(bot: Bot, lan: SandboxUser) -> None:
    with pytest.raises(BadRequest, match=r"(?i)only https links are allowed"):
        await bot.send_message(lan.id, "Bảng", reply_markup=board_button("http://10.0.0.1/app/"))


async def test_opening_the_mini_app_signs_the_launch_data_for_this_bot(
    humans: SandboxClient, lan: SandboxUser
) -> None:
    at = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    url = await humans.open_web_app(lan, "http://127.0.0.1:1/app/", auth_date=at.timestamp())
    parts = urlsplit(url)
    assert parts.path == "/app/" and not parts.query
    launch = parse_qs(parts.fragment)
    assert launch["tgWebAppVersion"] == ["8.0"]
    user = verify_launch(launch["tgWebAppData"][0], TOKEN, at)
    assert (user.id, user.first_name, user.username) == (str(lan.id), "Lan", "lan_tech")
    other = await humans.open_web_app(
        lan, "http://127.0.0.1:1/app/", auth_date=at.timestamp(), token="1:x"
    )
    with pytest.raises(LaunchRefused) as refused:
        verify_launch(parse_qs(urlsplit(other).fragment)["tgWebAppData"][0], TOKEN, at)
    assert refused.value.problem is LaunchProblem.FORGED
