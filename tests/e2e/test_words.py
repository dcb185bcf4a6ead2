"""Issue 15 item 7 through the sandbox: /help shows only what a person's role may do,
the admin of ADMIN_IDS is greeted as such at /start, photos are numbered per case, and
the words are the team's own, in Vietnamese and in English."""

from __future__ import annotations

import pytest

from sandbox.telegram import make_png
from tests.e2e.conftest import GROUP, System, meter_complaint, new_connection
from tests.e2e.fieldkit import speak, tr


@pytest.fixture(params=["vi", "en"])
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_help_is_short_and_fits_the_role(system: System, lang: str) -> None:
    s = system
    answers = {}
    for who in (s.minh, s.lead, s.clerk):
        await speak(s, who, lang)
        answers[who.first_name] = (await s.say(who, "/help", chat=who.id)).body
    worker, lead, clerk = answers["Minh"], answers["Lan"], answers["Thu"]
    for text in (worker, lead, clerk):
        assert text.split("\n")[0] == tr(lang, "help.title")
        assert len(text.split("\n")) <= 10, text
        assert "/bindteam" not in text
    assert "/claim" in worker and "/assign" not in worker and "/new" not in worker
    assert "/report" not in worker and tr(lang, "help.topic.link") in worker
    assert "/assign" in lead and "/report" in lead and "/remove" in lead
    team = tr(
        lang, "help.line", commands="/invite /remove /unbindteam", text=tr(lang, "help.topic.team")
    )
    assert team in lead.split("\n") and tr(lang, "help.topic.link") not in lead
    assert "/new" in clerk and "/rate" in clerk and "/claim" not in clerk
    assert "/survey" not in clerk  # the clerk files cases; she does not survey them


async def test_the_admin_is_recognised_at_start(system: System, lang: str) -> None:
    s = system
    admin = await s.client.add_user(9001, "Quản", last_name="Lê", language_code=lang)
    hello = await s.say(admin, "/start", chat=admin.id)
    lines = hello.body.split("\n")
    assert lines[0] == tr(lang, "start.admin", name="Lê Quản")  # family name first
    assert tr(lang, "help.title") in lines and "/bindteam" in hello.body
    assert "/assign" in hello.body


async def test_photos_are_numbered_per_case(system: System) -> None:
    s = system
    refs = []
    for body in (new_connection(), meter_complaint()):
        _, made = await s.intake(body)
        refs.append(str(made["ref"]))
        await s.card(refs[-1])
        await s.say(s.minh, f"/claim {refs[-1]}")
    first, second = refs
    for ref, count in ((first, 2), (second, 1)):
        card = await s.card(ref)
        for _ in range(count):
            sent = await s.client.send_photo(
                s.minh, GROUP, make_png(9, 9), reply_to=card.message_id
            )
            mine = sent.message_id
            await s.client.wait_for_message(GROUP, where=lambda m, mine=mine: m.reply_to == mine)
    shown = (await s.say(s.minh, f"/case {second}")).body
    assert "📷 Ảnh 1 ·" in shown and "Ảnh 2" not in shown and "#" not in shown
    assert tr("vi", "evidence.title", count=1) in shown
    shown = (await s.say(s.minh, f"/case {first}")).body
    assert "📷 Ảnh 1 ·" in shown and "📷 Ảnh 2 ·" in shown


async def test_the_card_names_the_case_type_apart_from_the_inspection(system: System) -> None:
    s = system
    _, made = await s.intake(meter_complaint())
    card = await s.card(str(made["ref"]))
    assert tr("vi", "kind.meter_complaint") in card.body.split("\n")[0]
    assert tr("vi", "form.kind.inspect") not in card.body
    assert [b.text for b in card.buttons] == [tr("vi", "button.claim")]
