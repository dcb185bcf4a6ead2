"""What both sandbox servers share: one base, so the Telegram and Zalo dialects differ only
where the platforms do.

The base owns the server's lifecycle (`async with` starts and stops it), the one gate every
Bot API call passes (logged; then an injected answer, the token, the method and injected
faults checked; then run), the wake-up of long polls, stalled calls, and the plumbing of the
control API (JSON bodies, 4xx answers, the call log). A dialect supplies how its parameters
arrive, its methods, what may refuse a call before it runs, and its own control routes.

Shared control routes (both dialects; bodies in each one's terms, see their docstrings):

``GET  /_sandbox/bot``                 the bot and its settings
``POST /_sandbox/bot``                 change the bot's settings (what getMe answers)
``POST /_sandbox/reset``               forget everything; a revoked token works again
                                       (a replaced one stays replaced)
``POST|GET|DELETE /_sandbox/answers``  inject an answer: {status, description?,
                                       parameters?, body?, content_type?, count? (1),
                                       methods?: [...], chat_id?}. The next ``count``
                                       matching calls get it instead of running: with
                                       ``body``, that body as it is (e.g. a reverse
                                       proxy's HTML 502 page; ``content_type`` default
                                       ``text/html``), else the platform's JSON error
                                       ``{ok: false, error_code: status, description,
                                       parameters?}`` (description default: the HTTP
                                       reason phrase). It is answered before the token is
                                       looked at, as a proxy in front of the platform
                                       would. GET lists those not used up.
``POST|DELETE /_sandbox/token/revoke`` revoke the bot's token / make it work again:
                                       while revoked every Bot API call answers 401
                                       ``Unauthorized``
``POST /_sandbox/token``               {token}: the bot's token is now this one (as
                                       @BotFather's "revoke" gives a new one: same bot id,
                                       new secret); the old one answers 401

A token that is not ``<digits>:<secret>`` (letters, digits, ``_``, ``-``) answers 404
``Not Found``, a well-formed but wrong or revoked one 401 ``Unauthorized``: what
api.telegram.org does (python-telegram-bot's request code says so where it maps both to
InvalidToken). A call that is stalled (see the dialects' faults) is carried out when its
stall ends, even when the caller has given up waiting by then: the platform did the work,
the caller only saw a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from aiohttp import web

JSONDict = dict[str, Any]
P = TypeVar("P")
T = TypeVar("T")
ControlHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: A control route: HTTP method, path below ``/_sandbox``, handler.
Route = tuple[str, str, ControlHandler]


#: What a bot token looks like: the bot's numeric id, a colon, the secret.
TOKEN_SHAPE = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")
UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "Not Found"


def utf16_len(text: str) -> int:
    """Both platforms count text (and Telegram its entity offsets) in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class ApiError(Exception):
    """A refused Bot API call, answered as the platforms do (HTTP status == error_code)."""

    def __init__(self, code: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        data: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            data["parameters"] = self.parameters
        return data


class ControlError(Exception):
    """A refused control API request (a test set up wrong), answered 4xx with a clear text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ApiCall:
    """One Bot API request as the bot made it (recorded when it arrives, completed after)."""

    seq: int
    method: str
    params: JSONDict
    time: float
    ok: bool | None = None
    error_code: int | None = None
    description: str | None = None
    duration: float | None = None

    def finish(self, duration: float, error: ApiError | None = None) -> None:
        self.ok, self.duration = error is None, duration
        if error is not None:
            self.error_code, self.description = error.code, error.description

    def view(self) -> JSONDict:
        return dataclasses.asdict(self)


@dataclass
class Answer:
    """An injected answer: what the next matching calls get instead of running."""

    status: int
    remaining: int
    methods: frozenset[str] | None = None
    chat_id: str | None = None
    description: str | None = None
    parameters: JSONDict | None = None
    #: A body answered as it is (not the platform's JSON), e.g. a proxy's HTML page.
    body: str | None = None
    content_type: str = "text/html"

    def applies(self, method: str, chat_id: str | None) -> bool:
        return (
            self.remaining > 0
            and (self.methods is None or method.lower() in self.methods)
            and (self.chat_id is None or self.chat_id == chat_id)
        )

    def as_error(self) -> ApiError:
        """The answer as the call log records it."""
        if self.body is not None:
            return ApiError(self.status, f"({self.content_type} body, not JSON)")
        return ApiError(self.status, self._description(), self.parameters)

    def _description(self) -> str:
        if self.description is not None:
            return self.description
        with contextlib.suppress(ValueError):
            return HTTPStatus(self.status).phrase
        return "Error"

    def response(self) -> web.Response:
        if self.body is not None:
            return web.Response(status=self.status, text=self.body, content_type=self.content_type)
        return refused(self.as_error())

    def view(self) -> JSONDict:
        return {
            "status": self.status,
            "remaining": self.remaining,
            "methods": sorted(self.methods) if self.methods is not None else None,
            "chat_id": self.chat_id,
            "description": None if self.body is not None else self._description(),
            "parameters": self.parameters,
            "body": self.body,
            "content_type": self.content_type if self.body is not None else "application/json",
        }


def json_response(data: Any, status: int = 200) -> web.Response:
    """JSON as the platforms send it: UTF-8 text, not ``\\u`` escapes."""
    return web.json_response(data, status=status, dumps=partial(json.dumps, ensure_ascii=False))


def refused(error: ApiError) -> web.Response:
    return json_response(error.body(), status=error.code)


async def json_body(request: web.Request) -> JSONDict:
    """A control request's JSON object body."""
    try:
        body = await request.json()
    except ValueError:
        raise ControlError(400, "body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ControlError(400, "body must be a JSON object")
    return body


def integer(value: Any, what: str) -> int:
    """A control field that must be a whole number."""
    if isinstance(value, bool):
        raise ControlError(400, f"{what} must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ControlError(400, f"{what} must be an integer, got {value!r}") from None


def known(found: T | None, missing: str) -> T:
    """What a control request names, or a 404 that says what is missing."""
    if found is None:
        raise ControlError(404, missing)
    return found


def method_names(body: JSONDict) -> frozenset[str] | None:
    """The Bot API methods a fault applies to, lower-cased (None: every method)."""
    methods = body.get("methods")
    if methods is None:
        return None
    if not isinstance(methods, list):
        raise ControlError(400, "methods must be a list of Bot API method names")
    return frozenset(str(m).lower() for m in methods)


def answer_of(body: JSONDict) -> Answer:
    """An injected answer from its control request, checked."""
    status = integer(body.get("status"), "status")
    if not 100 <= status <= 599:
        raise ControlError(400, "status must be an HTTP status (100-599)")
    count = integer(body.get("count", 1), "count")
    if count < 1:
        raise ControlError(400, "count must be at least 1")
    raw, description, parameters = body.get("body"), body.get("description"), body.get("parameters")
    if raw is not None and not isinstance(raw, str):
        raise ControlError(400, "body must be a string (answered as it is)")
    if raw is not None and (description is not None or parameters is not None):
        raise ControlError(400, "give either body, or description and parameters, not both")
    if raw is None and status < 400:
        raise ControlError(400, "a JSON error answer needs an error status (>= 400); give body")
    if description is not None and not isinstance(description, str):
        raise ControlError(400, "description must be a string")
    if parameters is not None and not isinstance(parameters, dict):
        raise ControlError(400, "parameters must be a JSON object")
    content_type = body.get("content_type", "text/html")
    if not isinstance(content_type, str) or "/" not in content_type:
        raise ControlError(400, "content_type must be a MIME type such as text/html")
    chat_id = body.get("chat_id")
    return Answer(
        status=status,
        remaining=count,
        methods=method_names(body),
        chat_id=None if chat_id is None else str(chat_id),
        description=description,
        parameters=parameters,
        body=raw,
        content_type=content_type,
    )


def well_formed_token(token: Any) -> str:
    """A token a sandbox may be given: ``<digits>:<secret>``, as the platforms issue them."""
    if not isinstance(token, str) or not TOKEN_SHAPE.fullmatch(token):
        raise ValueError("token must look like '<digits>:<secret>' (letters, digits, _ and -)")
    return token


class Scoped:
    """`async with x:` opens x and closes it at the end, whatever happened."""

    async def _open(self) -> None:
        """Nothing to do by default."""

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class Served(Scoped, ABC, Generic[P]):
    """A sandbox server; `P` is how one Bot API call's parameters reach its methods."""

    #: The largest request body the server takes (uploads included).
    max_request = 20 * 1024 * 1024
    #: The bot's true/false settings the control API may change (``POST /_sandbox/bot``).
    settings: tuple[str, ...] = ()
    _json = staticmethod(json_response)
    _body = staticmethod(json_body)
    _int = staticmethod(integer)

    def __init__(self, token: str, clock: Callable[[], float]) -> None:
        self.token = well_formed_token(token)
        #: While revoked, every Bot API call answers 401 (the control API's token routes).
        self.token_revoked = False
        self.clock = clock
        self.answers: list[Answer] = []
        #: Calls being carried out (kept until done, whoever still waits for them).
        self._carrying_out: set[asyncio.Task[web.Response]] = set()
        self._runner: web.AppRunner | None = None
        self._root_url: str | None = None
        self._closing = False
        self._woken = asyncio.Event()
        self._stall_release = asyncio.Event()
        self._methods: dict[str, tuple[str, Callable[[P], Awaitable[Any]]]] = {
            name.lower(): (name, handler) for name, handler in self._bot_api_methods().items()
        }

    def _bot_api_methods(self) -> dict[str, Callable[[P], Awaitable[Any]]]:
        """Method name (as the platform spells it) → its implementation: the methods both
        platforms have; a dialect adds its own."""
        return {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendChatAction": self._send_chat_action,
        }

    # ------------------------------------------------------------------ the dialect's part
    @abstractmethod
    async def _read_params(self, request: web.Request) -> P:
        """One call's parameters; an ApiError refuses it before it is logged."""

    @abstractmethod
    def _loggable(self, params: P) -> JSONDict:
        """The parameters as the call log shows them."""

    @abstractmethod
    def _call_log(self) -> list[ApiCall]: ...

    @abstractmethod
    def _chat_key(self, params: P) -> str | None:
        """The chat a call is about (its ``chat_id`` as a string), for injected answers."""

    @abstractmethod
    def _forget(self) -> None:
        """Forget every person, chat, message, call and fault (the control API's reset)."""

    def _control_routes(self) -> list[Route]:
        """The dialect's control routes, besides the shared ones (see `_add_routes`)."""
        return []

    # The Bot API methods both platforms have, each in its own terms.
    @abstractmethod
    async def _get_me(self, p: P) -> Any: ...
    @abstractmethod
    async def _get_updates(self, p: P) -> Any: ...
    @abstractmethod
    async def _set_webhook(self, p: P) -> Any: ...
    @abstractmethod
    async def _delete_webhook(self, p: P) -> Any: ...
    @abstractmethod
    async def _get_webhook_info(self, p: P) -> Any: ...
    @abstractmethod
    async def _send_message(self, p: P) -> Any: ...
    @abstractmethod
    async def _send_photo(self, p: P) -> Any: ...
    @abstractmethod
    async def _send_chat_action(self, p: P) -> Any: ...

    # The shared control routes, answered in the dialect's terms.
    @abstractmethod
    async def _c_bot(self, request: web.Request) -> web.Response: ...
    @abstractmethod
    async def _c_add_user(self, request: web.Request) -> web.Response: ...
    @abstractmethod
    async def _c_users(self, request: web.Request) -> web.Response: ...
    @abstractmethod
    async def _c_add_chat(self, request: web.Request) -> web.Response: ...
    @abstractmethod
    async def _c_chats(self, request: web.Request) -> web.Response: ...
    @abstractmethod
    async def _c_chat(self, request: web.Request) -> web.Response: ...
    @abstractmethod
    async def _c_add_member(self, request: web.Request) -> web.Response: ...
    @abstractmethod
    async def _c_messages(self, request: web.Request) -> web.Response: ...
    @abstractmethod
    async def _c_send(self, request: web.Request) -> web.Response: ...
    @abstractmethod
    async def _c_updates(self, request: web.Request) -> web.Response: ...
    @abstractmethod
    async def _c_add_fault(self, request: web.Request) -> web.Response: ...
    @abstractmethod
    async def _c_clear_faults(self, request: web.Request) -> web.Response: ...

    def _file_routes(self) -> list[tuple[str, str, ControlHandler]]:
        """Where the platform serves files (outside the control API)."""
        return []

    async def _before_call(self, method: str, params: P) -> ApiError | None:
        """Injected faults (and any limits): the error to answer instead, or None to run."""
        return None

    def _on_call(self, call: ApiCall) -> None:
        """A call has arrived and is logged."""

    def _on_result(self, call: ApiCall, result: Any) -> None:
        """A call has run and its result is about to be answered."""

    async def _stop_pushing(self) -> None:
        """Stop delivering updates to a webhook (the server is stopping)."""

    # ------------------------------------------------------------------ lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: any free port) and return the root URL."""
        if self._runner is not None:
            raise RuntimeError("sandbox already started")
        app = web.Application(client_max_size=self.max_request)
        self._add_routes(app)
        runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        self._closing = False
        shown_host = f"[{host}]" if ":" in host else host
        self._root_url = f"http://{shown_host}:{runner.addresses[0][1]}"
        return self._root_url

    async def stop(self) -> None:
        """Release long polls and stalled calls, stop pushing, then close the server."""
        if self._runner is None:
            return
        self._closing = True
        self._wake()
        self._release_stalls()
        await self._stop_pushing()
        if self._carrying_out:
            await asyncio.wait(self._carrying_out, timeout=5.0)
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def _open(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.stop()

    @property
    def root_url(self) -> str:
        """Where the bot's `*_API_URL` points, e.g. http://127.0.0.1:41234."""
        if self._root_url is None:
            raise RuntimeError("sandbox not started")
        return self._root_url

    # ------------------------------------------------------------------ waiting
    def _wake(self) -> None:
        """Wake whatever waits for news: long polls, the webhook pusher, shutdown."""
        self._woken.set()
        self._woken = asyncio.Event()

    async def _until_woken(self, seconds: float) -> None:
        await _at_most(self._woken, seconds)

    def _release_stalls(self) -> None:
        self._stall_release.set()
        self._stall_release = asyncio.Event()

    async def _stall(self, seconds: float) -> None:
        """A slow network: hang the call that long (or until faults are cleared)."""
        await _at_most(self._stall_release, seconds)

    # ------------------------------------------------------------------ routing
    def _add_routes(self, app: web.Application) -> None:
        #: The control API both dialects answer (bodies in each one's terms).
        shared: list[Route] = [
            ("GET", "/bot", self._c_bot),
            ("POST", "/bot", self._c_set_bot),
            ("POST", "/reset", self._c_reset),
            ("POST", "/users", self._c_add_user),
            ("GET", "/users", self._c_users),
            ("POST", "/chats", self._c_add_chat),
            ("GET", "/chats", self._c_chats),
            ("GET", "/chats/{chat_id}", self._c_chat),
            ("POST", "/chats/{chat_id}/members", self._c_add_member),
            ("GET", "/chats/{chat_id}/messages", self._c_messages),
            ("POST", "/messages", self._c_send),
            ("GET", "/updates", self._c_updates),
            ("GET", "/calls", self._c_calls),
            ("DELETE", "/calls", self._c_clear_calls),
            ("POST", "/faults", self._c_add_fault),
            ("DELETE", "/faults", self._c_clear_faults),
            ("POST", "/answers", self._c_add_answer),
            ("GET", "/answers", self._c_answers),
            ("DELETE", "/answers", self._c_clear_answers),
            ("POST", "/token/revoke", self._c_revoke_token),
            ("DELETE", "/token/revoke", self._c_restore_token),
            ("POST", "/token", self._c_replace_token),
        ]
        for method, path, handler in shared + self._control_routes():
            app.router.add_route(method, f"/_sandbox{path}", self._control(handler))
        app.router.add_route("*", "/bot{token}/{method}", self._handle_bot_api)
        for method, path, handler in self._file_routes():
            app.router.add_route(method, path, handler)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        return refused(ApiError(404, NOT_FOUND))

    def _token_refusal(self, given: str) -> ApiError | None:
        """How the platform refuses a token: 404 when malformed, 401 when wrong or revoked."""
        if not TOKEN_SHAPE.fullmatch(given):
            return ApiError(404, NOT_FOUND)
        if given != self.token or self.token_revoked:
            return ApiError(401, UNAUTHORIZED)
        return None

    def _injected(self, method: str, params: P) -> Answer | None:
        """The injected answer this call gets, if any (and one use of it is spent)."""
        chat = self._chat_key(params)
        self.answers = [a for a in self.answers if a.remaining > 0]
        for answer in self.answers:
            if answer.applies(method, chat):
                answer.remaining -= 1
                return answer
        return None

    async def _handle_bot_api(self, request: web.Request) -> web.Response:
        """One Bot API request: read, log, answer an injected answer, check token and
        method, then carry it out (gate, run, answer) in a task of its own."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        name = request.match_info["method"]
        try:
            params = await self._read_params(request)
        except ApiError as exc:
            return refused(exc)
        found = self._methods.get(name.lower())
        log = self._call_log()
        call = ApiCall(
            seq=len(log) + 1,
            method=found[0] if found else name,
            params=self._loggable(params),
            time=self.clock(),
        )
        log.append(call)
        self._on_call(call)
        answer = self._injected(call.method, params)
        if answer is not None:
            call.finish(loop.time() - started, answer.as_error())
            return answer.response()
        refusal = self._token_refusal(request.match_info["token"])
        if refusal is not None or found is None:
            error = refusal or ApiError(404, NOT_FOUND)  # the token first, then the method
            call.finish(loop.time() - started, error)
            return refused(error)
        # Shielded: a call whose caller gave up (a stall outlasting its timeout) is still
        # carried out, as the platform would.
        task = asyncio.ensure_future(self._carry_out(call, found, params, started))
        self._carrying_out.add(task)
        task.add_done_callback(self._carrying_out.discard)
        return await asyncio.shield(task)

    async def _carry_out(
        self,
        call: ApiCall,
        found: tuple[str, Callable[[P], Awaitable[Any]]],
        params: P,
        started: float,
    ) -> web.Response:
        loop = asyncio.get_running_loop()
        try:
            refusal = await self._before_call(found[0], params)
            if refusal is not None:
                raise refusal
            result = await found[1](params)
        except ApiError as exc:
            call.finish(loop.time() - started, exc)
            return refused(exc)
        call.finish(loop.time() - started)
        self._on_result(call, result)
        return json_response({"ok": True, "result": result})

    # ------------------------------------------------------------------ control API
    @staticmethod
    def _control(handler: ControlHandler) -> ControlHandler:
        """A control handler whose ControlError becomes a JSON 4xx answer."""

        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except ControlError as exc:
                return json_response({"ok": False, "error": exc.message}, status=exc.status)

        return wrapped

    async def _c_reset(self, request: web.Request) -> web.Response:
        self._forget()
        self.answers.clear()
        self.token_revoked = False
        self._release_stalls()
        return json_response({"ok": True})

    async def _c_set_bot(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        unknown = sorted(set(body) - set(self.settings))
        if unknown:
            raise ControlError(400, f"unknown settings {unknown}; known: {list(self.settings)}")
        for name, value in body.items():
            if not isinstance(value, bool):
                raise ControlError(400, f"{name} must be true or false")
            setattr(self, name, value)
        return await self._c_bot(request)

    async def _c_add_answer(self, request: web.Request) -> web.Response:
        answer = answer_of(await json_body(request))
        self.answers.append(answer)
        return json_response(answer.view())

    async def _c_answers(self, request: web.Request) -> web.Response:
        return json_response([a.view() for a in self.answers if a.remaining > 0])

    async def _c_clear_answers(self, request: web.Request) -> web.Response:
        self.answers.clear()
        return json_response({"ok": True})

    async def _c_revoke_token(self, request: web.Request) -> web.Response:
        self.token_revoked = True
        return json_response({"ok": True, "token_revoked": True})

    async def _c_restore_token(self, request: web.Request) -> web.Response:
        self.token_revoked = False
        return json_response({"ok": True, "token_revoked": False})

    async def _c_replace_token(self, request: web.Request) -> web.Response:
        """A new token for the same bot (the old one stops working), as @BotFather gives."""
        body = await json_body(request)
        try:
            token = well_formed_token(body.get("token"))
        except ValueError as exc:
            raise ControlError(400, str(exc)) from None
        if token.partition(":")[0] != self.token.partition(":")[0]:
            raise ControlError(400, "a new token keeps the bot's id (the part before ':')")
        self.token, self.token_revoked = token, False
        return json_response({"ok": True, "token_revoked": False})

    async def _c_calls(self, request: web.Request) -> web.Response:
        """The call log (``?method=``, ``?since=seq``); getUpdates only when asked for."""
        method = (request.query.get("method") or "").lower()
        include_polling = request.query.get("include_polling") in ("1", "true") or (
            method == "getupdates"
        )
        since = integer(request.query.get("since", 0), "since")
        return json_response(
            [
                c.view()
                for c in self._call_log()
                if c.seq > since
                and (not method or c.method.lower() == method)
                and (include_polling or c.method != "getUpdates")
            ]
        )

    async def _c_clear_calls(self, request: web.Request) -> web.Response:
        self._call_log().clear()
        return json_response({"ok": True})


async def _at_most(event: asyncio.Event, seconds: float) -> None:
    """Wait for `event`, `seconds` at the most. Not `asyncio.wait_for`: on Python 3.11 it
    loses a cancellation that arrives as the event is set, and a push loop so cancelled
    ran on, hanging whoever awaited its end (a test's DELETE /_sandbox/webhook)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
