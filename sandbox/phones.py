"""People's phones, the same on every channel: what the demo and the end-to-end tests hold.

A `Phone` hides how a platform is used (press a button or type `/claim`; find the answer by
its reply link or by its place in the chat) so that one script plays the same day on
Telegram and on Zalo.  Each phone talks to its sandbox through the control API.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias

from sandbox.client import (
    C,
    ChatMessage,
    ChatRef,
    ControlClient,
    M,
    SandboxClient,
    ZaloChatMessage,
    ZaloChatRef,
    ZaloSandboxClient,
)

Settle = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Person:
    """Someone in the demo or a test, on one channel."""

    key: str
    name: str
    channel: str
    user_id: str

    @property
    def uid(self) -> str:
        return f"{self.channel}:{self.user_id}"


@dataclass(frozen=True)
class Seen:
    """A message as people see it, on any channel."""

    chat: str
    id: str
    index: int  # its place in the chat, for "after this one"
    sender: str
    from_bot: bool
    body: str
    #: How this message offers a claim: the buttons under it (Telegram) or the
    #: instruction lines in it (Zalo).
    offers: tuple[str, ...] = ()
    edited: bool = False
    reply_to: str | None = None


def card_prefix(ref: str) -> str:
    return f"📋 {ref} "


class ChatPhone(ABC, Generic[C, M]):
    """A person's phone on one channel: what is the same everywhere lives here (read the
    chat, find a case's card, wait for a message); each channel says how it is used."""

    channel: str
    #: Telegram edits the case's card in place; Zalo posts a short status message instead.
    edits_in_place: bool
    client: ControlClient[C, M]

    # ------------------------------------------------------------------ the channel's part
    @abstractmethod
    async def send(self, who: Person, chat: str, text: str) -> Seen:
        """The person types `text` in `chat`."""

    @abstractmethod
    async def answer(self, sent: Seen, *, timeout: float = 5.0) -> Seen:  # noqa: ASYNC109
        """The bot's answer to `sent`."""

    @abstractmethod
    async def claim(self, who: Person, chat: str, card: Seen, ref: str) -> str:
        """The person claims the case shown by `card`; returns what they are told."""

    @abstractmethod
    def _chat(self, chat: str) -> C:
        """The chat as the channel's client names it."""

    @abstractmethod
    def _seen(self, m: M) -> Seen: ...

    @abstractmethod
    def _card_of(self, messages: list[M], ref: str) -> M | None:
        """The message that shows the case now."""

    # ------------------------------------------------------------------ shared
    async def messages(self, chat: str) -> list[Seen]:
        return [self._seen(m) for m in await self.client.messages(self._chat(chat))]

    async def card(
        self,
        chat: str,
        ref: str,
        *,
        contains: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Seen:
        """The case as the chat shows it, once it shows `contains`."""

        def current(messages: list[M]) -> M | None:
            card = self._card_of(messages, ref)
            if card is None or (contains is not None and contains not in card.body):
                return None
            return card

        found = await self.client.wait_for(
            self._chat(chat),
            current,
            timeout=timeout,
            what=f"the card of {ref} showing {contains!r}",
        )
        assert found is not None  # wait_for returns only what the predicate found
        return self._seen(found)

    async def wait_for(
        self,
        chat: str,
        contains: str,
        *,
        after: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Seen:
        found = await self.client.wait_for_message(
            self._chat(chat), contains=contains, after=after, timeout=timeout
        )
        return self._seen(found)

    async def transcript(self, chat: str) -> str:
        return await self.client.transcript(self._chat(chat))


#: Any channel's phone, for the scripts that play the same day on each.
Phone: TypeAlias = ChatPhone[Any, Any]


async def say(phone: Phone, who: Person, chat: str, text: str) -> Seen:
    """A person types; returns the bot's answer to it."""
    return await phone.answer(await phone.send(who, chat, text))


class TelegramPhone(ChatPhone[ChatRef, ChatMessage]):
    """Telegram: the claim is a button press; the bot's answer replies to the message."""

    channel = "telegram"
    edits_in_place = True
    client: SandboxClient

    def __init__(self, client: SandboxClient) -> None:
        self.client = client

    def _chat(self, chat: str) -> ChatRef:
        return int(chat)

    def _card_of(self, messages: list[ChatMessage], ref: str) -> ChatMessage | None:
        """One message, edited in place."""
        return next((m for m in messages if m.body.startswith(card_prefix(ref))), None)

    def _seen(self, m: ChatMessage) -> Seen:
        return Seen(
            chat=str(m.chat_id),
            id=str(m.message_id),
            index=m.message_id,
            sender=m.sender_name,
            from_bot=m.from_bot,
            body=m.body,
            offers=tuple(b.text for b in m.buttons),
            edited=m.edited,
            reply_to=None if m.reply_to is None else str(m.reply_to),
        )

    async def send(self, who: Person, chat: str, text: str) -> Seen:
        return self._seen(await self.client.send_text(int(who.user_id), int(chat), text))

    async def answer(self, sent: Seen, *, timeout: float = 5.0) -> Seen:  # noqa: ASYNC109
        found = await self.client.wait_for_message(
            int(sent.chat), where=lambda m: m.reply_to == int(sent.id), timeout=timeout
        )
        return self._seen(found)

    async def claim(self, who: Person, chat: str, card: Seen, ref: str) -> str:
        """Press the card's claim button; returns the toast the person sees."""
        if not card.offers:
            raise LookupError(f"the card of {ref} has no button")
        press = await self.client.press_button(
            int(who.user_id), int(chat), int(card.id), card.offers[0]
        )
        return (await self.client.wait_for_answer(press)).text or ""


class ZaloPhone(ChatPhone[ZaloChatRef, ZaloChatMessage]):
    """Zalo: no buttons, no reply links, and groups hear the bot only when it is mentioned.

    So a person types `/claim REF`, a group message starts with the bot's mention, and the
    bot's answer is the last thing it says after the message once its outbox is empty.
    """

    channel = "zalo"
    edits_in_place = False
    client: ZaloSandboxClient

    def __init__(self, client: ZaloSandboxClient, settle: Settle | None = None) -> None:
        self.client = client
        self.settle = settle

    def _chat(self, chat: str) -> ZaloChatRef:
        return chat

    def _card_of(self, messages: list[ZaloChatMessage], ref: str) -> ZaloChatMessage | None:
        """Its card or the last status message: the latest word of the bot on the case."""
        views = [m for m in messages if m.from_bot and m.body.startswith(card_prefix(ref))]
        return views[-1] if views else None

    def _seen(self, m: ZaloChatMessage) -> Seen:
        hints = tuple(line for line in m.body.split("\n") if "/claim " in line)
        return Seen(
            chat=m.chat_id,
            id=m.message_id,
            index=m.index,
            sender=m.sender_name,
            from_bot=m.from_bot,
            body=m.body,
            offers=hints if m.from_bot else (),
            reply_to=m.reply_to,
        )

    async def send(self, who: Person, chat: str, text: str) -> Seen:
        if chat != who.user_id:  # a group: mention the bot, or it never hears
            text = f"{await self.client.bot_mention()} {text}"
        return self._seen(await self.client.send_text(who.user_id, chat, text))

    async def answer(self, sent: Seen, *, timeout: float = 5.0) -> Seen:  # noqa: ASYNC109
        """The bot's last word after `sent`, once it has handled `sent` and sent everything
        that caused (card updates come before the answer, so the answer is last)."""
        await self.client.wait_for(
            sent.chat,
            lambda ms: any(m.message_id == sent.id and m.handled for m in ms),
            timeout=timeout,
            what=f"the bot to handle message #{sent.index}",
        )
        if self.settle is not None:
            await self.settle()
        await self.client.wait_for_message(sent.chat, after=sent.index, timeout=timeout)
        said = [m for m in await self.client.messages(sent.chat) if m.index > sent.index]
        last = [m for m in said if m.from_bot][-1]
        return self._seen(last)

    async def claim(self, who: Person, chat: str, card: Seen, ref: str) -> str:
        """Type `/claim REF` as the card says; returns the bot's answer."""
        return (await say(self, who, chat, f"/claim {ref}")).body
