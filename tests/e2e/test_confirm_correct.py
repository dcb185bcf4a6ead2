"""Issue 15, item 1: what the bot understood is shown, and can be fixed.

A tired worker types fast on a phone. Every typed step answers with what it recorded;
typed again while the case stands at that step it corrects it (the history keeps
both); the form's summary has «✏️ Sửa» for each answer; an amount or a note the bot
could misread is asked about before anything is saved; a ref typed loosely is read.
Each runs in Vietnamese and in English.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import GROUP, System, new_connection
from tests.e2e.fieldkit import LANGS, assert_catalogued, bot_message, press, speak, tr


@pytest.fixture(params=LANGS)
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _claimed(s: System, lang: str) -> str:
    await speak(s, s.minh, lang)
    _, body = await s.intake(new_connection())
    ref = str(body["ref"])
    await s.card(ref)
    await s.say(s.minh, f"/claim {ref}")
    return ref


def _labels(message: Any) -> list[str]:
    return [b.text for b in message.buttons]


def offered_values(offered: tuple[str, ...]) -> list[int]:
    return [int(x.removesuffix(" đ").replace(".", "")) for x in offered]


def _steps(case: dict[str, Any], action: str) -> list[str | None]:
    return [h["note"] for h in case["history"] if h["action"] == action]


async def test_every_typed_step_answers_with_what_it_recorded(system: System, lang: str) -> None:
    s = system
    ref = await _claimed(s, lang)
    me = s.minh.id
    said = await s.say(s.minh, f"/survey {ref} Cần 25m cáp", chat=me)
    assert tr(lang, "form.sum.note", value="Cần 25m cáp") in said.body
    said = await s.say(s.minh, f"/estimate {ref} 1,5tr 2.000.000", chat=me)
    assert tr(lang, "form.sum.customer_cost", value="1.500.000 đ") in said.body
    assert tr(lang, "form.sum.utility_cost", value="2.000.000 đ") in said.body
    await s.say(s.clerk, f"/agree {ref}")
    said = await s.say(s.minh, f"/install {ref} CT-778899 00012", chat=me)
    assert tr(lang, "form.sum.serial", value="CT-778899") in said.body
    assert tr(lang, "form.sum.reading", value="00012") in said.body
    await assert_catalogued(s.client, {me: None})


async def test_a_step_typed_again_corrects_it_and_the_history_keeps_both(
    system: System, lang: str
) -> None:
    s = system
    ref = await _claimed(s, lang)
    me = s.minh.id
    await s.say(s.minh, f"/survey {ref} x", chat=me)
    fixed = await s.say(s.minh, f"/survey {ref} Cần 30m cáp", chat=me)
    case = await s.case(ref)
    assert case["status"] == "surveyed"
    assert _steps(case, "survey") == ["x", "Cần 30m cáp"]
    step = tr(lang, "form.kind.survey")
    assert tr(lang, "reply.corrected", ref=ref, step=step) in fixed.body
    assert tr(lang, "form.sum.note", value="Cần 30m cáp") in fixed.body
    await s.say(s.minh, f"/estimate {ref} 1tr500k 2tr", chat=me)
    fixed = await s.say(s.minh, f"/estimate {ref} 1tr200k 0", chat=me)
    assert tr(lang, "form.sum.customer_cost", value="1.200.000 đ") in fixed.body
    case = await s.case(ref)
    assert case["estimate"] == {"customer_cost": 1_200_000, "utility_cost": 0}
    assert len(_steps(case, "estimate")) == 2 and case["status"] == "estimated"
    # Once the case moved on, the earlier step is no longer open to correction.
    await s.say(s.clerk, f"/agree {ref}")
    late = await s.say(s.minh, f"/survey {ref} y", chat=me)
    assert tr(lang, "form.sum.note", value="y") not in late.body
    assert _steps(await s.case(ref), "survey") == ["x", "Cần 30m cáp"]
    await assert_catalogued(s.client, {me: None})


async def test_the_summary_has_an_edit_button_for_each_answer(system: System, lang: str) -> None:
    s = system
    ref = await _claimed(s, lang)
    me, minh = s.minh.id, s.minh
    await s.say(minh, f"/survey {ref} Cột gần nhà", chat=me)
    sent = await s.client.send_text(minh, me, f"/estimate {ref}")
    await bot_message(s, me, after=sent.message_id, contains=tr(lang, "form.ask.customer_cost"))
    for text in ("1tr500k", "2tr"):
        sent = await s.client.send_text(minh, me, text)
        await bot_message(s, me, after=sent.message_id, contains=ref)
    asked = await bot_message(
        s, me, after=sent.message_id, contains=tr(lang, "form.ask.note_estimate")
    )
    await press(s, minh, asked, tr(lang, "form.btn.skip"))
    summary = await bot_message(s, me, after=asked.message_id, contains=tr(lang, "form.confirm"))
    for field in ("customer_cost", "utility_cost", "note"):
        label = tr(lang, "form.btn.edit", field=tr(lang, f"form.field.{field}"))
        assert label in [b.text for b in summary.buttons]
    edit = tr(lang, "form.btn.edit", field=tr(lang, "form.field.utility_cost"))
    await press(s, minh, summary, edit)
    again = await bot_message(
        s, me, after=summary.message_id, contains=tr(lang, "form.ask.utility_cost")
    )
    sent = await s.client.send_text(minh, me, "0")
    summary = await bot_message(s, me, after=sent.message_id, contains=tr(lang, "form.confirm"))
    assert tr(lang, "form.sum.utility_cost", value="0 đ") in summary.body
    assert again.message_id < summary.message_id
    await press(s, minh, summary, tr(lang, "form.btn.confirm"))
    await bot_message(s, me, after=summary.message_id, contains="0 đ")
    case = await s.case(ref)
    assert case["estimate"] == {"customer_cost": 1_500_000, "utility_cost": 0}
    await assert_catalogued(s.client, {me: None})


@pytest.mark.parametrize(
    ("typed", "offered", "meant"),
    [
        ("1tr5k", ("1.500.000 đ", "1.005.000 đ"), 1_500_000),
        ("1500", ("1.500 đ", "1.500.000 đ"), 1_500_000),
    ],
)
async def test_an_amount_in_doubt_is_asked_with_buttons_before_it_is_saved(
    system: System, lang: str, typed: str, offered: tuple[str, ...], meant: int
) -> None:
    s = system
    ref = await _claimed(s, lang)
    me, minh = s.minh.id, s.minh
    await s.say(minh, f"/survey {ref} Cột gần nhà", chat=me)
    sent = await s.client.send_text(minh, me, f"/estimate {ref} {typed} 2tr")
    shown = " / ".join(offered)
    asked = await bot_message(
        s,
        me,
        after=sent.message_id,
        contains=tr(lang, "form.amount_doubt", text=typed, options=shown),
    )
    labels = [tr(lang, "form.amount_option", amount=x) for x in offered]
    assert [b.text for b in asked.buttons][: len(offered)] == labels
    assert (await s.case(ref))["status"] == "surveyed"  # nothing saved yet
    await press(s, minh, asked, tr(lang, "form.amount_option", amount="1.500.000 đ"))
    summary = await bot_message(s, me, after=asked.message_id, contains=tr(lang, "form.confirm"))
    assert tr(lang, "form.sum.customer_cost", value="1.500.000 đ") in summary.body
    await press(s, minh, summary, tr(lang, "form.btn.confirm"))
    await bot_message(s, me, after=summary.message_id, contains="1.500.000 đ")
    assert (await s.case(ref))["estimate"] == {"customer_cost": meant, "utility_cost": 2_000_000}
    # Typed in the group, where no form can ask: told, nothing saved.
    told = await s.say(minh, f"/estimate {ref} {typed} 2tr")
    assert (
        tr(lang, "err.amount_doubt", text=typed, options=shown, usage="").split("{")[0][:12]
        in told.body
    )
    assert len(_steps(await s.case(ref), "estimate")) == 1
    # ... with a button for each reading, which types the estimate unmistakably.
    assert _labels(told) == labels
    await press(s, minh, told, labels[1])
    await s.settled()
    case = await s.case(ref)
    assert case["estimate"] == {
        "customer_cost": offered_values(offered)[1],
        "utility_cost": 2_000_000,
    }
    assert len(_steps(case, "estimate")) == 2
    await assert_catalogued(s.client, {me: None, GROUP: None})


async def test_a_note_that_is_a_ref_is_asked_about(system: System, lang: str) -> None:
    s = system
    ref = await _claimed(s, lang)
    me, minh = s.minh.id, s.minh
    # One case, so the ref may be left out; `DL 4` is no ref of team PL (whose `PL 4`
    # would be read as PL-4), so it would have been saved as the survey's finding.
    sent = await s.client.send_text(minh, me, "/survey DL 4")
    asked = await bot_message(s, me, after=sent.message_id, contains=tr(lang, "form.confirm"))
    assert tr(lang, "form.note_like_ref", text="DL 4") in asked.body
    assert (await s.case(ref))["status"] == "claimed"
    await press(s, minh, asked, tr(lang, "form.btn.edit", field=tr(lang, "form.field.note")))
    again = await bot_message(
        s, me, after=asked.message_id, contains=tr(lang, "form.ask.note_survey")
    )
    sent = await s.client.send_text(minh, me, "Cần 25m cáp")
    summary = await bot_message(s, me, after=sent.message_id, contains=tr(lang, "form.confirm"))
    assert again.message_id < summary.message_id
    await press(s, minh, summary, tr(lang, "form.btn.confirm"))
    await bot_message(s, me, after=summary.message_id, contains="Cần 25m cáp")
    assert _steps(await s.case(ref), "survey") == ["Cần 25m cáp"]
    told = await s.say(minh, f"/survey {ref} pl4")  # in the group: told, nothing saved
    assert '"pl4"' in told.body if lang == "en" else "«pl4»" in told.body
    assert _steps(await s.case(ref), "survey") == ["Cần 25m cáp"]
    await assert_catalogued(s.client, {me: None, GROUP: None})


@pytest.mark.parametrize("typed", ["PL{n}", "pl{n}", "#PL-{n}", "{n}", "PL {n}"])
async def test_a_ref_typed_loosely_is_understood(system: System, lang: str, typed: str) -> None:
    s = system
    ref = await _claimed(s, lang)
    n = ref.split("-")[1]
    await speak(s, s.lead, lang)
    shown = await s.say(s.lead, f"/case {typed.format(n=n)}")
    assert ref in shown.body and "0912345678" not in shown.body
    assert tr(lang, "err.no_ref", usage="").rstrip() not in shown.body


async def test_a_ref_typed_wrong_is_told_how_refs_look(system: System, lang: str) -> None:
    s = system
    ref = await _claimed(s, lang)
    await speak(s, s.lead, lang)
    told = await s.say(s.lead, f"/case {ref}a")
    usage = tr(lang, "usage.case", ref="PL-17")
    assert told.body == tr(lang, "err.bad_ref", text=f"{ref}a", usage=usage)
