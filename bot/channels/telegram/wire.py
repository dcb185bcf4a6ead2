"""The Bot API on the wire: PTB's requests made with aiohttp, and what Telegram answered
kept whole: the HTTP status PTB would drop, and its error → `Refusal`.

PTB turns every answer it does not know (a proxy's HTML 413 page, a JSON 413) into a
`NetworkError`, which reads as "try again"; such an answer can never succeed. The
request class here (`AiohttpRequest`, cheaper per call than PTB's httpx one) hands those
on with their status (`kept`), and `refusal_of` reads every PTB error as the neutral
`Refusal` that `bot.channels.refusals` judges.
"""

from __future__ import annotations

import datetime as dtm
import json
import os
import ssl
import warnings
from typing import Any, Final
from urllib.parse import urlencode
from urllib.request import getproxies, proxy_bypass

import aiohttp
import certifi
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, RequestData
from yarl import URL

from bot.channels.refusals import Refusal

#: Statuses whose JSON answers PTB maps to an error class of its own (kept as they are).
PTB_KNOWN: Final = frozenset({400, 401, 403, 404, 409, 429})
#: A proxy to go through and its credentials, or none.
Proxy = tuple[URL | None, aiohttp.BasicAuth | None]
#: How much of a body that is not JSON shows in the error (a proxy's page).
PAGE_SNIPPET: Final = 80


class HttpAnswer(TelegramError):
    """A non-2xx answer PTB cannot read or would call a network error, with its status."""

    def __init__(self, status: int, description: str, *, is_json: bool) -> None:
        super().__init__(description)
        self.status = status
        self.is_json = is_json


def kept(code: int, payload: bytes) -> tuple[int, bytes]:
    """An answer as PTB may read it, or `HttpAnswer` where PTB would lose its status.

    2xx/3xx and the JSON errors PTB knows (and JSON 5xx, "try again") pass as they are; a
    body that is not Telegram's JSON, or JSON with a 4xx PTB has no class for, is raised.
    """
    if code < 400:
        return code, payload
    try:
        data = json.loads(payload.decode("utf-8", "replace"))
    except ValueError:
        data = None
    if not isinstance(data, dict):
        page = " ".join(payload.decode("utf-8", "replace").split())[:PAGE_SNIPPET]
        raise HttpAnswer(code, f"HTTP {code}, not Telegram's answer: {page}", is_json=False)
    if code not in PTB_KNOWN and code < 500:
        raise HttpAnswer(code, str(data.get("description") or f"HTTP {code}"), is_json=True)
    return code, payload


def _tls() -> ssl.SSLContext:
    """The certificates httpx (PTB's default) trusted: certifi's bundle, unless the
    environment names its own (SSL_CERT_FILE / SSL_CERT_DIR, which OpenSSL reads)."""
    if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


class AiohttpRequest(BaseRequest):
    """PTB's requests over one aiohttp session, each answer through `kept`.

    PTB's own `HTTPXRequest` costs 2–4 ms of the event loop's time per call (httpx,
    httpcore, anyio, h11); aiohttp, which the bot serves HTTP with anyway, about a
    quarter of that (docs/performance.md). PTB's timeouts keep their meaning as far as
    aiohttp can:

    - connect: establishing a connection (``sock_connect``); with pool, the wait for a
      free one of the `connection_pool_size` connections as well (aiohttp's ``connect``);
    - read: the longest silence of the server once the request is sent (``sock_read``),
      so a getUpdates long poll passes its wait in `read_timeout`;
    - write: aiohttp has none per write, so the whole call is bounded by the sum of the
      four (``total``), uploads with `media_write_timeout` as their write part.

    HTTP(S)_PROXY / NO_PROXY from the environment are followed, as httpx did (looked up
    once per origin, see `_proxy`).
    The session is made by `initialize` (PTB calls it) or by the first call of a bot
    that was never initialised (`TelegramApi.reader`); after `shutdown` it is gone.
    """

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._shut = False
        self._proxies: dict[str, Proxy] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    def _open(self) -> aiohttp.ClientSession:
        self._shut = False
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._pool_size, ssl=_tls()),
            headers={"User-Agent": self.USER_AGENT},
            cookie_jar=aiohttp.DummyCookieJar(),  # the Bot API sets none
        )
        self._proxies.clear()
        return self._session

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._open()

    async def shutdown(self) -> None:
        session, self._session, self._shut = self._session, None, True
        if session is not None and not session.closed:
            await session.close()

    def _timeout(
        self, read: object, write: object, connect: object, pool: object, *, upload: bool
    ) -> aiohttp.ClientTimeout:
        """PTB's four timeouts (each defaulted to this request's own) as aiohttp's."""
        read_s = _given(read, self._read_timeout)
        connect_s = _given(connect, self._connect_timeout)
        pool_s = _given(pool, self._pool_timeout)
        write_s = _given(write, self._media_write_timeout if upload else self._write_timeout)
        parts = (read_s, write_s, connect_s, pool_s)
        return aiohttp.ClientTimeout(
            total=None if None in parts else sum(p for p in parts if p is not None),
            connect=None if connect_s is None or pool_s is None else connect_s + pool_s,
            sock_connect=connect_s,
            sock_read=read_s,
        )

    def _proxy(self, url: str) -> Proxy:
        """The environment's proxy for the URL's origin, looked up once per origin.

        Not aiohttp's own ``trust_env``: it looks in a thread at every request (the
        proxy, then ~/.netrc), two thread hops per call, a good part of what a call costs.
        """
        origin = _origin(url)
        found = self._proxies.get(origin)
        if found is None:
            found = self._proxies[origin] = _env_proxy(origin)
        return found

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            if self._shut:
                raise RuntimeError("This AiohttpRequest is shut down")
            session = self._open()
        upload = request_data is not None and request_data.contains_files
        body, headers = _body(request_data)
        timeout = self._timeout(
            read_timeout, write_timeout, connect_timeout, pool_timeout, upload=upload
        )
        proxy, proxy_auth = self._proxy(url)
        try:
            async with session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as response:
                return kept(response.status, await response.read())
        except TimeoutError as exc:  # aiohttp's own timeouts subclass it
            raise TimedOut(f"Timed out ({_said(exc, url)})") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{_said(exc, url)}") from exc


def _origin(url: str) -> str:
    """``scheme://host:port`` of a URL: what a proxy is chosen by, and safe to show."""
    path = url.find("/", url.find("//") + 2)
    return url if path < 0 else url[:path]


def _said(exc: BaseException, url: str) -> str:
    """aiohttp's words for a failure, the URL cut to its origin: its path has the token."""
    return f"{type(exc).__name__}: {exc}".replace(url, f"{_origin(url)}/…")


def _env_proxy(origin: str) -> Proxy:
    """HTTP(S)_PROXY for the origin unless NO_PROXY exempts it, as httpx and curl read
    them (the standard library's reading of the environment); credentials in the
    proxy's URL become its login."""
    url = URL(origin)
    found = getproxies().get(url.scheme or "")
    if not found or proxy_bypass(url.host or ""):
        return None, None
    proxy = URL(found)
    if proxy.user is None:
        return proxy, None
    return proxy.with_user(None), aiohttp.BasicAuth(proxy.user, proxy.password or "")


_FORM: Final = {"Content-Type": "application/x-www-form-urlencoded"}


def _given(value: object, default: float | None) -> float | None:
    """A timeout PTB passed (seconds or None), or this request's own when it passed none."""
    if value is BaseRequest.DEFAULT_NONE:
        return default
    assert value is None or isinstance(value, int | float), value
    return value


def _body(request_data: RequestData | None) -> tuple[Any, dict[str, str] | None]:
    """The parameters as httpx sent them: a urlencoded form, or multipart with the files.

    Field values are PTB's JSON-encoded strings; names and file names go out as UTF-8,
    unquoted (``quote_fields=False``), which is what Telegram reads.
    """
    if request_data is None:
        return None, None
    fields = request_data.json_parameters
    if not request_data.contains_files:
        return urlencode(fields).encode("ascii"), _FORM
    form = aiohttp.FormData(quote_fields=False)
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form, None


def retry_after_seconds(exc: RetryAfter) -> float:
    """PTB ≥ 22.2 may hand out an int or a timedelta (and warns about the int); take both."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: int | float | dtm.timedelta = exc.retry_after
    if isinstance(value, dtm.timedelta):
        return value.total_seconds()
    return float(value)


def refusal_of(exc: TelegramError) -> Refusal:
    """PTB's error as the neutral refusal: status from its class, texts as Telegram gave."""
    text = exc.message
    if isinstance(exc, HttpAnswer):
        return Refusal(exc.status, text, json=exc.is_json)
    if isinstance(exc, RetryAfter):
        return Refusal(429, text, {"retry_after": retry_after_seconds(exc)})
    if isinstance(exc, ChatMigrated):
        return Refusal(400, text, {"migrate_to_chat_id": exc.new_chat_id})
    if isinstance(exc, InvalidToken):  # PTB's name for both 401 and 404
        return Refusal(404 if "not found" in text.lower() else 401, text)
    statuses: tuple[tuple[type[TelegramError], int], ...] = (
        (BadRequest, 400),  # before NetworkError: BadRequest subclasses it
        (Forbidden, 403),
        (EndPointNotFound, 404),
        (Conflict, 409),
    )
    for kind, status in statuses:
        if isinstance(exc, kind):
            return Refusal(status, text)
    return Refusal(None, text)  # TimedOut, NetworkError (5xx, connection refused)
