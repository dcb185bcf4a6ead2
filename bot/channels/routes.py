"""The HTTP routes a channel offers, described without a web library.

A platform that pushes updates (a webhook) or fetches files from us (Zalo's `sendPhoto`
takes a URL) needs routes on our HTTP server. What those routes check and how an update
is known again is the platform's business, so each adapter describes its routes here;
`bot.http.webhooks` serves them, and alone knows aiohttp, the status codes and the table
of updates handled (claim, handle, finish), which is the same for every channel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


@dataclass(frozen=True)
class Accepted:
    """A pushed update the channel will handle: `key` tells a redelivery from a new update
    (stored, so it holds across retries and instances), `handle` handles it to the end."""

    key: str
    handle: Callable[[], Awaitable[object]]


class Refused(StrEnum):
    """Why a pushed update with the right secret is not handled; the value is what the
    HTTP answer says."""

    #: Not an update of this platform: answered 400, the platform stops sending it.
    BAD_UPDATE = "bad update"
    #: The channel is starting or stopping: answered 503, the platform sends it again.
    NOT_READY = "not ready"


@dataclass(frozen=True)
class WebhookRoute:
    """POST `path`: updates the platform pushes, with a shared secret in a header."""

    path: str
    secret_header: str
    secret_matches: Callable[[str | None], bool]
    #: The decoded JSON body, judged: handled (once) or refused.
    accept: Callable[[object], Accepted | Refused]


@dataclass(frozen=True)
class FileRoute:
    """GET `path` (with a `{token}` part): files the platform fetches from us."""

    path: str
    #: The file a token names, or None for a forged, damaged or stale token.
    resolve: Callable[[str], Path | None]


Route = WebhookRoute | FileRoute
