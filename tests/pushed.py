"""What a test's own pushing platform leaves out: it sends nothing, keeps no menu and
downloads nothing, so only its routes and how it reads a push are the test's."""

from __future__ import annotations

from bot.channels.base import CommandMenus, InboundSink, Outbound, Sent


class PushOnly:
    """The parts of `bot.channels.base.Channel` a push-only test platform does nothing in."""

    @property
    def bot_username(self) -> str | None:
        return None

    async def set_commands(self, menus: CommandMenus) -> None:
        return None

    async def start(self, sink: InboundSink) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, chat_id: str, message: Outbound) -> Sent:
        return Sent()

    async def edit(self, chat_id: str, message_id: str, message: Outbound) -> None:
        return None

    async def download(self, file_ref: str, max_bytes: int) -> bytes:
        return b""
