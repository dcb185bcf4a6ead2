"""HTTP over a raw socket: what no well-behaved client library will send.

A bad request line, a Content-Length that lies, header bytes that are not ASCII: the
requests an outside probe sends. The answers are read back as the server wrote them,
one after another when a request was split into two.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import pytest

DEADLINE = 10.0


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        assert self.headers.get("content-type", "").startswith("application/json"), self
        return json.loads(self.body)


def request(
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    *,
    raw_headers: bytes = b"",
    content_length: int | None = None,
) -> bytes:
    """An HTTP/1.1 request; `raw_headers` are sent as given, `content_length` may lie."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    length = len(body) if content_length is None else content_length
    lines.append(f"Content-Length: {length}")
    head = "\r\n".join(lines).encode() + b"\r\n" + raw_headers
    return head + b"\r\n" + body


async def exchange(
    port: int, data: bytes, *, half_close: bool = False, expect: int | None = None
) -> list[RawResponse]:
    """Send `data`, read until the server closes (or `expect` whole answers came), and
    split what came back into responses.

    `half_close` ends the sending side after `data`, as a client that gives up would.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    raw = b""
    try:
        writer.write(data)
        await writer.drain()
        if half_close:
            writer.write_eof()
        async with asyncio.timeout(DEADLINE):
            while chunk := await reader.read(65536):
                raw += chunk
                if expect is not None and len(_complete(raw)) >= expect:
                    break
    finally:
        writer.close()
    return parse(raw)


def _complete(raw: bytes) -> list[RawResponse]:
    """The whole responses at the start of `raw` (a partial one at the end is left out)."""
    try:
        return parse(raw, partial=False)
    except AssertionError:
        return []


def parse(raw: bytes, *, partial: bool = True) -> list[RawResponse]:
    found: list[RawResponse] = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        assert sep, f"an incomplete response: {raw[:200]!r}"
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", len(rest)))
        assert partial or len(rest) >= length, "an incomplete body"
        found.append(RawResponse(int(status_line.split()[1]), headers, rest[:length]))
        raw = rest[length:]
    return found


def http_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Errors the HTTP server (ours or aiohttp's) logged: an odd request must cause none."""
    return [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith(("bot.http", "aiohttp"))
    ]
