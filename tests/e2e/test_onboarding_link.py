"""One person, two channels: a member's own link code, made in their private chat and
opened on the other channel with `/start CODE`, makes that account the same member
(name, role, team, cases) once the account that made the code confirms it was them.

Also the attack an outside probe found (issue 12): a code shown in a group and opened
by a stranger on Zalo made him that member. Now a code is never shown in a group,
opening it only asks, only the code's own account can confirm, and both steps last
minutes.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.domain.clock import FixedClock
from bot.domain.people import Member
from bot.services.invites import LINK_CONFIRM_TTL, LINK_TTL
from sandbox.phones import Person, Seen, TelegramPhone, say
from storage import tables as t
from tests.e2e.conftest import Stage, new_connection, running_stage
from tests.e2e.fieldkit import tr

ZALO_MINH = "0a1b2c3d4e5f60009902"
ZALO_STRANGER = "0a1b2c3d4e5f60009966"
TG_HUNG = 3003
MINUTES = timedelta(minutes=10)


@pytest.fixture
async def both(database_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Stage]:
    where = {"lead": "telegram", "minh": "telegram", "hung": "zalo"}
    async with running_stage(database_url, tmp_path, clock, where) as stage:
        yield stage


def code_in(text: str) -> str:
    found = re.search(r"/start ([A-Z0-9]{10})", text)
    assert found is not None, text
    return found.group(1)


def telegram(s: Stage) -> TelegramPhone:
    phone = s.phones["telegram"]
    assert isinstance(phone, TelegramPhone)
    return phone


async def member_on(s: Stage, channel: str, user_id: str) -> Member | None:
    async with s.container.uow() as uow:
        return await uow.members.by_identity(channel, user_id)


async def link_code(s: Stage, who: Person) -> str:
    """`/invite link` in the person's private chat; the code it shows."""
    issued = await say(s.phone(who), who, who.user_id, "/invite link")
    assert tr("vi", "invite.link_how", minutes=10) in issued.body
    return code_in(issued.body)


async def question(s: Stage, owner: Person, opener: str, channel: str, after: int = 0) -> Seen:
    """The "was it you?" the code's maker gets in their private chat."""
    text = tr("vi", "invite.link_request", who=opener, channel=channel)
    return await s.phone(owner).wait_for(owner.user_id, text, after=after)


async def press(s: Stage, who: Person, message: Seen, label: str) -> str:
    """Press a button of a Telegram message; returns the toast."""
    client = telegram(s).client
    pressed = await client.press_button(int(who.user_id), int(message.chat), int(message.id), label)
    return (await client.wait_for_answer(pressed)).text or ""


async def test_a_member_links_their_zalo_account_after_confirming_it_was_them(
    both: Stage,
) -> None:
    s = both
    minh = s.minh
    code = await link_code(s, minh)
    assert s.zalo is not None
    await s.zalo.add_user(ZALO_MINH, "Minh Đỗ")
    on_zalo = Person("minh_zalo", "Minh", "zalo", ZALO_MINH)
    zalo = s.phones["zalo"]

    # Opening the code only asks: nothing is linked before Minh says it was him.
    waiting = await say(zalo, on_zalo, ZALO_MINH, f"/start {code}")
    assert waiting.body == tr("vi", "invite.link_waiting", channel="Telegram", minutes=10)
    assert await member_on(s, "zalo", ZALO_MINH) is None
    asked = await question(s, minh, "Minh Đỗ", "Zalo")
    assert asked.offers == (tr("vi", "invite.btn.link_yes"), tr("vi", "invite.btn.link_no"))

    toast = await press(s, minh, asked, tr("vi", "invite.btn.link_yes"))
    assert toast == tr("vi", "invite.link_confirmed", who="Minh Đỗ", channel="Zalo")
    linked = await zalo.wait_for(
        ZALO_MINH, tr("vi", "invite.linked", name="Minh", role=tr("vi", "role.worker"), team="PL")
    )
    assert linked.from_bot
    member = await member_on(s, "zalo", ZALO_MINH)
    assert member is not None and member.uid == minh.uid
    assert {i.channel for i in member.identities} == {"telegram", "zalo"}

    # Minh's case, claimed on Telegram, is his on Zalo too.
    _, body = await s.intake(new_connection())
    ref = body["ref"]
    await s.card("telegram", ref)
    await say(s.phone(minh), minh, s.group(minh), f"/claim {ref}")
    mine = await say(zalo, on_zalo, ZALO_MINH, "/mine")
    assert ref in mine.body

    # The code worked once; pressing again changes nothing.
    await s.zalo.add_user("0a1b2c3d4e5f60009903", "Người khác")
    other = Person("other", "Khác", "zalo", "0a1b2c3d4e5f60009903")
    again = await say(zalo, other, other.user_id, f"/start {code}")
    assert again.body == tr("vi", "invite.invalid.used")
    assert await press(s, minh, asked, tr("vi", "invite.btn.link_yes")) == tr(
        "vi", "invite.invalid.used"
    )
    # Opened where the member already is, a code says to use the other channel.
    second = await link_code(s, minh)
    same = await say(s.phone(minh), minh, minh.user_id, f"/start {second}")
    assert same.body == tr("vi", "invite.same_channel")


async def test_a_link_code_asked_for_in_a_group_is_refused_and_never_shown_there(
    both: Stage,
) -> None:
    s = both
    minh = s.minh
    refused = await s.say(minh, "/invite link")
    assert refused.body == tr("vi", "invite.link_private_only")
    await s.settled()
    shown = [m.body for m in await s.phone(minh).messages(s.group(minh)) if m.from_bot]
    assert not any("/start" in body or "t.me/" in body for body in shown), shown
    async with s.container.engine.connect() as conn:
        made = (await conn.execute(sa.select(sa.func.count()).select_from(t.invites))).scalar()
    assert made == 0
    # On Zalo too (Hùng is there): refused in the group.
    on_zalo = await s.say(s.hung, "/invite link")
    assert on_zalo.body == tr("vi", "invite.link_private_only")


async def test_a_stranger_who_opens_a_leaked_link_code_gets_nothing(both: Stage) -> None:
    """The probe's attack: the code leaked, a stranger on Zalo opens it first."""
    s = both
    minh, lead = s.minh, s.lead
    code = await link_code(s, minh)
    assert s.zalo is not None
    await s.zalo.add_user(ZALO_STRANGER, "Kẻ Lạ")
    stranger = Person("stranger", "Kẻ Lạ", "zalo", ZALO_STRANGER)
    zalo = s.phones["zalo"]
    _, body = await s.intake(new_connection())
    ref = body["ref"]

    waiting = await say(zalo, stranger, ZALO_STRANGER, f"/start {code}")
    assert waiting.body == tr("vi", "invite.link_waiting", channel="Telegram", minutes=10)
    # He is nobody: he cannot cancel a case, ask for a lead invite or confirm himself.
    for typed in (f"/cancel {ref} khách rút hồ sơ", "/invite lead", f"/invite ok {code}"):
        answer = await say(zalo, stranger, ZALO_STRANGER, typed)
        assert answer.body == tr("vi", "start.stranger", uid=f"zalo:{ZALO_STRANGER}"), typed
    assert (await s.case(ref))["status"] == "open"
    assert await member_on(s, "zalo", ZALO_STRANGER) is None

    # Nobody but the account that made the code can confirm: not even the team's lead.
    by_lead = await say(s.phone(lead), lead, lead.user_id, f"/invite ok {code}")
    assert by_lead.body == tr("vi", "invite.not_code_owner")
    assert await member_on(s, "zalo", ZALO_STRANGER) is None

    # Minh is asked, sees a name he does not know, and says no.
    asked = await question(s, minh, "Kẻ Lạ", "Zalo")
    assert await press(s, minh, asked, tr("vi", "invite.btn.link_no")) == tr(
        "vi", "invite.link_refused"
    )
    await zalo.wait_for(ZALO_STRANGER, tr("vi", "invite.link_declined"))
    assert await member_on(s, "zalo", ZALO_STRANGER) is None
    again = await say(zalo, stranger, ZALO_STRANGER, f"/start {code}")
    assert again.body == tr("vi", "invite.invalid.used")
    member = await member_on(s, "telegram", minh.user_id)
    assert member is not None and [i.channel for i in member.identities] == ["telegram"]


async def test_link_codes_expire_within_minutes(both: Stage, clock: FixedClock) -> None:
    s = both
    minh = s.minh
    assert s.zalo is not None
    await s.zalo.add_user(ZALO_MINH, "Minh Đỗ")
    on_zalo = Person("minh_zalo", "Minh", "zalo", ZALO_MINH)
    zalo = s.phones["zalo"]
    assert max(LINK_TTL, LINK_CONFIRM_TTL) <= MINUTES  # "within minutes"

    # Not opened in time.
    late = await link_code(s, minh)
    clock.advance(LINK_TTL + timedelta(seconds=1))
    opened = await say(zalo, on_zalo, ZALO_MINH, f"/start {late}")
    assert opened.body == tr("vi", "invite.invalid.expired")

    # Opened in time, confirmed too late.
    code = await link_code(s, minh)
    await say(zalo, on_zalo, ZALO_MINH, f"/start {code}")
    asked = await question(s, minh, "Minh Đỗ", "Zalo")
    clock.advance(LINK_CONFIRM_TTL + timedelta(seconds=1))
    toast = await press(s, minh, asked, tr("vi", "invite.btn.link_yes"))
    assert toast == tr("vi", "invite.invalid.expired")
    assert await member_on(s, "zalo", ZALO_MINH) is None


async def test_on_zalo_the_code_maker_confirms_by_typing(both: Stage) -> None:
    """Zalo has no buttons: the question says what to type, and only that account may."""
    s = both
    hung = s.hung  # on Zalo; he links his Telegram account
    code = await link_code(s, hung)
    client = telegram(s).client
    tg_hung = await client.add_user(TG_HUNG, "Hùng", username="hung_tg", language_code="vi")
    on_telegram = Person("hung_tg", "Hùng", "telegram", str(tg_hung.id))
    waiting = await say(s.phones["telegram"], on_telegram, on_telegram.user_id, f"/start {code}")
    assert waiting.body == tr("vi", "invite.link_waiting", channel="Zalo", minutes=10)
    asked = await question(s, hung, "Hùng (@hung_tg)", "Telegram")
    assert tr("vi", "invite.link_typed", code=code) in asked.body

    # Someone else typing the same words changes nothing.
    minh = s.minh
    other = await say(s.phone(minh), minh, minh.user_id, f"/invite ok {code}")
    assert other.body == tr("vi", "invite.not_code_owner")
    assert await member_on(s, "telegram", on_telegram.user_id) is None

    done = await say(s.phone(hung), hung, hung.user_id, f"/invite ok {code.lower()}")
    assert done.body == tr("vi", "invite.link_confirmed", who="Hùng (@hung_tg)", channel="Telegram")
    await s.phones["telegram"].wait_for(on_telegram.user_id, "🔗")
    member = await member_on(s, "telegram", on_telegram.user_id)
    assert member is not None and member.uid == hung.uid
