"""Talking to the Zalo Bot API over plain aiohttp: calls, files, and what a refusal means.

Every refusal is judged by its code, never its text, and becomes a `DeliveryError` saying
what to do about it; no error ever shows the token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import aiohttp

from bot.channels.adapter import PartKind, redact
from bot.channels.base import (
    DeliveryError,
    PermanentFailure,
    RetryLater,
    TransientFailure,
)
from bot.channels.reach import unreachable
from bot.channels.zalo.render import ZaloPart
from bot.domain.digits import whole_number

#: What Zalo answers a long poll that ended without a message: not an error.
IDLE_STATUS: Final = 408
DEFAULT_RETRY_AFTER: Final = 5.0


class ZaloApiError(Exception):
    """A Bot API answer with `ok: false` (or a non-2xx status), as Zalo gave it."""

    def __init__(
        self,
        status: int,
        error_code: int | None,
        description: str,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status}/{error_code}: {description}")
        self.status = status
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    @property
    def code(self) -> int:
        """Zalo's `error_code` when it gave one, else the HTTP status."""
        return self.error_code if self.error_code is not None else self.status

    @property
    def is_idle_poll(self) -> bool:
        return IDLE_STATUS in (self.status, self.error_code)


def translate_error(exc: ZaloApiError) -> DeliveryError:
    """What the relay should do about a refused call, judged by its code, never its text."""
    code = exc.code
    if code == 429:
        return RetryLater(exc.retry_after or DEFAULT_RETRY_AFTER, exc.description)
    if code >= 500 or code == IDLE_STATUS:
        return TransientFailure(exc.description)
    if code == 403:  # a person who never wrote to the bot is kept waiting (bot.held)
        return unreachable(exc.description) or PermanentFailure(exc.description)
    if 400 <= code < 500:
        return PermanentFailure(exc.description)  # bad request, bad token, unknown chat
    return TransientFailure(exc.description)


class ZaloApi:
    """A thin client of the Bot API; every error names the method, never the token."""

    def __init__(self, token: str, api_url: str, *, timeout: float = 20.0) -> None:
        self._token = token
        self._root = api_url.rstrip("/")
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def open(self) -> None:
        """Keep one connection pool while the channel runs."""
        if self._session is None:
            self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def request(self, method: str, payload: Mapping[str, Any] | None = None) -> Any:
        """`call`, with a refusal as the `DeliveryError` that says what to do about it."""
        try:
            return await self.call(method, payload)
        except ZaloApiError as exc:
            raise translate_error(exc) from None

    async def send(self, chat_id: str, part: ZaloPart) -> str | None:
        """Send one planned part; the id of the message Zalo made, when it gives one."""
        if part.kind is PartKind.PHOTO:
            payload: dict[str, Any] = {"chat_id": chat_id, "photo": part.photo_url}
            if part.text:
                payload["caption"] = part.text
            result = await self.request("sendPhoto", payload)
        else:
            result = await self.request("sendMessage", {"chat_id": chat_id, "text": part.text})
        if isinstance(result, Mapping) and result.get("message_id") is not None:
            return str(result["message_id"])
        return None

    async def call(
        self, method: str, payload: Mapping[str, Any] | None = None, *, seconds: float | None = None
    ) -> Any:
        """POST JSON and return `result`; raises ZaloApiError or TransientFailure."""
        if self._session is not None:
            return await self._call(self._session, method, payload, seconds)
        # Outside start/stop (the CLI, the relay's last flush): a short-lived pool.
        async with aiohttp.ClientSession() as session:
            return await self._call(session, method, payload, seconds)

    async def _call(
        self,
        session: aiohttp.ClientSession,
        method: str,
        payload: Mapping[str, Any] | None,
        seconds: float | None,
    ) -> Any:
        url = f"{self._root}/bot{self._token}/{method}"
        limit = aiohttp.ClientTimeout(total=seconds if seconds is not None else self.timeout)
        try:
            async with session.post(url, json=dict(payload or {}), timeout=limit) as resp:
                status = resp.status
                retry_header = resp.headers.get("Retry-After")
                try:
                    data = await resp.json(content_type=None)
                except (ValueError, RecursionError):  # not JSON, or nested past reading
                    data = None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientFailure(self.redact(f"{method}: {exc!r}")) from None
        if isinstance(data, dict) and data.get("ok") is True and status < 400:
            return data.get("result")
        code: int | None = None
        description = f"HTTP {status}"
        retry_after: float | None = None
        if isinstance(data, dict):
            raw_code = data.get("error_code")
            code = whole_number(str(raw_code)) if isinstance(raw_code, int | str) else None
            description = str(data.get("description") or description)
            params = data.get("parameters")
            if isinstance(params, dict) and isinstance(params.get("retry_after"), int | float):
                retry_after = float(params["retry_after"])
        header_seconds = whole_number(retry_header) if retry_header else None
        if retry_after is None and header_seconds is not None:
            retry_after = float(header_seconds)
        if status < 400 and code is None:
            code = 400  # `ok: false` on a 200: Zalo refused it
        raise ZaloApiError(status, code, self.redact(f"{method}: {description}"), retry_after)

    async def get_me(self) -> dict[str, Any]:
        """getMe: the bot's id, name and `can_join_groups`, as Zalo answers them."""
        return _object(await self.request("getMe"))

    async def get_webhook_info(self) -> dict[str, Any]:
        """getWebhookInfo: the registered URL (`""` when none) and when it was set."""
        return _object(await self.request("getWebhookInfo"))

    async def fetch(self, url: str, max_bytes: int) -> bytes:
        """GET a file a person sent (Zalo hands out plain URLs), refusing oversize ones."""
        if not url.startswith(("https://", "http://")):
            raise PermanentFailure("not a file URL")
        limit = aiohttp.ClientTimeout(total=self.timeout * 3)
        try:
            async with aiohttp.ClientSession() as session, session.get(url, timeout=limit) as resp:
                if resp.status >= 400:
                    error = PermanentFailure if resp.status < 500 else TransientFailure
                    raise error(f"file download answered {resp.status}")
                if resp.content_length is not None and resp.content_length > max_bytes:
                    raise PermanentFailure(
                        f"file is {resp.content_length} bytes, over the {max_bytes} limit"
                    )
                data = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    data.extend(chunk)
                    if len(data) > max_bytes:
                        raise PermanentFailure(f"file is over the {max_bytes} limit")
                return bytes(data)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientFailure(f"file download failed: {exc!r}") from None

    def redact(self, text: str) -> str:
        return redact(text, self._token)


def _object(result: Any) -> dict[str, Any]:
    """A `result` that should be a JSON object; anything else reads as an empty one."""
    return dict(result) if isinstance(result, Mapping) else {}
