"""Messages people read, from gettext catalogues, in Vietnamese first and English.

Message ids are stable keys (`err.not_found`) so that a missing translation in
either language is a test failure rather than silently shown English.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from enum import StrEnum
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from babel.messages.pofile import read_po


class Lang(StrEnum):
    VI = "vi"
    EN = "en"

    @classmethod
    def pick(cls, *candidates: str | None, default: Lang | None = None) -> Lang:
        """The first supported language among a user's choice, the app's report, the default."""
        for c in candidates:
            if c:
                found = _BY_CODE.get(c.strip().lower()[:2])
                if found is not None:
                    return found
        return default or cls.VI


#: Each language by its code, for `Lang.pick` (no enum built per message).
_BY_CODE: dict[str, Lang] = {lang.value: lang for lang in Lang}


def load_catalogue(lang: Lang) -> dict[str, str]:
    path = resources.files("bot.i18n") / "locales" / lang.value / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang.value)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string}


class Translator:
    """Looks up and fills messages; built once at bootstrap."""

    def __init__(self, default: Lang = Lang.VI, tz: tzinfo | None = None) -> None:
        self.default = default
        self.tz = tz or ZoneInfo("Asia/Ho_Chi_Minh")
        self.catalogues = {lang: load_catalogue(lang) for lang in Lang}

    def lang(self, *candidates: str | None) -> Lang:
        return Lang.pick(*candidates, default=self.default)

    def t(self, lang: Lang | str | None, key: str, **values: Any) -> str:
        # A Lang as it is (every message the bot builds names one); else as `lang` reads it.
        chosen = lang if isinstance(lang, Lang) else self.lang(lang)
        text = self.catalogues[chosen].get(key) or self.catalogues[Lang.EN].get(key) or key
        return text.format(**values) if values else text

    def day(self, at: datetime) -> str:
        """The local date alone: 27/11/2026."""
        return at.astimezone(self.tz).strftime("%d/%m/%Y")

    def when(self, at: datetime | None) -> str:
        """Vietnamese style, local time: 27/11/2026 08:15."""
        if at is None:
            return "—"
        return at.astimezone(self.tz).strftime("%d/%m/%Y %H:%M")
