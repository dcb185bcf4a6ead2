"""A team on the in-memory unit of work, with the case service and a clock: for service tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.clock import FixedClock
from bot.domain.model import Action, Area, CaseKind, Customer, Purpose, Role, Source
from bot.domain.people import Actor, ChatBinding, Identity, Member, Team
from bot.i18n import Translator
from bot.reminders import ReminderAction, ReminderDeps, ReminderKind, remind_pass
from bot.services import commands as c
from bot.services.cases import CaseService
from bot.sla.calendar import DEFAULT_TZ
from bot.sla.policy_file import load_policy
from tests.unit.fakes import FakeUnitOfWork

POLICY = load_policy(None)  # reminders every 2 working hours, the lead told at the 2nd
TR = Translator(tz=POLICY.calendar.tz)
GROUP = "-100"
LEAD = Member("telegram:5", "Lan", Role.LEAD, "PL", None, (Identity("telegram", "5", "lan"),))
WORKER = Member("telegram:7", "Minh", Role.WORKER, "PL", None, (Identity("telegram", "7", "mi"),))
DESK = Actor(uid="api:desk", name="desk", is_system=True)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """Hà Nội time: 27 November 2026 is a Friday, 30 November a Monday, then December."""
    month = 11 if day >= 20 else 12
    return datetime(2026, month, day, hour, minute, tzinfo=DEFAULT_TZ)


@dataclass
class Desk:
    """A team, its lead and a worker on the fake unit of work, with the service and a clock."""

    uow: FakeUnitOfWork = field(default_factory=FakeUnitOfWork)
    clock: FixedClock = field(default_factory=lambda: FixedClock(local(27, 8)))

    def __post_init__(self) -> None:
        self.service = CaseService(POLICY, self.clock)
        self.deps = ReminderDeps(lambda: self.uow, POLICY, TR)

    async def seed(self) -> Desk:
        await self.uow.teams.add(Team("PL", "Đội Phủ Lý", (ChatBinding("telegram", GROUP),)))
        await self.uow.members.add(LEAD)
        await self.uow.members.add(WORKER)
        return self

    async def intake(
        self, at: datetime, kind: CaseKind = CaseKind.NEW_CONNECTION, area: Area = Area.URBAN
    ) -> str:
        self.clock.set(at)
        case, _ = await self.service.intake(
            c.IntakeCase(
                DESK,
                Source.API,
                None,
                kind=kind,
                team_code="PL",
                customer=Customer("Trần Văn Hưng", "0912345678", "Phủ Lý"),
                description="",
                external_ref=f"X-{at.isoformat()}",
                area=area,
                purpose=Purpose.DOMESTIC,
            ),
            self.uow,
        )
        return case.ref

    async def claim(self, ref: str, at: datetime) -> None:
        self.clock.set(at)
        await self.service.claim(c.ClaimCase(worker(), Source.TELEGRAM, None, ref=ref), self.uow)

    async def hold(self, ref: str, at: datetime) -> None:
        """The lead puts the case on hold."""
        self.clock.set(at)
        lead = Actor(uid=LEAD.uid, name=LEAD.name, member=LEAD)
        cmd = c.HoldCase(lead, Source.TELEGRAM, None, ref=ref, reason="chờ giấy phép")
        await self.service.hold(cmd, self.uow)

    async def step(self, ref: str, action: Action, at: datetime) -> None:
        self.clock.set(at)
        cmd = c.ReportStep(worker(), Source.TELEGRAM, None, ref=ref, action=action)
        await self.service.report_step(cmd, self.uow)

    async def run(self, at: datetime, *, dry_run: bool = False) -> list[ReminderAction]:
        self.clock.set(at)
        return await remind_pass(self.deps, at, dry_run=dry_run)

    async def kinds(self, at: datetime) -> list[ReminderKind]:
        """What a pass at `at` sends about cases (the digest has tests of its own)."""
        return [a.kind for a in await self.run(at) if a.kind is not ReminderKind.DIGEST]


def worker() -> Actor:
    return Actor(uid=WORKER.uid, name=WORKER.name, member=WORKER)
