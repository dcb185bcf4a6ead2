"""Offline stand-in of the Telegram Bot API for tests and the demo.

``TelegramSandbox`` is the server the real bot talks to; ``SandboxClient`` plays the humans
through the sandbox's control API.  See :mod:`bot.sandbox.telegram` for the endpoints.
"""

from bot.sandbox.client import (
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
    render_transcript,
)
from bot.sandbox.state import ChatType, FaultKind, World
from bot.sandbox.telegram import DEFAULT_TOKEN, ApiError, TelegramSandbox, make_png, parse_html

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "BotCall",
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
    "make_png",
    "parse_html",
    "render_transcript",
]
