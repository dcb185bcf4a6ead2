"""Issue 15, item 3: the next person is told, privately, with a button (on Zalo, the
command to type), in their own language, on Telegram and on Zalo."""

from __future__ import annotations

import pytest

from bot.domain.model import Area, CaseKind, Customer, Purpose, Role, Source
from bot.domain.people import Actor, Member
from bot.i18n import Lang, load_catalogue
from bot.services.commands import IntakeCase
from sandbox.phones import Person, Seen, TelegramPhone
from tests.e2e.conftest import CAST, Stage, meter_complaint
from tests.e2e.fieldkit import LANGS, tr


class _Blanks(dict[str, object]):
    def __missing__(self, key: str) -> object:
        return "\x00"


def opening(lang: str, key: str, **values: object) -> str:
    """The message's words up to its first value not given: what a person reads first."""
    return load_catalogue(Lang(lang))[key].format_map(_Blanks(values)).split("\x00", 1)[0]


async def speak(stage: Stage, who: Person, lang: str) -> None:
    if lang != "vi":
        answer = await stage.say(who, f"/lang {lang}", chat=who.user_id)
        assert answer.body == tr(lang, "lang.set")


async def mark(stage: Stage, who: Person) -> int:
    """Where the person's private chat stands now: later messages are new."""
    said = await stage.phone(who).messages(who.user_id)
    return max((m.index for m in said), default=0)


async def told(stage: Stage, who: Person, after: int, text: str) -> Seen:
    """The bot's private message to `who`, after `after`, that shows `text`."""
    return await stage.phone(who).wait_for(who.user_id, text, after=after)


async def filed_by_clerk(stage: Stage) -> str:
    clerk = Member(stage.clerk.uid, CAST["clerk"][0], Role.CLERK, None)
    case, _ = await stage.container.service.intake(
        IntakeCase(
            Actor(uid=clerk.uid, name=clerk.name, member=clerk),
            Source.TELEGRAM,
            None,
            kind=CaseKind.NEW_CONNECTION,
            team_code="PL",
            customer=Customer("Lê Văn Toàn", "0356789123", "Xóm 3, Liêm Tuyền"),
            description="Cấp điện nhà mới",
            area=Area.RURAL,
            purpose=Purpose.DOMESTIC,
        ),
        stage.container.uow(),
    )
    await stage.settled()
    return case.ref


def offers(stage: Stage, who: Person, seen: Seen, label: str, command: str) -> None:
    """A button on Telegram; on Zalo, which has none, the command to type."""
    if isinstance(stage.phone(who), TelegramPhone):
        assert label in seen.offers, seen
    else:
        assert command in seen.body, seen.body


@pytest.mark.parametrize("lang", LANGS)
async def test_worker_lead_and_clerk_are_each_told_their_turn(stage: Stage, lang: str) -> None:
    for who in (stage.lead, stage.minh, stage.clerk):
        await speak(stage, who, lang)
    ref = await filed_by_clerk(stage)
    await stage.say(stage.minh, f"/claim {ref}")
    await stage.say(stage.minh, f"/survey {ref} cần 25m cáp")
    await stage.say(stage.minh, f"/estimate {ref} 1500000 2000000")

    # The customer signs at the desk: the worker hears it, with the install button.
    before = await mark(stage, stage.minh)
    await stage.say(stage.clerk, f"/agree {ref}", chat=stage.clerk.user_id)
    agreed = await told(stage, stage.minh, before, opening(lang, "next.agreed", ref=ref))
    offers(stage, stage.minh, agreed, tr(lang, "button.install"), f"/install {ref}")

    # Installed: the lead hears it is ready to close, with the close button.
    before = await mark(stage, stage.lead)
    await stage.say(stage.minh, f"/install {ref} CT-889911 120")
    ready = await told(stage, stage.lead, before, opening(lang, "next.ready_to_close", ref=ref))
    offers(stage, stage.lead, ready, tr(lang, "button.close"), f"/close {ref}")

    # Closed: the clerk who filed it hears it, and scores it with a press (or types it).
    before = await mark(stage, stage.clerk)
    await stage.say(stage.lead, f"/close {ref}")
    closed = await told(stage, stage.clerk, before, opening(lang, "next.closed_rate", ref=ref))
    assert f"/rate {ref}" in closed.body
    phone = stage.phone(stage.clerk)
    if isinstance(phone, TelegramPhone):
        assert closed.offers == tuple(str(n) for n in range(1, 11))
        press = await phone.client.press_button(
            int(stage.clerk.user_id), int(closed.chat), int(closed.id), "8"
        )
        await phone.client.wait_for_answer(press)
        await told(stage, stage.clerk, closed.index, tr(lang, "reply.rated", ref=ref, score=8))
    else:
        await stage.say(stage.clerk, f"/rate {ref} 8", chat=stage.clerk.user_id)
    assert (await stage.case(ref))["history"][-1]["action"] == "rate"


@pytest.mark.parametrize("lang", LANGS)
async def test_a_moved_case_tells_who_gave_it_and_who_lost_it(stage: Stage, lang: str) -> None:
    for who in (stage.minh, stage.hung):
        await speak(stage, who, lang)
    ref = await filed_by_clerk(stage)
    await stage.say(stage.minh, f"/claim {ref}")
    minh_before = await mark(stage, stage.minh)
    hung_before = await mark(stage, stage.hung)
    await stage.say(stage.lead, f"/assign {ref} {stage.hung.uid}")
    given = await told(
        stage,
        stage.hung,
        hung_before,
        opening(lang, "contact.title_assigned", actor="Lan", ref=ref),
    )
    assert "Lan" in given.body and ref in given.body and "0356789123" in given.body
    lost = await told(
        stage, stage.minh, minh_before, opening(lang, "next.moved_away", actor="Lan", ref=ref)
    )
    assert ref in lost.body and "Hùng" in lost.body
    assert "0356789123" not in lost.body


@pytest.mark.parametrize("lang", LANGS)
async def test_the_lead_hears_ready_to_close_once_not_again_on_a_rating(
    stage: Stage, lang: str
) -> None:
    await speak(stage, stage.lead, lang)
    _, body = await stage.intake(meter_complaint())
    ref = str(body["ref"])
    await stage.settled()
    await stage.say(stage.minh, f"/claim {ref}")
    await stage.say(stage.minh, f"/inspect {ref} công tơ chạy nhanh")
    before = await mark(stage, stage.lead)
    await stage.say(stage.minh, f"/resolve {ref} đã thay công tơ")
    first = opening(lang, "next.ready_to_close", ref=ref)
    await told(stage, stage.lead, before, first)
    await stage.say(stage.clerk, f"/rate {ref} 9", chat=stage.clerk.user_id)
    await stage.settled()
    said = await stage.phone(stage.lead).messages(stage.lead.user_id)
    assert [m.body.startswith(first) for m in said if m.index > before].count(True) == 1
