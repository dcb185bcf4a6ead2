"""Service rules with a fake unit of work: no database, no chat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import errors
from bot.domain.clock import FixedClock
from bot.domain.events import CaseClaimed, CaseMoved
from bot.domain.model import Action, Area, CaseKind, CaseStatus, Customer, Purpose, Role, Source
from bot.domain.people import Actor, ChatBinding, Member, Team
from bot.services import commands as c
from bot.services.cases import CaseService
from bot.sla.policy import load_policy
from tests.unit.fakes import FakeUnitOfWork

SYSTEM = Actor(uid="api:desk", name="desk", is_system=True)
MINH = Member("telegram:2", "Minh", Role.WORKER, "PL")
HUNG = Member("telegram:3", "Hùng", Role.WORKER, "PL")
LAN = Member("telegram:1", "Lan", Role.LEAD, "PL")
OTHER = Member("telegram:9", "Quang", Role.LEAD, "DL")


def as_actor(m: Member) -> Actor:
    return Actor(uid=m.uid, name=m.name, member=m)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))  # Friday 09:00 +07


@pytest.fixture
def service(clock: FixedClock) -> CaseService:
    return CaseService(load_policy(None), clock)


@pytest.fixture
async def uow() -> FakeUnitOfWork:
    fake = FakeUnitOfWork()
    await fake.teams.add(Team("PL", "Phủ Lý", (ChatBinding("telegram", "-1"),)))
    for m in (MINH, HUNG, LAN, OTHER):
        await fake.members.add(m)
    return fake


async def intake(service: CaseService, uow: FakeUnitOfWork) -> str:
    case, created = await service.intake(
        c.IntakeCase(
            SYSTEM,
            Source.API,
            None,
            kind=CaseKind.NEW_CONNECTION,
            team_code="PL",
            customer=Customer("Hưng", "0912345678", "Phủ Lý"),
            description="",
            external_ref="X-1",
            area=Area.RURAL,
            purpose=Purpose.DOMESTIC,
        ),
        uow,
    )
    assert created
    return case.ref


async def test_intake_sets_due_time_in_working_days(
    service: CaseService, uow: FakeUnitOfWork
) -> None:
    ref = await intake(service, uow)
    case = await uow.cases.get_by_ref(ref)
    assert case is not None
    # rural domestic: 5 working days from Friday 09:00 is next Friday 09:00
    assert case.due_at == datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    # the claim is due 2 working hours later
    assert case.step_due_at == datetime(2026, 11, 27, 4, 0, tzinfo=UTC)


async def test_second_claim_is_refused_and_names_the_owner(
    service: CaseService, uow: FakeUnitOfWork
) -> None:
    ref = await intake(service, uow)
    await service.claim(c.ClaimCase(as_actor(MINH), Source.TELEGRAM, None, ref=ref), uow)
    with pytest.raises(errors.AlreadyClaimed) as refused:
        await service.claim(c.ClaimCase(as_actor(HUNG), Source.TELEGRAM, None, ref=ref), uow)
    assert refused.value.owner_name == "Minh"
    assert [type(e) for e in uow.published].count(CaseClaimed) == 1


async def test_wrong_step_changes_nothing_and_says_what_is_next(
    service: CaseService, uow: FakeUnitOfWork
) -> None:
    ref = await intake(service, uow)
    await service.claim(c.ClaimCase(as_actor(MINH), Source.TELEGRAM, None, ref=ref), uow)
    before = await uow.cases.get_by_ref(ref)
    commits = uow.commits
    with pytest.raises(errors.IllegalTransition) as refused:
        await service.install(
            c.RecordInstall(as_actor(MINH), Source.TELEGRAM, None, ref=ref, meter_serial="CT1"), uow
        )
    assert refused.value.expected is CaseStatus.SURVEYED
    assert await uow.cases.get_by_ref(ref) == before and uow.commits == commits


async def test_other_teams_lead_is_not_a_member(service: CaseService, uow: FakeUnitOfWork) -> None:
    ref = await intake(service, uow)
    with pytest.raises(errors.NotMember):
        await service.cancel(
            c.CancelCase(as_actor(OTHER), Source.TELEGRAM, None, ref=ref, reason="x"), uow
        )


async def test_hold_pauses_the_clock_and_resume_keeps_the_time_used(
    service: CaseService, uow: FakeUnitOfWork, clock: FixedClock
) -> None:
    ref = await intake(service, uow)
    await service.claim(c.ClaimCase(as_actor(MINH), Source.TELEGRAM, None, ref=ref), uow)
    due_before = (await uow.cases.get_by_ref(ref)).due_at  # type: ignore[union-attr]
    clock.advance(timedelta(hours=1))  # Friday 10:00
    held = await service.hold(
        c.HoldCase(as_actor(MINH), Source.TELEGRAM, None, ref=ref, reason="khách chưa sẵn sàng"),
        uow,
    )
    assert held.status is CaseStatus.ON_HOLD and held.next_check_at is None
    with pytest.raises(errors.CaseOnHold):
        await service.report_step(
            c.ReportStep(
                as_actor(MINH), Source.TELEGRAM, None, ref=ref, action=Action.SURVEY, note="x"
            ),
            uow,
        )
    clock.advance(timedelta(days=3))  # Monday 10:00: one working day on hold
    resumed = await service.resume(
        c.ResumeCase(as_actor(MINH), Source.TELEGRAM, None, ref=ref), uow
    )
    assert resumed.status is CaseStatus.CLAIMED
    assert resumed.paused == timedelta(hours=8)
    assert due_before is not None and resumed.due_at is not None
    # one working day on hold moves Friday 4 Dec 09:00 to Monday 7 Dec 09:00
    assert resumed.due_at - due_before == timedelta(days=3)
    assert isinstance(uow.published[-1], CaseMoved) and uow.published[-1].action is Action.RESUME
