"""Offline stand-ins of the Telegram Bot API and the Zalo Bot API for tests and the demo.

``TelegramSandbox`` and ``ZaloSandbox`` are the servers the real bot talks to;
``SandboxClient`` and ``ZaloSandboxClient`` play the humans through each sandbox's control
API.  See :mod:`sandbox.telegram` and :mod:`sandbox.zalo` for the endpoints, and
:mod:`sandbox.phones` for people's phones that work the same on both, and
:mod:`sandbox.serving` for what the two servers share.

Not part of the product: `bot`, `handlers` and `storage` never import this package (the
import contract in pyproject.toml, checked by `make lint`), except `dispatchbot demo`.
"""

from sandbox.client import (
    BotCall,
    Button,
    CallbackPress,
    ChatMessage,
    CommandSet,
    DocumentInfo,
    PhotoInfo,
    SandboxChat,
    SandboxClient,
    SandboxError,
    SandboxTimeout,
    SandboxUser,
    ZaloChatInfo,
    ZaloChatMessage,
    ZaloPerson,
    ZaloSandboxClient,
    render_transcript,
    render_zalo_transcript,
)
from sandbox.serving import ApiError
from sandbox.state import BotStatus, ChatType, FaultKind, World
from sandbox.telegram import DEFAULT_TOKEN, TelegramSandbox, make_png, parse_html
from sandbox.zalo import DEFAULT_ZALO_TOKEN, ZaloSandbox

__all__ = [
    "DEFAULT_TOKEN",
    "DEFAULT_ZALO_TOKEN",
    "ApiError",
    "BotCall",
    "BotStatus",
    "Button",
    "CallbackPress",
    "ChatMessage",
    "ChatType",
    "CommandSet",
    "DocumentInfo",
    "FaultKind",
    "PhotoInfo",
    "SandboxChat",
    "SandboxClient",
    "SandboxError",
    "SandboxTimeout",
    "SandboxUser",
    "TelegramSandbox",
    "World",
    "ZaloChatInfo",
    "ZaloChatMessage",
    "ZaloPerson",
    "ZaloSandbox",
    "ZaloSandboxClient",
    "make_png",
    "parse_html",
    "render_transcript",
    "render_zalo_transcript",
]
