"""Issue 15, item 6: hand a case over, unbind a wrong group, remove someone only once
asked; on Telegram (buttons) and Zalo (typed), in Vietnamese and English."""

from __future__ import annotations

import pytest

from sandbox.phones import Person, Seen, TelegramPhone
from tests.e2e.conftest import Stage, new_connection
from tests.e2e.fieldkit import LANGS, tr
from tests.e2e.test_next_person import mark, opening, speak, told


async def a_case(stage: Stage, ext: str = "TTHCC-PL-2026-00501") -> str:
    _, body = await stage.intake(new_connection(ext))
    await stage.settled()
    return str(body["ref"])


async def press(stage: Stage, who: Person, seen: Seen, label: str) -> str:
    """Press the button showing `label` (Telegram); returns the toast, if any."""
    phone = stage.phone(who)
    assert isinstance(phone, TelegramPhone)
    pressed = await phone.client.press_button(int(who.user_id), int(seen.chat), int(seen.id), label)
    return (await phone.client.wait_for_answer(pressed)).text or ""


def telegram(stage: Stage, who: Person) -> bool:
    return isinstance(stage.phone(who), TelegramPhone)


@pytest.mark.parametrize("lang", LANGS)
async def test_a_handover_is_accepted_by_the_colleague_and_both_are_told(
    stage: Stage, lang: str
) -> None:
    for who in (stage.minh, stage.hung, stage.lead):
        await speak(stage, who, lang)
    ref = await a_case(stage)
    await stage.say(stage.minh, f"/claim {ref}")
    hung_at, minh_at = await mark(stage, stage.hung), await mark(stage, stage.minh)

    offered = await stage.say(stage.minh, f"/handover {ref} {stage.hung.uid}")
    assert offered.body == tr(lang, "handover.offered", ref=ref, name="Hùng")
    assert (await stage.case(ref))["assignee"] == stage.minh.uid  # nothing moved yet
    asked = await told(stage, stage.hung, hung_at, opening(lang, "handover.asked", ref=ref))
    assert "Minh" in asked.body and f"/handover {ref}" in asked.body

    # Someone else cannot take it in the colleague's place.
    nosy = await stage.say(stage.lead, f"/handover {ref}", chat=stage.lead.user_id)
    assert nosy.body == tr(lang, "err.handover_gone", ref=ref)

    hung_at = await mark(stage, stage.hung)
    if telegram(stage, stage.hung):
        assert asked.offers == (tr(lang, "button.handover_yes"), tr(lang, "button.handover_no"))
        await press(stage, stage.hung, asked, tr(lang, "button.handover_yes"))
    else:
        taken = await stage.say(stage.hung, f"/handover {ref}", chat=stage.hung.user_id)
        assert taken.body == tr(lang, "handover.taken", ref=ref)
    given = await told(
        stage, stage.hung, hung_at, opening(lang, "contact.title_assigned", actor="Minh", ref=ref)
    )
    assert "0912345678" in given.body
    back = await told(stage, stage.minh, minh_at, opening(lang, "handover.accepted", name="Hùng"))
    assert ref in back.body
    case = await stage.case(ref)
    assert case["assignee"] == stage.hung.uid
    assert case["history"][-1]["action"] == "assign"

    # Answered once: a second answer finds no offer.
    again = await stage.say(stage.hung, f"/handover {ref}", chat=stage.hung.user_id)
    assert again.body == tr(lang, "err.handover_gone", ref=ref)


@pytest.mark.parametrize("lang", LANGS)
async def test_a_declined_handover_leaves_the_case_and_tells_the_giver(
    stage: Stage, lang: str
) -> None:
    if not telegram(stage, stage.hung):
        pytest.skip("declining is a button; on Zalo an offer left unanswered simply expires")
    for who in (stage.minh, stage.hung):
        await speak(stage, who, lang)
    ref = await a_case(stage)
    await stage.say(stage.minh, f"/claim {ref}")
    hung_at, minh_at = await mark(stage, stage.hung), await mark(stage, stage.minh)
    await stage.say(stage.minh, f"/handover {ref} {stage.hung.uid}")
    asked = await told(stage, stage.hung, hung_at, opening(lang, "handover.asked", ref=ref))
    await press(stage, stage.hung, asked, tr(lang, "button.handover_no"))
    await told(stage, stage.minh, minh_at, tr(lang, "handover.declined", ref=ref, name="Hùng"))
    assert (await stage.case(ref))["assignee"] == stage.minh.uid


@pytest.mark.parametrize("lang", LANGS)
async def test_a_lead_unbinds_a_wrong_group_and_it_shows_the_team_no_more(
    stage: Stage, lang: str
) -> None:
    await speak(stage, stage.lead, lang)
    await speak(stage, stage.minh, lang)
    refused = await stage.say(stage.minh, "/unbindteam")
    assert refused.body.startswith(opening(lang, "err.forbidden", roles="\x00"))
    # The refusal was shown, but the relay may not have recorded it sent yet: a group with
    # a message still waiting is kept while it is the team's only one (the unbind rule).
    await stage.settled()
    done = await stage.say(stage.lead, "/unbindteam")
    assert done.body == tr(lang, "unbind.done", code="PL", name="Phủ Lý")
    async with stage.container.uow() as uow:
        team = await uow.teams.get("PL")
    assert team is not None and team.chats == ()
    _, body = await stage.intake(new_connection("TTHCC-PL-2026-00777"))
    await stage.settled()
    shown = [m for m in await stage.phone(stage.lead).messages(stage.group(stage.lead))]
    assert not any(str(body["ref"]) in m.body for m in shown)


@pytest.mark.parametrize("lang", LANGS)
async def test_remove_asks_first_then_tells_the_person(stage: Stage, lang: str) -> None:
    await speak(stage, stage.lead, lang)
    await speak(stage, stage.hung, lang)
    asked = await stage.say(stage.lead, f"/remove {stage.hung.uid}")
    assert asked.body.startswith(opening(lang, "member.remove_ask", name="Hùng"))
    async with stage.container.uow() as uow:
        still = await uow.members.get(stage.hung.uid)
    assert still is not None and still.active  # asking changed nothing
    hung_at = await mark(stage, stage.hung)
    if telegram(stage, stage.lead):
        kept = await press(stage, stage.lead, asked, tr(lang, "button.remove_no"))
        assert kept == tr(lang, "member.remove_kept")
        await press(stage, stage.lead, asked, tr(lang, "button.remove_yes"))
    else:
        assert f"/remove ok {stage.hung.uid}" in asked.body
        await stage.say(stage.lead, f"/remove ok {stage.hung.uid}")
    await told(stage, stage.hung, hung_at, tr(lang, "member.removed_you", actor="Lan", team="PL"))
    async with stage.container.uow() as uow:
        gone = await uow.members.get(stage.hung.uid)
    assert gone is not None and not gone.active
