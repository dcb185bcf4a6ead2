"""A local stand-in of the Zalo Bot Platform API: the Zalo dialect of the sandbox.

The real bot (`bot.channels.zalo.ZaloChannel`) is pointed at it with `ZALO_API_URL=root`;
tests and the offline demo play the humans through a JSON control API on the same server
(see `sandbox.client.ZaloSandboxClient`).

Bot API side (what the bot sees), always ``POST /bot{token}/{method}`` with a JSON body
---------------------------------------------------------------------------------------
Answers are ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N,
"description": "..."}`` with the HTTP status equal to N.  Wrong or revoked token: 401
``Unauthorized``; a token not shaped ``<digits>:<secret>``: 404 ``Not Found``; unknown
method: 404 (Telegram's answers: Zalo documents none).  Implemented: getMe (``id``,
``account_name``, ``account_type``, ``can_join_groups``), getUpdates, setWebhook,
deleteWebhook, getWebhookInfo (``url``, ``updated_at``: all Zalo documents; no error
fields), sendMessage, sendPhoto, sendSticker, sendChatAction.

Zalo behaviours kept on purpose (they differ from Telegram's):

- getUpdates hands out **one** update per call (``result`` is the update object, not a
  list), has no offsets (an update is gone once handed out) and, when nothing arrives within
  ``timeout`` seconds (a string, default 30), answers HTTP 408 ``Request timeout``;
- getUpdates is refused while a webhook is set; with one set, each update is POSTed to it
  with the secret in ``X-Bot-Api-Secret-Token``, unwrapped (``{event_name, message}``);
- ids are strings; dates are milliseconds; updates carry ``event_name``
  (``message.text.received``, ``message.image.received``, ...);
- sendMessage takes ``chat_id`` and ``text`` (1 to 2,000 characters) and nothing else: no
  buttons, no replies; there is no edit method; sendPhoto takes the photo's URL;
- in a group the bot receives a message only when it mentions the bot (``@`` and the bot's
  display name) or replies to one of the bot's messages (``mention_only``, the default;
  ``mention_only=False`` hands over every group message);
- ``can_join_groups=False`` makes getMe say so, as Zalo's docs say of a BASIC bot, and no
  new group can then be made with the bot in it;
- a person added with ``started: false`` has never written to the bot: a send to their
  private chat answers 403 ``Forbidden: user has not started a conversation with the bot``
  (the sandbox's own words: Zalo documents no error text for it) until they write to it.

Control API side (what the humans do), JSON in and out, errors as ``{"ok": false, "error"}``
---------------------------------------------------------------------------------------------
``GET  /_sandbox/bot``                       the bot (id, display name, webhook, settings)
``POST /_sandbox/bot``                       {can_join_groups?, mention_only?}: change them
``POST /_sandbox/reset``                     forget everything
``POST /_sandbox/users``                     {id, display_name, started? (true)}; also
                                             opens the private chat
``POST /_sandbox/chats``                     {id, title?, members?: [user ids]} - a group
``GET  /_sandbox/chats[/{id}]``              chats
``POST /_sandbox/chats/{id}/members``        {user_id}
``GET  /_sandbox/chats/{id}/messages``       what the chat shows, oldest first; a person's
                                             message says whether the bot has ``handled`` it
                                             (polled again after taking it, or answered its
                                             webhook push)
``POST /_sandbox/messages``                  a person sends: {user_id, chat_id? (default: the
                                             private chat), text?, caption?, photo?: {base64 |
                                             width+height}, reply_to_message_id?}
                                             -> {message, delivered}
``POST /_sandbox/redeliver``                 {message_id}: the platform delivers it again
``GET  /_sandbox/updates``                   updates not yet handed out
``POST /_sandbox/updates``                   {update}: hand the bot this update as it is,
                                             any JSON value (Zalo documents few of its
                                             update shapes; a new one, or a broken one,
                                             arrives like any other)
``GET|DELETE /_sandbox/calls``               Bot API call log (``?method=``, ``?since=seq``)
``POST|DELETE /_sandbox/faults``             {status: 429|500|..., count?, methods?: [...],
                                             retry_after?}: the next calls fail so;
                                             {stall: SECONDS, count?, methods?}: they hang
                                             that long (DELETE releases them), then run,
                                             even when the caller has given up by then
``POST|GET|DELETE /_sandbox/answers``        inject any answer (see `sandbox.serving`)
``POST|DELETE /_sandbox/token/revoke``       revoke / restore the token (401 meanwhile)
``POST /_sandbox/token``                     {token}: the bot's new token
``GET  /zfiles/{name}``                      a photo a person sent (what ``photo_url`` names)

Deliberate simplifications, because Zalo does not document them: error texts and codes for
refusals (bad chat, bad text) are the sandbox's own; a user's private chat exists as soon as
the user is added; a webhook URL may be plain ``http`` on a loopback address (Zalo demands
HTTPS); a failed webhook push is retried a few times, then dropped.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from sandbox.serving import (
    ApiCall,
    ApiError,
    ControlError,
    JSONDict,
    Route,
    Served,
    known,
    method_names,
    refused,
    utf16_len,
)
from sandbox.telegram import make_png

DEFAULT_ZALO_TOKEN = "2701234567890:zalo-sandbox-token-not-a-secret"
MAX_TEXT = 2000
#: The sandbox's own words (Zalo documents no error texts): a send to a person who never
#: wrote to the bot. A test that needs Zalo's real answer injects it (``/answers``).
NOT_STARTED = "Forbidden: user has not started a conversation with the bot"
DEFAULT_POLL_SECONDS = 30.0
MAX_POLL_SECONDS = 50.0
PUSH_ATTEMPTS = 3
TEXT_EVENT = "message.text.received"
IMAGE_EVENT = "message.image.received"
STICKER_EVENT = "message.sticker.received"


@dataclass
class ZaloUser:
    id: str
    display_name: str
    is_bot: bool = False
    #: Whether the person has written to the bot privately; until then it may not write.
    started: bool = True

    def to_api(self) -> JSONDict:
        return {"id": self.id, "display_name": self.display_name, "is_bot": self.is_bot}


@dataclass
class ZaloChat:
    id: str
    type: str  # "PRIVATE" | "GROUP"
    title: str
    members: set[str] = field(default_factory=set)

    @property
    def is_group(self) -> bool:
        return self.type == "GROUP"

    def view(self) -> JSONDict:
        return {
            "id": self.id,
            "type": self.type,
            "title": self.title,
            "members": sorted(self.members),
        }


@dataclass
class ZaloMessage:
    chat_id: str
    message_id: str
    index: int  # position in its chat, from 1: ids are not ordered, people's screens are
    sender_id: str
    sender_name: str
    from_bot: bool
    date: int  # milliseconds, as Zalo gives them
    text: str | None = None
    caption: str | None = None
    photo_url: str | None = None
    sticker: str | None = None
    reply_to: str | None = None
    delivered: bool = False
    #: The getUpdates call that handed it to the bot (the bot has handled it once it polls
    #: again), or whether a webhook push of it was answered 2xx.
    handed_out: int | None = None
    pushed: bool = False

    def view(self, last_poll: int = 0) -> JSONDict:
        return {
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "index": self.index,
            "sender_id": self.sender_id,
            "sender_name": self.sender_name,
            "from_bot": self.from_bot,
            "date": self.date,
            "text": self.text,
            "caption": self.caption,
            "photo_url": self.photo_url,
            "sticker": self.sticker,
            "reply_to": self.reply_to,
            "delivered": self.delivered,
            "handled": self.pushed or (self.handed_out is not None and last_poll > self.handed_out),
        }


@dataclass
class Fault:
    status: int
    remaining: int
    methods: frozenset[str] | None
    retry_after: int | None
    stall: float | None = None  # hang this long, then answer normally

    def applies(self, method: str) -> bool:
        return self.remaining > 0 and (self.methods is None or method.lower() in self.methods)


@dataclass
class Webhook:
    url: str
    secret: str
    updated_at: int


Handler = Callable[[JSONDict], Awaitable[Any]]


class ZaloSandbox(Served[JSONDict]):
    """The fake Zalo server: Bot API for the bot, control API for the humans."""

    settings = ("can_join_groups", "mention_only")

    def __init__(
        self,
        token: str = DEFAULT_ZALO_TOKEN,
        *,
        bot_display_name: str = "Bot Điều Phối",
        bot_account_name: str = "bot.dieuphoi",
        clock: Callable[[], float] = time.time,
        can_join_groups: bool = True,
        mention_only: bool = True,
    ) -> None:
        super().__init__(token, clock)
        bot_id = token.partition(":")[0]
        self.bot = ZaloUser(id=bot_id, display_name=bot_display_name, is_bot=True)
        self.account_name = bot_account_name
        self.can_join_groups = can_join_groups
        self.mention_only = mention_only
        self._pusher: asyncio.Task[None] | None = None
        self._forget()

    def _forget(self) -> None:
        self.users: dict[str, ZaloUser] = {}
        self.chats: dict[str, ZaloChat] = {}
        self.messages: dict[str, list[ZaloMessage]] = {}
        self.updates: deque[JSONDict] = deque()
        self.calls: list[ApiCall] = []
        self.faults: list[Fault] = []
        self.files: dict[str, tuple[bytes, str]] = {}
        self.webhook: Webhook | None = None
        self.pushes: list[JSONDict] = []
        self._counter = 0
        self._last_poll = 0  # seq of the latest getUpdates call

    # ------------------------------------------------------------------ lifecycle
    async def _stop_pushing(self) -> None:
        pusher, self._pusher = self._pusher, None
        if pusher is not None:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher

    # ------------------------------------------------------------------ world
    def _next_id(self, kind: str) -> str:
        """A 20-hex-digit id like Zalo's: unique, and (like Zalo's) in no useful order."""
        self._counter += 1
        return hashlib.sha1(f"{kind}:{self._counter}".encode()).hexdigest()[:20]

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _add_message(self, chat: ZaloChat, sender: ZaloUser, **fields: Any) -> ZaloMessage:
        thread = self.messages.setdefault(chat.id, [])
        message = ZaloMessage(
            chat_id=chat.id,
            message_id=self._next_id("message"),
            index=len(thread) + 1,
            sender_id=sender.id,
            sender_name=sender.display_name,
            from_bot=sender.is_bot,
            date=self._now_ms(),
            **fields,
        )
        thread.append(message)
        return message

    def _find(self, message_id: str) -> ZaloMessage | None:
        for thread in self.messages.values():
            for message in thread:
                if message.message_id == message_id:
                    return message
        return None

    def _message_of(self, update: Any) -> ZaloMessage | None:
        message = update.get("message") if isinstance(update, dict) else None
        return self._find(str(message.get("message_id"))) if isinstance(message, dict) else None

    def _update_of(self, message: ZaloMessage) -> JSONDict:
        chat = self.chats[message.chat_id]
        sender = self.users[message.sender_id]
        body: JSONDict = {
            "from": sender.to_api(),
            "chat": {"id": chat.id, "chat_type": chat.type},
            "message_id": message.message_id,
            "date": message.date,
        }
        event = TEXT_EVENT
        if message.photo_url is not None:
            event = IMAGE_EVENT
            body["photo_url"] = message.photo_url
            if message.caption is not None:
                body["caption"] = message.caption
        elif message.sticker is not None:
            event = STICKER_EVENT
            body["sticker"] = message.sticker
        else:
            body["text"] = message.text or ""
        return {"event_name": event, "message": body}

    def _queue(self, update: JSONDict) -> None:
        self.updates.append(update)
        self._wake()
        if self.webhook is not None:
            self._queue_push()

    def _bot_sees(self, chat: ZaloChat, message: ZaloMessage) -> bool:
        """Groups (beta): only a mention of the bot or a reply to the bot reaches it."""
        if not chat.is_group or not self.mention_only:
            return True
        mention = f"@{self.bot.display_name}".lower()
        said = f"{message.text or ''} {message.caption or ''}".lower()
        if mention in said:
            return True
        replied = self._find(message.reply_to) if message.reply_to else None
        return replied is not None and replied.from_bot

    # ------------------------------------------------------------------ webhook pushes
    async def _push_all(self) -> None:
        """Send queued updates to the webhook, in order, each with the secret header."""
        async with aiohttp.ClientSession() as session:
            while self.webhook is not None and self.updates:
                hook = self.webhook
                update = self.updates[0]
                status: int | None = None
                for attempt in range(PUSH_ATTEMPTS):
                    try:
                        async with session.post(
                            hook.url,
                            json=update,
                            headers={"X-Bot-Api-Secret-Token": hook.secret},
                            timeout=aiohttp.ClientTimeout(total=30),
                        ) as resp:
                            status = resp.status
                    except (aiohttp.ClientError, TimeoutError):
                        status = None
                    if status is not None and status < 300:
                        break
                    await asyncio.sleep(0.05 * (attempt + 1))
                self.pushes.append({"url": hook.url, "update": update, "status": status})
                pushed = self._message_of(update)
                if pushed is not None and status is not None and status < 300:
                    pushed.pushed = True
                if self.updates and self.updates[0] is update:
                    self.updates.popleft()

    # ------------------------------------------------------------------ routing
    def _control_routes(self) -> list[Route]:
        return [
            ("POST", "/redeliver", self._c_redeliver),
            ("GET", "/pushes", self._c_pushes),
            ("POST", "/updates", self._c_add_update),
        ]

    def _file_routes(self) -> list[Route]:
        return [("GET", "/zfiles/{name}", self._handle_file)]

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        found = self.files.get(request.match_info["name"])
        if found is None:
            return refused(ApiError(404, "Not Found"))
        return web.Response(body=found[0], content_type=found[1])

    async def _read_params(self, request: web.Request) -> JSONDict:
        params: JSONDict = dict(request.query)
        if request.body_exists:
            try:
                body = json.loads(await request.text() or "{}")
            except ValueError:
                raise ApiError(400, "Bad Request: invalid JSON") from None
            if isinstance(body, dict):
                params.update(body)
        return params

    def _loggable(self, params: JSONDict) -> JSONDict:
        return params

    def _call_log(self) -> list[ApiCall]:
        return self.calls

    def _chat_key(self, params: JSONDict) -> str | None:
        chat = params.get("chat_id")
        return None if chat is None else str(chat)

    def _on_call(self, call: ApiCall) -> None:
        if call.method == "getUpdates":
            self._last_poll = call.seq

    def _on_result(self, call: ApiCall, result: Any) -> None:
        handed = self._message_of(result) if call.method == "getUpdates" else None
        if handed is not None:
            handed.handed_out = call.seq

    async def _before_call(self, method: str, params: JSONDict) -> ApiError | None:
        """A stall first (a slow network, then the call runs), then an injected refusal."""
        for fault in self.faults:
            if fault.stall is not None and fault.applies(method):
                fault.remaining -= 1
                await self._stall(fault.stall)
                break
        return self._fault_for(method)

    def _fault_for(self, method: str) -> ApiError | None:
        for fault in self.faults:
            if fault.stall is None and fault.applies(method):
                fault.remaining -= 1
                params = {"retry_after": fault.retry_after} if fault.retry_after else None
                return ApiError(fault.status, f"Injected fault {fault.status}", params)
        return None

    # ------------------------------------------------------------------ Bot API
    def _bot_api_methods(self) -> dict[str, Handler]:
        return {
            **super()._bot_api_methods(),
            "sendSticker": self._send_sticker,
        }

    async def _get_me(self, p: JSONDict) -> JSONDict:
        return {
            "id": self.bot.id,
            "account_name": self.account_name,
            "account_type": "BASIC",
            "can_join_groups": self.can_join_groups,
        }

    async def _get_updates(self, p: JSONDict) -> JSONDict:
        if self.webhook is not None:
            raise ApiError(400, "Bad Request: a webhook is set; call deleteWebhook first")
        try:
            wait = float(p.get("timeout", DEFAULT_POLL_SECONDS))
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: timeout must be a number of seconds") from None
        wait = max(0.0, min(wait, MAX_POLL_SECONDS))
        deadline = asyncio.get_running_loop().time() + wait
        while not self.updates:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or self._closing:
                raise ApiError(408, "Request timeout")
            await self._until_woken(remaining)
        return self.updates.popleft()

    async def _set_webhook(self, p: JSONDict) -> JSONDict:
        url = str(p.get("url") or "")
        secret = str(p.get("secret_token") or "")
        parts = urlsplit(url)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if not parts.netloc or not (
            parts.scheme == "https" or (parts.scheme == "http" and loopback)
        ):
            raise ApiError(400, "Bad Request: url must be an HTTPS URL")
        if not 8 <= len(secret) <= 256:
            raise ApiError(400, "Bad Request: secret_token must be 8 to 256 characters")
        self.webhook = Webhook(url, secret, self._now_ms())
        if self.updates:
            self._queue_push()
        return {"url": url, "updated_at": self.webhook.updated_at}

    def _queue_push(self) -> None:
        if self._pusher is None or self._pusher.done():
            self._pusher = asyncio.create_task(self._push_all(), name="zalo-sandbox-push")

    async def _delete_webhook(self, p: JSONDict) -> JSONDict:
        self.webhook = None
        return {"url": "", "updated_at": self._now_ms()}

    async def _get_webhook_info(self, p: JSONDict) -> JSONDict:
        hook = self.webhook
        return {"url": hook.url if hook else "", "updated_at": hook.updated_at if hook else 0}

    def _target(self, p: JSONDict) -> ZaloChat:
        """The chat a send goes to, if the bot may write there."""
        chat = self.chats.get(str(p.get("chat_id") or ""))
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        person = None if chat.is_group else self.users.get(chat.id)
        if person is not None and not person.started:
            raise ApiError(403, NOT_STARTED)
        return chat

    @staticmethod
    def _bounded(value: Any, field_name: str, *, required: bool) -> str | None:
        if value is None or value == "":
            if required:
                raise ApiError(400, f"Bad Request: {field_name} is required")
            return None
        text = str(value)
        if not 1 <= utf16_len(text) <= MAX_TEXT:
            raise ApiError(400, f"Bad Request: {field_name} must be 1 to {MAX_TEXT} characters")
        return text

    def _sent(self, message: ZaloMessage) -> JSONDict:
        return {"message_id": message.message_id, "date": message.date}

    async def _send_message(self, p: JSONDict) -> JSONDict:
        chat = self._target(p)
        text = self._bounded(p.get("text"), "text", required=True)
        return self._sent(self._add_message(chat, self.bot, text=text))

    async def _send_photo(self, p: JSONDict) -> JSONDict:
        chat = self._target(p)
        photo = str(p.get("photo") or "")
        if not photo.startswith(("https://", "http://")):
            raise ApiError(400, "Bad Request: photo must be the image's URL")
        caption = self._bounded(p.get("caption"), "caption", required=False)
        return self._sent(self._add_message(chat, self.bot, photo_url=photo, caption=caption))

    async def _send_sticker(self, p: JSONDict) -> JSONDict:
        chat = self._target(p)
        sticker = str(p.get("sticker") or "")
        if not sticker:
            raise ApiError(400, "Bad Request: sticker is required")
        return self._sent(self._add_message(chat, self.bot, sticker=sticker))

    async def _send_chat_action(self, p: JSONDict) -> bool:
        self._target(p)
        if p.get("action") not in ("typing", "upload_photo"):
            raise ApiError(400, "Bad Request: action must be typing or upload_photo")
        return True

    # ------------------------------------------------------------------ control API
    def _user(self, value: Any) -> ZaloUser:
        missing = f"no user {value!r}; add it with POST /_sandbox/users"
        return known(self.users.get(str(value or "")), missing)

    def _chat(self, value: Any) -> ZaloChat:
        return known(self.chats.get(str(value or "")), f"no chat {value!r}")

    async def _c_bot(self, request: web.Request) -> web.Response:
        hook = self.webhook
        return self._json(
            {
                "id": self.bot.id,
                "display_name": self.bot.display_name,
                "account_name": self.account_name,
                "webhook": {"url": hook.url} if hook else None,
                "can_join_groups": self.can_join_groups,
                "mention_only": self.mention_only,
                "token_revoked": self.token_revoked,
            }
        )

    async def _c_add_user(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user_id = str(body.get("id") or "").strip()
        name = str(body.get("display_name") or "").strip()
        if not user_id or not name:
            raise ControlError(400, "a user needs an id and a display_name")
        if user_id == self.bot.id or (user_id in self.chats and self.chats[user_id].is_group):
            raise ControlError(409, f"id {user_id} is taken")
        started = body.get("started", True)
        if not isinstance(started, bool):
            raise ControlError(400, "started must be true or false")
        existing = self.users.get(user_id)
        user = ZaloUser(user_id, name, started=existing.started if existing else started)
        self.users[user_id] = user
        self.chats[user_id] = ZaloChat(user_id, "PRIVATE", name, {user_id})
        return self._json(user.to_api())

    async def _c_users(self, request: web.Request) -> web.Response:
        return self._json([dict(u.to_api(), started=u.started) for u in self.users.values()])

    async def _c_add_chat(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        chat_id = str(body.get("id") or "").strip() or self._next_id("group")
        if chat_id in self.users:
            raise ControlError(409, f"id {chat_id} is a user's private chat")
        if not self.can_join_groups and chat_id not in self.chats:
            raise ControlError(409, "the bot cannot join groups (can_join_groups is false)")
        members = {self._user(m).id for m in body.get("members") or []}
        chat = self.chats.get(chat_id) or ZaloChat(chat_id, "GROUP", f"Nhóm {chat_id}")
        chat.title = str(body.get("title") or chat.title)
        chat.members |= members
        self.chats[chat_id] = chat
        return self._json(chat.view())

    async def _c_chats(self, request: web.Request) -> web.Response:
        return self._json([c.view() for c in self.chats.values()])

    async def _c_chat(self, request: web.Request) -> web.Response:
        return self._json(self._chat(request.match_info["chat_id"]).view())

    async def _c_add_member(self, request: web.Request) -> web.Response:
        chat = self._chat(request.match_info["chat_id"])
        if not chat.is_group:
            raise ControlError(400, "members can only be added to groups")
        chat.members.add(self._user((await self._body(request)).get("user_id")).id)
        return self._json(chat.view())

    async def _c_messages(self, request: web.Request) -> web.Response:
        chat = self._chat(request.match_info["chat_id"])
        return self._json([m.view(self._last_poll) for m in self.messages.get(chat.id, [])])

    def _photo(self, spec: Any) -> str:
        if not isinstance(spec, dict):
            raise ControlError(400, "photo must be an object: {base64} | {width, height}")
        if spec.get("base64"):
            try:
                data = base64.b64decode(str(spec["base64"]), validate=True)
            except (binascii.Error, ValueError):
                raise ControlError(400, "photo.base64 is not valid base64") from None
        else:
            width, height = int(spec.get("width", 640)), int(spec.get("height", 480))
            if not (0 < width <= 5000 and 0 < height <= 5000):
                raise ControlError(400, "photo width/height must be within 1..5000")
            data = make_png(width, height)
        mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
        name = f"{self._next_id('file')}.{'png' if mime == 'image/png' else 'jpg'}"
        self.files[name] = (data, mime)
        return f"{self.root_url}/zfiles/{name}"

    async def _c_send(self, request: web.Request) -> web.Response:
        """A person sends a message; the bot gets an update if Zalo would give it one."""
        body = await self._body(request)
        user = self._user(body.get("user_id"))
        chat = self._chat(body.get("chat_id") or user.id)
        if chat.is_group and user.id not in chat.members:
            raise ControlError(403, f"{user.display_name} is not in group {chat.id}")
        if not chat.is_group and chat.id != user.id:
            raise ControlError(403, "a person can only write in their own private chat")
        text, caption = body.get("text"), body.get("caption")
        for name, value in (("text", text), ("caption", caption)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ControlError(400, f"{name} must be a non-empty string")
            if isinstance(value, str) and utf16_len(value) > MAX_TEXT:
                raise ControlError(400, f"{name} longer than {MAX_TEXT} characters")
        reply_to = body.get("reply_to_message_id")
        if reply_to is not None and not any(
            m.message_id == str(reply_to) for m in self.messages.get(chat.id, [])
        ):
            raise ControlError(400, f"no message {reply_to} in chat {chat.id} to reply to")
        fields: JSONDict = {"reply_to": None if reply_to is None else str(reply_to)}
        if body.get("photo") is not None:
            fields.update(photo_url=self._photo(body["photo"]), caption=caption or text)
        elif body.get("sticker"):
            fields["sticker"] = str(body["sticker"])
        elif text is not None:
            fields["text"] = text
        else:
            raise ControlError(400, "a message needs text, a photo or a sticker")
        message = self._add_message(chat, user, **fields)
        if not chat.is_group:
            user.started = True  # writing to the bot is what opens the chat for it
        message.delivered = self._bot_sees(chat, message)
        if message.delivered:
            self._queue(self._update_of(message))
        return self._json(
            {"message": message.view(self._last_poll), "delivered": message.delivered}
        )

    async def _c_redeliver(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        message = self._find(str(body.get("message_id") or ""))
        if message is None or message.from_bot:
            raise ControlError(404, f"no message {body.get('message_id')!r} from a person")
        self._queue(self._update_of(message))
        return self._json({"ok": True})

    async def _c_updates(self, request: web.Request) -> web.Response:
        return self._json(list(self.updates))

    async def _c_add_update(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if "update" not in body:
            raise ControlError(400, "give the update to hand out as {update: ...}")
        self._queue(body["update"])
        return self._json({"ok": True})

    async def _c_add_fault(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if body.get("stall") is not None:
            return self._add_stall(body)
        try:
            status = int(body.get("status", 500))
            count = int(body.get("count", 1))
            retry_after = None if body.get("retry_after") is None else int(body["retry_after"])
        except (TypeError, ValueError):
            raise ControlError(400, "status, count and retry_after must be integers") from None
        if not 400 <= status <= 599:
            raise ControlError(400, "status must be an HTTP error status")
        fault = Fault(status, count, method_names(body), retry_after)
        self.faults.append(fault)
        return self._json({"status": status, "count": count})

    def _add_stall(self, body: JSONDict) -> web.Response:
        try:
            seconds = float(body["stall"])
            count = int(body.get("count", 1))
        except (TypeError, ValueError):
            raise ControlError(400, "stall must be seconds and count an integer") from None
        if not 0 < seconds <= 300:
            raise ControlError(400, "stall must be more than 0 and at most 300 seconds")
        self.faults.append(Fault(0, count, method_names(body), None, stall=seconds))
        return self._json({"stall": seconds, "count": count})

    async def _c_clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        self._release_stalls()
        return self._json({"ok": True})

    async def _c_pushes(self, request: web.Request) -> web.Response:
        return self._json(self.pushes)
