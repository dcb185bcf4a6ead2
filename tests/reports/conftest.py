"""A hand-built November 2026 whose KPI figures were worked out by hand.

Calendar (Asia/Ho_Chi_Minh, 07:30-11:30 and 13:00-17:00, a working day is 8 h):
November 2026 starts on a Sunday; Tuesday 24 is a public holiday (Vietnam
Cultural Day); 28-29 is a weekend. Every case is played through the service
layer at the times below, so the report reads the same history the bot writes.

Each case: kind (KPI category), received, claimed (working hours to the claim),
completed, holds, and the working days from receipt to completion.

- C1 Minh, new connection urban domestic: Fri 20 16:00; claimed 16:30 (0.5 h);
  installed Wed 25 10:30. 1 h + 8 h + 0 (holiday) + 3 h = 12 h = 1.5 days.
- C2 Hùng, rural domestic: Sat 7 09:00 (weekend); claimed Mon 9 08:00 (0.5 h);
  on hold Wed 11 09:00 - Fri 13 15:00 (6.5 + 8 + 6 = 20.5 h); installed Mon 16 11:00.
  43.5 h - 20.5 h = 23 h = 2.875 days.
- C3 Minh, non-domestic (urban): Mon 2 06:00 (before hours); claimed Mon 2 13:00 (4 h);
  installed Tue 10 12:00 (lunch break). 40 + 8 + 4 = 52 h = 6.5 days: late (limit 5).
- C4 Hùng, meter complaint: Thu 26 17:30 (after hours); claimed Fri 27 07:45 (0.25 h);
  resolved Fri 27 15:00. 6 h = 0.75 days. Rated 8.
- C5 Minh, meter complaint: Fri 30 Oct 10:00; claimed 10:30 (in October); resolved
  Wed 4 16:00. 5.5 + 8 + 8 + 7 = 28.5 h = 3.5625 days: late (limit 3). Rated 6.
- C6 Hùng, mv connection (access): Mon 16 08:00; claimed 09:00 (1 h); on hold Tue 17 11:00
  - Mon 23 08:30 (29.5 h); installed Thu 26 10:00. 58 h - 29.5 h = 28.5 h = 3.5625 days.
- C7, urban domestic: Wed 25 08:00, never claimed. At 1 Dec 00:00: 31.5 h = 3.94 days,
  overdue (limit 3).
- C8 Hùng, rural domestic: Thu 26 09:00; claimed 09:30 (0.5 h); open. 22.5 h: not overdue.
- C9, contract change: Tue 3 09:00; cancelled Wed 4 09:00.
- C10 DL worker, meter complaint of team DL: Mon 9 08:00; claimed 08:30 (0.5 h);
  resolved 16:30. 7 h = 0.875 days.
- C11 Minh, meter complaint: Mon 23 08:00; claimed 08:30 (0.5 h); on hold since 10:00,
  still open. 2 h of its own time: not overdue (39.5 h if the hold counted).

C1 is rated 10. The report is made at Tue 1 Dec 10:00, after the month.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.bootstrap import Container, bootstrap
from bot.domain.clock import FixedClock
from bot.domain.model import Action, Area, CaseKind, Customer, Purpose, Role, Source
from bot.domain.people import Actor, ChatBinding, Identity, Member, Team
from bot.services import commands as c
from tests.conftest import make_settings

HN = ZoneInfo("Asia/Ho_Chi_Minh")
PL_CHAT = "-1001"
DL_CHAT = "-1002"
ADMIN = "telegram:1"
API = Actor(uid="api:intake", name="intake", is_system=True)


def nov(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=HN)


def oct_(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=HN)


AS_OF = datetime(2026, 12, 1, 10, 0, tzinfo=HN)


def member(user_id: int, name: str, role: Role, team: str | None) -> Member:
    ident = Identity("telegram", str(user_id), f"u{user_id}")
    return Member(f"telegram:{user_id}", name, role, team, None, (ident,))


LEAD = member(5, "Trưởng nhóm Lan", Role.LEAD, "PL")
CLERK = member(6, "Giao dịch Thu", Role.CLERK, None)
MINH = member(7, "Thợ Minh", Role.WORKER, "PL")
HUNG = member(8, "Thợ Hùng", Role.WORKER, "PL")
DL_WORKER = member(9, "Thợ Duy", Role.WORKER, "DL")
DL_LEAD = member(10, "Trưởng nhóm Dũng", Role.LEAD, "DL")
PEOPLE = (LEAD, CLERK, MINH, HUNG, DL_WORKER, DL_LEAD)


async def seed_people(container: Container) -> None:
    async with container.uow() as uow:
        await uow.teams.add(Team("PL", "Phủ Lý", (ChatBinding("telegram", PL_CHAT),)))
        await uow.teams.add(Team("DL", "Duy Tiên", (ChatBinding("telegram", DL_CHAT),)))
        for m in PEOPLE:
            await uow.members.add(m)
        await uow.commit()


def actor(m: Member) -> Actor:
    return Actor(uid=m.uid, name=m.name, member=m)


@dataclass
class Desk:
    """Plays cases through the service layer, each action at its own time."""

    container: Container
    clock: FixedClock

    async def receive(
        self,
        ext: str,
        kind: CaseKind,
        at: datetime,
        *,
        team: str = "PL",
        area: Area | None = None,
        purpose: Purpose | None = None,
    ) -> str:
        self.clock.set(at)
        cmd = c.IntakeCase(
            actor=API,
            source=Source.API,
            origin=None,
            kind=kind,
            team_code=team,
            customer=Customer("Trần Văn Hưng", "0912345678", "12 Trần Hưng Đạo, Phủ Lý"),
            description="",
            external_ref=ext,
            area=area,
            purpose=purpose,
            received_at=at,
        )
        case, created = await self.container.service.intake(cmd, self.container.uow())
        assert created
        return case.ref

    async def claim(self, ref: str, who: Member, at: datetime) -> None:
        self.clock.set(at)
        cmd = c.ClaimCase(actor=actor(who), source=Source.TELEGRAM, origin=None, ref=ref)
        await self.container.service.claim(cmd, self.container.uow())

    async def step(self, ref: str, action: Action, who: Member, at: datetime) -> None:
        self.clock.set(at)
        svc, uow = self.container.service, self.container.uow()
        base = {"actor": actor(who), "source": Source.TELEGRAM, "origin": None, "ref": ref}
        if action is Action.ESTIMATE:
            await svc.estimate(
                c.RecordEstimate(**base, customer_cost=1_500_000, utility_cost=0), uow
            )
        elif action is Action.INSTALL:
            await svc.install(c.RecordInstall(**base, meter_serial=f"CT-{ref}"), uow)
        else:
            await svc.report_step(c.ReportStep(**base, action=action, note="ok"), uow)

    async def steps(self, ref: str, who: Member, *timed: tuple[Action, datetime]) -> None:
        for action, at in timed:
            await self.step(ref, action, who, at)

    async def hold(self, ref: str, who: Member, at: datetime) -> None:
        self.clock.set(at)
        cmd = c.HoldCase(actor(who), Source.TELEGRAM, None, ref=ref, reason="chờ giấy phép")
        await self.container.service.hold(cmd, self.container.uow())

    async def resume(self, ref: str, who: Member, at: datetime) -> None:
        self.clock.set(at)
        cmd = c.ResumeCase(actor(who), Source.TELEGRAM, None, ref=ref)
        await self.container.service.resume(cmd, self.container.uow())

    async def cancel(self, ref: str, at: datetime) -> None:
        self.clock.set(at)
        cmd = c.CancelCase(actor(LEAD), Source.TELEGRAM, None, ref=ref, reason="khách rút hồ sơ")
        await self.container.service.cancel(cmd, self.container.uow())

    async def rate(self, ref: str, score: int, at: datetime) -> None:
        self.clock.set(at)
        cmd = c.RateCase(actor(CLERK), Source.TELEGRAM, None, ref=ref, score=score)
        await self.container.service.rate(cmd, self.container.uow())


SURVEY, ESTIMATE, AGREE, INSTALL, INSPECT, RESOLVE = (
    Action.SURVEY,
    Action.ESTIMATE,
    Action.AGREE,
    Action.INSTALL,
    Action.INSPECT,
    Action.RESOLVE,
)


async def play_november(desk: Desk) -> dict[str, str]:
    """The cases listed above; returns case name → ref."""
    d = desk
    refs: dict[str, str] = {}
    nc, mc = CaseKind.NEW_CONNECTION, CaseKind.METER_COMPLAINT
    urban, rural = Area.URBAN, Area.RURAL
    dom, non = Purpose.DOMESTIC, Purpose.NON_DOMESTIC

    refs["C5"] = r = await d.receive("C5", mc, oct_(30, 10))
    await d.claim(r, MINH, oct_(30, 10, 30))
    await d.steps(r, MINH, (INSPECT, nov(2, 9)), (RESOLVE, nov(4, 16)))
    await d.rate(r, 6, nov(5, 9))

    refs["C3"] = r = await d.receive("C3", nc, nov(2, 6), area=urban, purpose=non)
    await d.claim(r, MINH, nov(2, 13))
    await d.steps(
        r,
        MINH,
        (SURVEY, nov(3, 9)),
        (ESTIMATE, nov(4, 9)),
        (AGREE, nov(5, 9)),
        (INSTALL, nov(10, 12)),
    )

    refs["C9"] = r = await d.receive("C9", CaseKind.CONTRACT_CHANGE, nov(3, 9))
    await d.cancel(r, nov(4, 9))

    refs["C2"] = r = await d.receive("C2", nc, nov(7, 9), area=rural, purpose=dom)
    await d.claim(r, HUNG, nov(9, 8))
    await d.steps(r, HUNG, (SURVEY, nov(9, 14)), (ESTIMATE, nov(10, 9)), (AGREE, nov(10, 10)))
    await d.hold(r, HUNG, nov(11, 9))
    await d.resume(r, HUNG, nov(13, 15))
    await d.step(r, INSTALL, HUNG, nov(16, 11))

    refs["C10"] = r = await d.receive("C10", mc, nov(9, 8), team="DL")
    await d.claim(r, DL_WORKER, nov(9, 8, 30))
    await d.steps(r, DL_WORKER, (INSPECT, nov(9, 10)), (RESOLVE, nov(9, 16, 30)))

    refs["C6"] = r = await d.receive("C6", CaseKind.MV_CONNECTION, nov(16, 8))
    await d.claim(r, HUNG, nov(16, 9))
    await d.step(r, SURVEY, HUNG, nov(17, 10))
    await d.hold(r, HUNG, nov(17, 11))
    await d.resume(r, HUNG, nov(23, 8, 30))
    await d.steps(r, HUNG, (AGREE, nov(23, 14)), (INSTALL, nov(26, 10)))

    refs["C1"] = r = await d.receive("C1", nc, nov(20, 16), area=urban, purpose=dom)
    await d.claim(r, MINH, nov(20, 16, 30))
    await d.steps(
        r,
        MINH,
        (SURVEY, nov(23, 8)),
        (ESTIMATE, nov(23, 9)),
        (AGREE, nov(23, 10)),
        (INSTALL, nov(25, 10, 30)),
    )
    await d.rate(r, 10, nov(25, 11))

    refs["C11"] = r = await d.receive("C11", mc, nov(23, 8))
    await d.claim(r, MINH, nov(23, 8, 30))
    await d.hold(r, MINH, nov(23, 10))

    refs["C7"] = await d.receive("C7", nc, nov(25, 8), area=urban, purpose=dom)

    refs["C4"] = r = await d.receive("C4", mc, nov(26, 17, 30))
    await d.claim(r, HUNG, nov(27, 7, 45))
    await d.steps(r, HUNG, (INSPECT, nov(27, 9)), (RESOLVE, nov(27, 15)))
    await d.rate(r, 8, nov(27, 16))

    refs["C8"] = r = await d.receive("C8", nc, nov(26, 9), area=rural, purpose=dom)
    await d.claim(r, HUNG, nov(26, 9, 30))

    desk.clock.set(AS_OF)
    return refs


@pytest.fixture
async def container(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> AsyncIterator[Container]:
    settings = make_settings(database_url, tmp_path, admin_ids=ADMIN)
    built = await bootstrap(settings, clock=clock, channels={})
    try:
        await seed_people(built)
        yield built
    finally:
        await built.close()


@pytest.fixture
async def november(container: Container, clock: FixedClock) -> dict[str, str]:
    return await play_november(Desk(container, clock))
