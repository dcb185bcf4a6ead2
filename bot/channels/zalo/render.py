"""The neutral `Outbound` → the sends that show it on Zalo, which does less than Telegram.

No buttons, no edits, no replies in `sendMessage`; texts of 1 to 2,000 characters; and
`sendPhoto` takes the photo's URL, not its bytes. So the claim button becomes a line to
type, a card edit becomes a short new status message (from the card's summary lines),
long text is cut by the one splitter, and a local photo goes by a signed link to us.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from bot.channels.adapter import PartKind
from bot.channels.base import ButtonKind, Capabilities, Outbound, PermanentFailure
from bot.channels.text import TextMeasure
from bot.i18n import Lang, Translator

# One logger for the whole adapter, named after its package.
logger = logging.getLogger(__package__ or __name__)

#: sendMessage and sendPhoto captions: "1 to 2000 characters" (Zalo Bot API docs).
MAX_TEXT: Final = 2000
#: Zalo cannot edit a message: `edit()` posts a short status message instead.
#: What Zalo lacks against the defaults: buttons, edits, locations. Its docs do not say what
#: a character is; see TextMeasure.UTF16 for the choice.
CAPABILITIES: Final = Capabilities(
    buttons=False, edits=False, max_text=MAX_TEXT, locations=False, measure=TextMeasure.UTF16
)


def zalo_length(text: str) -> int:
    """Length as counted against Zalo's limit (never under what Zalo counts)."""
    return CAPABILITIES.measure.length(text)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Zalo's texts of at most `limit`, cut by the project's one splitter."""
    return replace(CAPABILITIES, max_text=limit).split(text)


@dataclass(frozen=True)
class ZaloPart:
    """One Bot API send an `Outbound` turns into; the renderer plans, the api sends."""

    kind: PartKind
    text: str | None  # the message text, or the photo's caption
    photo_url: str | None = None


class MediaLinks:
    """Public, signed URLs for local files, because `sendPhoto` takes a URL and never bytes.

    The channel offers them as a route of our HTTP server (`ZaloChannel.routes`); a link
    names the file and carries an HMAC of its path, so only paths the bot chose to send
    can be fetched. The key comes from the webhook secret, which Zalo holds too: whoever
    has it could sign any path, so only files under `root` (MEDIA_DIR) are ever served.
    """

    def __init__(self, base_url: str, secret: str, root: Path | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = hashlib.sha256(b"zalo-media:" + secret.encode()).digest()
        self._root = root.resolve() if root is not None else None

    @property
    def route_path(self) -> str:
        """The path our server answers on, `{token}` being the signed part."""
        return (urlsplit(self.base_url).path or "") + "/{token}"

    def link(self, path: Path) -> str:
        raw = str(path.resolve()).encode()
        name = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return f"{self.base_url}/{name}.{self._sign(raw)}"

    def resolve(self, token: str) -> Path | None:
        """The file a token names, or None for a forged, damaged or stale one."""
        name, _, signature = token.partition(".")
        try:
            raw = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4))
        except (binascii.Error, ValueError):
            return None
        if not signature or not hmac.compare_digest(signature, self._sign(raw)):
            return None
        path = Path(raw.decode(errors="replace"))
        try:
            outside = self._root is not None and not path.resolve().is_relative_to(self._root)
        except (OSError, ValueError):  # a NUL byte, a symlink loop
            return None
        if outside:
            return None
        return path if path.is_file() else None

    def _sign(self, raw: bytes) -> str:
        return hmac.new(self._key, raw, hashlib.sha256).hexdigest()[:32]


def media_base(webhook_url: str) -> str:
    """Photo links live next to the webhook: `https://h/zalo/webhook` -> `https://h/zalo/media`,
    so the reverse proxy that forwards the webhook's folder forwards them too."""
    parts = urlsplit(webhook_url)
    folder = parts.path.rsplit("/", 1)[0] if "/" in parts.path else ""
    return f"{parts.scheme}://{parts.netloc}{folder}/media"


class ZaloRenderer:
    """Turns one neutral `Outbound` into what Zalo can show.

    The lines it adds are in the message's own language, else the configured default.
    """

    def __init__(
        self,
        tr: Translator,
        default: Lang = Lang.VI,
        *,
        capabilities: Capabilities = CAPABILITIES,
        media: MediaLinks | None = None,
    ) -> None:
        self.tr = tr
        self.default = default
        self.capabilities = capabilities
        self.media = media

    def claim_hint(self, message: Outbound, lang: Lang) -> str | None:
        """The claim button, as the line to type instead (Zalo has no buttons)."""
        if not message.claim_ref:
            return None
        return self.tr.t(lang, "card.claim_hint", ref=message.claim_ref)

    def render(self, message: Outbound) -> list[ZaloPart]:
        """Plan the sends for a new message: photo first (with the text as caption when it
        fits), then the text in pieces Zalo accepts."""
        lang = message.lang or self.default
        lines = [message.text] if message.text.strip() else []
        hint = self.claim_hint(message, lang)
        if hint:
            lines.append(hint)
        for row in message.buttons:  # no buttons on Zalo: a link is shown in the text
            for button in row:
                if button.kind is ButtonKind.URL:
                    lines.append(self.tr.t(lang, "zalo.link", label=button.text, url=button.data))
        if message.document_path:
            name = Path(message.document_path).name
            lines.append(self.tr.t(lang, "card.no_document", name=name))
        text = "\n".join(lines)
        parts: list[ZaloPart] = []
        photo = self.photo_url(message.photo_path)
        if photo is not None:
            caption = text if text.strip() and self.capabilities.fits_caption(text) else None
            parts.append(ZaloPart(PartKind.PHOTO, caption, photo))
            if caption is not None:
                return parts
        elif message.photo_path:
            logger.warning("a photo for Zalo was left out: no public URL for a local file")
        parts.extend(ZaloPart(PartKind.TEXT, chunk) for chunk in self.capabilities.split(text))
        if not parts:
            raise PermanentFailure("nothing to send: empty text and no photo")
        return parts

    def render_update(self, message: Outbound) -> list[ZaloPart]:
        """A card edit, as a short new message: the card's summary (title, status and
        assignee lines), and how to claim it when it is open."""
        if not message.summary:
            return self.render(message)  # not a card: show it whole
        short = list(message.summary)
        hint = self.claim_hint(message, message.lang or self.default)
        if hint:
            short.append(hint)
        return [
            ZaloPart(PartKind.TEXT, chunk) for chunk in self.capabilities.split("\n".join(short))
        ]

    def photo_url(self, photo_path: str | None) -> str | None:
        if not photo_path:
            return None
        if photo_path.startswith(("https://", "http://")):
            return photo_path
        if self.media is None:
            return None
        return self.media.link(Path(photo_path))
