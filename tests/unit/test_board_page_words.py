"""Every word the board's page asks for is in both catalogues (the page prints the key
itself when one is missing, which a person would read as a bug)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.i18n import Lang, load_catalogue

STATIC = Path(__file__).resolve().parents[2] / "bot" / "webapp" / "static"
USED = re.compile(r"""(?:\bt\(|data-t=)["']((?:app|status|kind|role)\.[a-z_.]+)["']""")


def test_every_key_the_page_uses_is_in_both_catalogues() -> None:
    used: set[str] = set()
    for path in [*STATIC.glob("*.js"), STATIC / "index.html"]:
        used |= set(USED.findall(path.read_text(encoding="utf-8")))
    assert len(used) > 40, "the scan found too few keys"
    for lang in Lang:
        assert sorted(used - set(load_catalogue(lang))) == [], lang
