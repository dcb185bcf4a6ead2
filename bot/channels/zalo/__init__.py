"""The Zalo adapter: the Zalo Bot Platform over plain aiohttp, behind the neutral edge types.

- `api`: the Bot API (calls, file downloads, what a refusal means);
- `inbound`: a Zalo update → `Inbound`, and how a redelivery is known;
- `render`: an `Outbound` → what Zalo can show (no buttons, no edits, photos by URL);
- `channel`: `ZaloChannel`, the `Channel` the application runs.
"""

from bot.channels.adapter import PartKind
from bot.channels.base import UpdateMode
from bot.channels.zalo.api import IDLE_STATUS, ZaloApi, ZaloApiError, translate_error
from bot.channels.zalo.channel import LONG_POLL_SECONDS, SECRET_LENGTHS, ZaloChannel
from bot.channels.zalo.inbound import (
    CHANNEL_NAME,
    SECRET_HEADER,
    RecentIds,
    ZaloChatType,
    ZaloEvent,
    delivery_key,
    message_id_of,
    strip_mention,
    to_inbound,
    unwrap_update,
)
from bot.channels.zalo.render import (
    CAPABILITIES,
    MAX_TEXT,
    MediaLinks,
    ZaloPart,
    ZaloRenderer,
    media_base,
    split_text,
    zalo_length,
)

#: The modes of every channel; the name stays for the callers that knew it.
ZaloMode = UpdateMode

__all__ = [
    "CAPABILITIES",
    "CHANNEL_NAME",
    "IDLE_STATUS",
    "LONG_POLL_SECONDS",
    "MAX_TEXT",
    "SECRET_HEADER",
    "SECRET_LENGTHS",
    "MediaLinks",
    "PartKind",
    "RecentIds",
    "ZaloApi",
    "ZaloApiError",
    "ZaloChannel",
    "ZaloChatType",
    "ZaloEvent",
    "ZaloMode",
    "ZaloPart",
    "ZaloRenderer",
    "delivery_key",
    "media_base",
    "message_id_of",
    "split_text",
    "strip_mention",
    "to_inbound",
    "translate_error",
    "unwrap_update",
    "zalo_length",
]
