"""The Telegram adapter: python-telegram-bot on one side, the neutral edge types on the other.

Everything Telegram-specific stays in this package, so `handlers/` only ever sees
`Inbound`/`Outbound` and the `DeliveryError` family:

- `api`: the Bot API through PTB (timeouts, error mapping, the getUpdates reader);
- `inbound`: a Telegram update, read from its JSON → `Inbound` (and what else the channel
  needs of it: its chat's lane, the press to answer, a group's move);
- `render`: an `Outbound` → the sends that show it (keyboards, the 4096/1024 limits);
- `channel`: `TelegramChannel`, the `Channel` the application runs.
"""

from bot.channels.adapter import PartKind
from bot.channels.base import UpdateMode
from bot.channels.telegram.api import (
    CALL_DEADLINE_FACTOR,
    ChatUpgraded,
    PollingBot,
    TelegramApi,
    retry_after_seconds,
    translate_error,
)
from bot.channels.telegram.channel import ALLOWED_UPDATES, LONG_POLL_SECONDS, TelegramChannel
from bot.channels.telegram.inbound import CHANNEL_NAME, SECRET_HEADER, to_inbound, update_id_of
from bot.channels.telegram.render import (
    CAPABILITIES,
    MAX_CAPTION,
    MAX_TEXT,
    RenderedEdit,
    RenderedPart,
    keyboard,
    markup_of,
    render,
    render_edit,
    reply_keys,
    split_text,
    telegram_length,
)

#: The modes of every channel; the name stays for the callers that knew it.
TelegramMode = UpdateMode

__all__ = [
    "ALLOWED_UPDATES",
    "CALL_DEADLINE_FACTOR",
    "CAPABILITIES",
    "CHANNEL_NAME",
    "LONG_POLL_SECONDS",
    "MAX_CAPTION",
    "MAX_TEXT",
    "SECRET_HEADER",
    "ChatUpgraded",
    "PartKind",
    "PollingBot",
    "RenderedEdit",
    "RenderedPart",
    "TelegramApi",
    "TelegramChannel",
    "TelegramMode",
    "keyboard",
    "markup_of",
    "render",
    "render_edit",
    "reply_keys",
    "retry_after_seconds",
    "split_text",
    "telegram_length",
    "to_inbound",
    "translate_error",
    "update_id_of",
]
