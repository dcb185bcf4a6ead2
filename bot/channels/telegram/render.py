"""The neutral `Outbound` → the Bot API sends that show it on Telegram (a plan; `api` runs it).

Text is plain (no parse mode): a customer called `<Hưng>` must not break the message. So
the length Telegram checks, "1-4096 characters after entities parsing", is the text's
own length, counted in UTF-16 code units; a caption may hold 1024.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, TypeAlias

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    WebAppInfo,
)

from bot.channels.adapter import PartKind
from bot.channels.base import Button, ButtonKind, Capabilities, Key, Outbound, PermanentFailure
from bot.channels.text import clip
from bot.domain.digits import whole_number

MAX_TEXT: Final = 4096
MAX_CAPTION: Final = 1024
#: The defaults (buttons, edits, photos both ways, locations, groups, UTF-16 lengths) and
#: what only Telegram has: a shorter caption, Mini Apps.
CAPABILITIES: Final = Capabilities(max_text=MAX_TEXT, max_caption=MAX_CAPTION, mini_apps=True)

#: What goes under a message: inline buttons, a keyboard under the input field, or its removal.
ReplyMarkup: TypeAlias = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


@dataclass(frozen=True)
class RenderedPart:
    """One Bot API send that an `Outbound` turns into; `render` plans, the api sends."""

    kind: PartKind
    text: str | None  # the message text, or the caption of a photo/document
    keyboard: ReplyMarkup | None = None
    reply_to: int | None = None
    path: str | None = None


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units), so emoji cannot push us over."""
    return CAPABILITIES.measure.length(text)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Telegram's texts of at most `limit`, cut by the project's one splitter."""
    return replace(CAPABILITIES, max_text=limit).split(text)


def inline_button(button: Button) -> InlineKeyboardButton:
    if button.kind is ButtonKind.URL:
        return InlineKeyboardButton(button.text, url=button.data)
    if button.kind is ButtonKind.WEB_APP:
        return InlineKeyboardButton(button.text, web_app=WebAppInfo(button.data))
    return InlineKeyboardButton(button.text, callback_data=button.data)


def keyboard(buttons: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(tuple(tuple(inline_button(b) for b in row) for row in buttons))


def reply_keys(keys: tuple[tuple[Key, ...], ...]) -> ReplyKeyboardMarkup | None:
    """The keyboard under the input field; a location key shares the phone's position."""
    if not keys:
        return None
    return ReplyKeyboardMarkup(
        tuple(
            tuple(KeyboardButton(k.text, request_location=k.request_location or None) for k in row)
            for row in keys
        ),
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def markup_of(message: Outbound) -> ReplyMarkup | None:
    """One markup per message: inline buttons win, then a key keyboard, then its removal."""
    inline = keyboard(message.buttons)
    if inline is not None:
        return inline
    keys = reply_keys(message.keys)
    if keys is not None:
        return keys
    return ReplyKeyboardRemove() if message.remove_keys else None


def render(message: Outbound, capabilities: Capabilities = CAPABILITIES) -> list[RenderedPart]:
    """Plan the Bot API calls for one `Outbound`: media first, text after, buttons last.

    `claim_ref` needs nothing here: on Telegram the claim action is already a button.
    """
    media = [
        (kind, path)
        for kind, path in (
            (PartKind.PHOTO, message.photo_path),
            (PartKind.DOCUMENT, message.document_path),
        )
        if path is not None
    ]
    as_caption = (
        len(media) == 1 and bool(message.text.strip()) and capabilities.fits_caption(message.text)
    )
    plans: list[tuple[PartKind, str | None, str | None]] = []
    for index, (kind, path) in enumerate(media):
        plans.append((kind, message.text if as_caption and index == 0 else None, path))
    if not as_caption:
        plans.extend((PartKind.TEXT, chunk, None) for chunk in capabilities.split(message.text))
    if not plans:
        raise PermanentFailure("nothing to send: empty text and no media")
    # A reply is a nicety: a target that cannot be a Telegram message id is simply dropped.
    reply_to = whole_number(message.reply_to or "")
    markup = markup_of(message)
    last = len(plans) - 1
    return [
        RenderedPart(
            kind=kind,
            text=text,
            keyboard=markup if index == last else None,
            reply_to=reply_to if index == 0 else None,
            path=path,
        )
        for index, (kind, text, path) in enumerate(plans)
    ]


@dataclass(frozen=True)
class RenderedEdit:
    """The editMessageText call that shows an `Outbound` in place of an earlier message."""

    text: str
    keyboard: InlineKeyboardMarkup | None


def render_edit(message: Outbound, capabilities: Capabilities = CAPABILITIES) -> RenderedEdit:
    """The new text and inline keyboard of a message edited in place.

    An edit cannot grow into several messages, so an over-long text is cut short. No
    buttons means no keyboard: leaving `reply_markup` out is how Telegram drops one on
    edit (an empty markup cannot say it, PTB serialises it to `{}`).
    """
    text = clip(message.text, capabilities.max_text, capabilities.measure)
    return RenderedEdit(text, keyboard(message.buttons))
