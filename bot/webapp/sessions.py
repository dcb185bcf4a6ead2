"""The board's session: a short-lived token the page holds and sends as a header.

The token names a chat account (`telegram:123`, `zalo:abc`) and when it ends, signed
with HMAC-SHA-256 under a server key, so nobody can make or stretch one. It travels in
the `Authorization: Session …` header, never in a cookie: browsers add cookies to
requests other sites make (the reason for CSRF tokens), but never this header, and
Telegram's web client shows Mini Apps in a frame of another site, where same-site
cookies are not sent at all. Who the account is, and what they may see, is read again
on every request, so a member taken off the team loses the board at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

#: How long a session lasts; inside Telegram the page opens a new one from its launch data.
SESSION_TTL: Final = timedelta(hours=1)
SCHEME: Final = "Session"


@dataclass(frozen=True)
class Session:
    account: str  # channel:id, as the members' identities are named
    expires_at: datetime
    #: The language the person's app reported (a member's own choice wins over it).
    lang: str | None = None


def session_key(*secrets: str | None) -> bytes:
    """The signing key, from WEBAPP_SECRET or else the bot tokens (any instance has them)."""
    material = "\n".join(s for s in secrets if s)
    if not material:
        raise ValueError("no secret to sign board sessions with")
    return hmac.new(b"dispatchbot board session", material.encode(), hashlib.sha256).digest()


class SessionSigner:
    def __init__(self, key: bytes, ttl: timedelta = SESSION_TTL) -> None:
        self._key = key
        self.ttl = ttl

    def issue(self, account: str, now: datetime, lang: str | None = None) -> tuple[str, Session]:
        session = Session(account, (now + self.ttl).replace(microsecond=0), lang)
        claims = {"a": account, "e": int(session.expires_at.timestamp()), "l": lang}
        body = json.dumps(claims, separators=(",", ":")).encode()
        payload = _b64(body)
        return f"{payload}.{self._sign(payload)}", session

    def read(self, token: str, now: datetime) -> Session | None:
        """The session the token stands for; None when forged, malformed or ended."""
        payload, dot, signature = token.partition(".")
        if not dot or len(token) > 1024 or not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            lang = data.get("l")
            session = Session(
                str(data["a"]),
                datetime.fromtimestamp(int(data["e"]), UTC),
                lang if isinstance(lang, str) else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            return None
        return session if now < session.expires_at else None

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())


def bearer_session(header: str | None) -> str | None:
    """The token of an `Authorization: Session <token>` header."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme == SCHEME and token else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
