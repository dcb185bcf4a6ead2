"""Every message exists in Vietnamese and English, with the same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

from bot.i18n import Lang, Translator, load_catalogue

ROOT = Path(__file__).resolve().parents[2]
PREFIXES = [
    "kind",
    "area",
    "purpose",
    "status",
    "role",
    "card",
    "button",
    "contact",
    "reply",
    "toast",
    "err",
    "usage",
    "list",
    "history",
    "lang",
    "bind",
    "start",
    "help",
    "remind",
    "overdue",
    "escalate",
    "digest",
    "form",
    "evidence",
    "invite",
    "member",
    "members",
    "menu",
    "report",
    "relay",
    "doctor",
    "team",
    "find",
    "board",
    "app",
]
KEY_USE = re.compile(r"""["']((?:{})\.[a-z_]+(?:\.[a-z_]+)*)["']""".format("|".join(PREFIXES)))


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_catalogues_have_the_same_keys_and_placeholders() -> None:
    vi, en = load_catalogue(Lang.VI), load_catalogue(Lang.EN)
    assert set(vi) == set(en)
    for key in vi:
        assert vi[key].strip() and en[key].strip(), key
        assert placeholders(vi[key]) == placeholders(en[key]), key


def test_every_message_key_in_the_code_is_in_the_catalogues() -> None:
    known = set(load_catalogue(Lang.VI))
    used: set[str] = set()
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(KEY_USE.findall(path.read_text(encoding="utf-8")))
    assert used, "the scan found no message keys"
    assert sorted(used - known) == []


def test_vietnamese_is_the_default_and_dates_read_the_vietnamese_way() -> None:
    from datetime import UTC, datetime

    tr = Translator()
    assert tr.t(None, "status.open") == "Mới, chưa ai nhận"
    assert tr.t("en-US", "status.open") == "New, unclaimed"
    assert tr.when(datetime(2026, 11, 27, 1, 15, tzinfo=UTC)) == "27/11/2026 08:15"
