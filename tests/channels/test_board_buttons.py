"""Link and Mini App buttons: kept through the outbox, drawn as Telegram's kinds."""

from __future__ import annotations

from bot.channels.base import Button, ButtonKind, Outbound
from bot.channels.telegram.render import keyboard

BOARD = "https://board.example.vn/app/"


def test_button_kinds_survive_the_outbox_and_old_rows_read_as_callbacks() -> None:
    message = Outbound(
        text="📋",
        buttons=(
            (Button("Bảng", BOARD, ButtonKind.WEB_APP),),
            (Button("Mở", "https://t.me/bot?start=board", ButtonKind.URL),),
            (Button("PL-1", "c:case:PL-1"),),
        ),
    )
    assert Outbound.from_json(message.to_json()) == message
    old = {"text": "x", "buttons": [[{"text": "PL-1", "data": "c:case:PL-1"}]]}
    assert Outbound.from_json(old).buttons[0][0].kind is ButtonKind.CALLBACK


def test_telegram_draws_each_kind_as_its_own_button() -> None:
    markup = keyboard(
        (
            (Button("Bảng", BOARD, ButtonKind.WEB_APP),),
            (Button("Mở", "https://t.me/bot?start=board", ButtonKind.URL),),
            (Button("PL-1", "c:case:PL-1"),),
        )
    )
    assert markup is not None
    (app,), (link,), (case,) = markup.inline_keyboard
    assert app.web_app is not None and app.web_app.url == BOARD and app.callback_data is None
    assert link.url == "https://t.me/bot?start=board" and link.callback_data is None
    assert case.callback_data == "c:case:PL-1" and case.url is None
