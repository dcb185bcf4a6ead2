"""Setting up teams and people the way an admin would, for service-level tests."""

from __future__ import annotations

from bot.bootstrap import Container
from bot.domain.events import Origin
from bot.domain.model import Area, CaseKind, Customer, Purpose, Role, Source
from bot.domain.people import Actor, ChatBinding, Identity, Member, Team
from bot.services import commands as c

GROUP = "-1001"


async def seed_team(container: Container, code: str = "PL", chat: str = GROUP) -> None:
    async with container.uow() as uow:
        await uow.teams.add(Team(code, f"Đội {code}", (ChatBinding("telegram", chat),)))
        await uow.commit()


async def add_member(
    container: Container, user_id: int, name: str, role: Role, team: str | None = "PL"
) -> Member:
    uid = f"telegram:{user_id}"
    member = Member(
        uid, name, role, team, None, (Identity("telegram", str(user_id), f"u{user_id}"),)
    )
    async with container.uow() as uow:
        await uow.members.add(member)
        await uow.commit()
    return member


def actor_of(member: Member) -> Actor:
    return Actor(uid=member.uid, name=member.name, member=member)


API = Actor(uid="api:intake", name="intake", is_system=True)


def intake_cmd(ext: str | None = None, kind: CaseKind = CaseKind.NEW_CONNECTION) -> c.IntakeCase:
    return c.IntakeCase(
        actor=API,
        source=Source.API,
        origin=None,
        kind=kind,
        team_code="PL",
        customer=Customer("Trần Văn Hưng", "0912345678", "12 Trần Hưng Đạo, Phủ Lý"),
        description="Đăng ký cấp điện sinh hoạt",
        external_ref=ext,
        area=Area.URBAN,
        purpose=Purpose.DOMESTIC,
    )


def origin(chat: str = GROUP) -> Origin:
    return Origin("telegram", chat, "1", "vi")
