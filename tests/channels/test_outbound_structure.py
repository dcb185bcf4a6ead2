"""`Outbound` carries its structure (language, a card's summary lines), so a channel that
cannot edit reads them instead of parsing the card's text back out of translated prefixes;
and a message stored in the outbox before those fields existed still reads and delivers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.channels.adapter import PartKind
from bot.channels.base import Button, Outbound
from bot.channels.zalo import ZaloRenderer
from bot.domain.model import Area, Case, CaseKind, CaseStatus, Customer, Purpose
from bot.i18n import Lang, Translator
from bot.sla.policy_file import load_policy
from handlers.render import Renderer

TR = Translator()

#: A card as the outbox stored it before `Outbound` had `lang` and `summary` (the exact keys
#: the old `to_json` wrote).
STORED_BEFORE = {
    "text": "📋 PL-17 · Cấp điện mới\n📍 12 Trần Hưng Đạo\nTrạng thái: Mới, chưa ai nhận",
    "buttons": [[{"text": "Nhận việc", "data": "c:claim:PL-17"}]],
    "reply_to": None,
    "claim_ref": "PL-17",
    "photo_path": None,
    "document_path": None,
}


def a_case(status: CaseStatus = CaseStatus.OPEN) -> Case:
    return Case(
        id=1,
        ref="PL-17",
        external_ref=None,
        kind=CaseKind.NEW_CONNECTION,
        team_code="PL",
        status=status,
        customer=Customer("Trần Văn Hưng", "0912345678", "12 Trần Hưng Đạo, Phủ Lý"),
        area=Area.URBAN,
        purpose=Purpose.DOMESTIC,
        description="Đăng ký cấp điện sinh hoạt",
        received_at=datetime(2026, 11, 27, 1, 0, tzinfo=UTC),
        due_at=datetime(2026, 11, 30, 1, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize("lang", list(Lang))
def test_a_card_says_its_language_and_its_summary_lines(lang: Lang) -> None:
    renderer = Renderer(TR, load_policy(None).workflow)
    card = renderer.card(lang, a_case(CaseStatus.CLAIMED), "Đỗ Minh")
    lines = card.text.split("\n")
    assert card.lang is lang
    assert card.summary == (
        lines[0],
        TR.t(lang, "card.status", status=TR.t(lang, "status.claimed")),
        TR.t(lang, "card.assignee", name="Đỗ Minh"),
    )
    assert all(line in lines for line in card.summary)


def test_zalo_shows_a_card_change_from_its_summary_in_the_cards_language() -> None:
    renderer = Renderer(TR, load_policy(None).workflow)
    zalo = ZaloRenderer(TR, Lang.VI)  # the bot's default is Vietnamese; the card is English
    open_card = renderer.card(Lang.EN, a_case(), None)
    (part,) = zalo.render_update(open_card)
    assert part.kind is PartKind.TEXT
    assert part.text == "\n".join([*open_card.summary, "👉 Reply /claim PL-17 to take this case"])
    (whole,) = zalo.render(open_card)
    assert whole.text is not None and whole.text.startswith(open_card.text)
    assert whole.text.endswith("Reply /claim PL-17 to take this case")


def test_what_an_outbound_carries_survives_the_outbox() -> None:
    message = Outbound(
        "📋 PL-17",
        buttons=((Button("Nhận việc", "c:claim:PL-17"),),),
        claim_ref="PL-17",
        lang=Lang.EN,
        summary=("📋 PL-17", "Status: Open"),
    )
    assert Outbound.from_json(message.to_json()) == message
    plain = Outbound("Xin chào")
    assert set(plain.to_json()) == set(STORED_BEFORE)  # nothing new stored for plain texts


def test_a_message_stored_before_outbound_had_a_language_or_summary_still_reads() -> None:
    stored = Outbound.from_json(STORED_BEFORE)
    assert stored.lang is None and stored.summary == ()
    assert stored.text == STORED_BEFORE["text"] and stored.claim_ref == "PL-17"
    assert Outbound.from_json({**STORED_BEFORE, "lang": "fr"}).lang is None  # unknown: default


def test_zalo_shows_a_card_stored_before_the_summary_whole_in_the_default_language() -> None:
    stored = Outbound.from_json(STORED_BEFORE)
    (update,) = ZaloRenderer(TR, Lang.VI).render_update(stored)
    assert update.text == f"{STORED_BEFORE['text']}\n👉 Trả lời /claim PL-17 để nhận việc"
