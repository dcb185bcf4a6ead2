"""Service rules with a fake unit of work: no database, no chat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import errors
from bot.domain.clock import FixedClock
from bot.domain.events import CaseAssigned, CaseClaimed, CaseMoved, CaseReleased
from bot.domain.model import Action, Area, CaseKind, CaseStatus, Customer, Purpose, Role, Source
from bot.domain.people import Actor, ChatBinding, Member, Team
from bot.services import commands as c
from bot.services.cases import CaseService
from bot.sla.policy_file import load_policy
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


# ------------------------------------------------------------- every move, on the fakes
def report(actor: Member, ref: str, action: Action, note: str | None = None) -> c.ReportStep:
    return c.ReportStep(as_actor(actor), Source.TELEGRAM, None, ref=ref, action=action, note=note)


async def claimed(service: CaseService, uow: FakeUnitOfWork, who: Member = MINH) -> str:
    ref = await intake(service, uow)
    await service.claim(c.ClaimCase(as_actor(who), Source.TELEGRAM, None, ref=ref), uow)
    return ref


async def test_claim_makes_the_worker_the_assignee_and_sets_the_next_steps_clock(
    service: CaseService, uow: FakeUnitOfWork, clock: FixedClock
) -> None:
    ref = await intake(service, uow)
    clock.advance(timedelta(minutes=30))
    case = await service.claim(c.ClaimCase(as_actor(MINH), Source.TELEGRAM, None, ref=ref), uow)
    assert (case.status, case.assignee) == (CaseStatus.CLAIMED, MINH.uid)
    assert case.claimed_at == clock.now() and case.last_progress_at == clock.now()
    # surveyed has no target: the next check is the case's own deadline
    assert case.step_due_at is None and case.next_check_at == case.due_at
    assert [e.action for e in await uow.cases.history(1)] == [Action.INTAKE, Action.CLAIM]
    event = uow.published[-1]
    assert isinstance(event, CaseClaimed) and event.member == MINH


async def test_a_lead_cannot_claim_a_case_already_claimed_either(
    service: CaseService, uow: FakeUnitOfWork
) -> None:
    ref = await claimed(service, uow)
    with pytest.raises(errors.AlreadyClaimed) as refused:
        await service.claim(c.ClaimCase(as_actor(LAN), Source.TELEGRAM, None, ref=ref), uow)
    assert refused.value.owner_name == "Minh"
    assert (await uow.cases.get_by_ref(ref)).assignee == MINH.uid  # type: ignore[union-attr]


async def test_each_step_of_a_new_connection_moves_it_on_and_records_who_and_what(
    service: CaseService, uow: FakeUnitOfWork, clock: FixedClock
) -> None:
    ref = await claimed(service, uow)
    clock.advance(timedelta(hours=1))
    case = await service.report_step(report(MINH, ref, Action.SURVEY, "đã khảo sát"), uow)
    assert case.status is CaseStatus.SURVEYED and case.last_progress_at == clock.now()
    case = await service.estimate(
        c.RecordEstimate(
            as_actor(MINH),
            Source.TELEGRAM,
            None,
            ref=ref,
            customer_cost=1_500_000,
            utility_cost=3_000_000,
        ),
        uow,
    )
    assert case.status is CaseStatus.ESTIMATED and case.estimate is not None
    assert case.estimate.customer_cost == 1_500_000
    case = await service.report_step(report(MINH, ref, Action.AGREE), uow)
    assert case.status is CaseStatus.AGREED
    case = await service.install(
        c.RecordInstall(
            as_actor(MINH), Source.TELEGRAM, None, ref=ref, meter_serial="CT-9", reading="12"
        ),
        uow,
    )
    assert case.status is CaseStatus.INSTALLED and case.meter is not None
    assert case.meter.serial == "CT-9"
    # installed completes a new connection: nothing is left for the reminders to chase
    assert case.next_check_at is None
    case = await service.report_step(report(LAN, ref, Action.CLOSE), uow)
    assert case.status is CaseStatus.CLOSED and case.step_due_at is None
    history = await uow.cases.history(case.id or 0)
    assert [(e.action, e.actor) for e in history[2:]] == [
        (Action.SURVEY, MINH.uid),
        (Action.ESTIMATE, MINH.uid),
        (Action.AGREE, MINH.uid),
        (Action.INSTALL, MINH.uid),
        (Action.CLOSE, LAN.uid),
    ]
    moved = [e for e in uow.published if isinstance(e, CaseMoved)]
    assert [e.action for e in moved] == [
        Action.SURVEY,
        Action.ESTIMATE,
        Action.AGREE,
        Action.INSTALL,
        Action.CLOSE,
    ]
    assert moved[0].note == "đã khảo sát"


async def test_a_step_by_someone_else_than_the_assignee_is_refused_with_the_owners_name(
    service: CaseService, uow: FakeUnitOfWork
) -> None:
    ref = await claimed(service, uow)
    with pytest.raises(errors.NotAssignee) as refused:
        await service.report_step(report(HUNG, ref, Action.SURVEY), uow)
    assert refused.value.owner_name == "Minh"
    assert (await uow.cases.get_by_ref(ref)).status is CaseStatus.CLAIMED  # type: ignore[union-attr]


async def test_hold_then_resume_gives_the_paused_working_time_back_to_both_clocks(
    service: CaseService, uow: FakeUnitOfWork, clock: FixedClock
) -> None:
    ref = await claimed(service, uow)
    clock.advance(timedelta(minutes=30))  # Friday 09:30
    await service.hold(c.HoldCase(as_actor(LAN), Source.TELEGRAM, None, ref=ref, reason="x"), uow)
    held = await uow.cases.get_by_ref(ref)
    assert held is not None and held.held_from is CaseStatus.CLAIMED
    assert held.step_due_at is None and held.next_check_at is None
    clock.advance(timedelta(hours=2))  # Friday 11:30: two working hours on hold
    resumed = await service.resume(
        c.ResumeCase(as_actor(MINH), Source.TELEGRAM, None, ref=ref), uow
    )
    assert resumed.paused == timedelta(hours=2)
    # 5 working days from Friday 09:00, plus the two hours on hold
    assert resumed.due_at == datetime(2026, 12, 4, 4, 0, tzinfo=UTC)
    with pytest.raises(errors.NotOnHold):
        await service.resume(c.ResumeCase(as_actor(MINH), Source.TELEGRAM, None, ref=ref), uow)


async def test_assign_hands_a_case_to_a_member_of_its_team_and_names_the_previous_one(
    service: CaseService, uow: FakeUnitOfWork
) -> None:
    ref = await claimed(service, uow)
    case = await service.assign(
        c.AssignCase(as_actor(LAN), Source.TELEGRAM, None, ref=ref, member_uid=HUNG.uid), uow
    )
    assert case.assignee == HUNG.uid
    event = uow.published[-1]
    assert isinstance(event, CaseAssigned)
    assert (event.member, event.previous) == (HUNG, MINH.uid)
    with pytest.raises(errors.NotInTeam):
        await service.assign(
            c.AssignCase(as_actor(LAN), Source.TELEGRAM, None, ref=ref, member_uid=OTHER.uid), uow
        )
    with pytest.raises(errors.Forbidden):
        await service.assign(
            c.AssignCase(as_actor(MINH), Source.TELEGRAM, None, ref=ref, member_uid=MINH.uid), uow
        )


async def test_assigning_an_open_case_claims_it(service: CaseService, uow: FakeUnitOfWork) -> None:
    ref = await intake(service, uow)
    case = await service.assign(
        c.AssignCase(as_actor(LAN), Source.TELEGRAM, None, ref=ref, member_uid=MINH.uid), uow
    )
    assert (case.status, case.assignee) == (CaseStatus.CLAIMED, MINH.uid)


async def test_cancel_by_the_lead_ends_the_case_and_stops_its_reminders(
    service: CaseService, uow: FakeUnitOfWork
) -> None:
    ref = await claimed(service, uow)
    with pytest.raises(errors.Forbidden):
        await service.cancel(
            c.CancelCase(as_actor(MINH), Source.TELEGRAM, None, ref=ref, reason="x"), uow
        )
    case = await service.cancel(
        c.CancelCase(as_actor(LAN), Source.TELEGRAM, None, ref=ref, reason="khách huỷ"), uow
    )
    assert case.status is CaseStatus.CANCELLED and case.next_check_at is None
    with pytest.raises(errors.CaseFinished):
        await service.report_step(report(MINH, ref, Action.SURVEY), uow)


async def test_rating_waits_for_the_work_and_then_keeps_the_score(
    service: CaseService, uow: FakeUnitOfWork
) -> None:
    ref = await claimed(service, uow)
    rate = c.RateCase(as_actor(LAN), Source.TELEGRAM, None, ref=ref, score=9)
    with pytest.raises(errors.IllegalTransition):
        await service.rate(rate, uow)
    for action in (Action.SURVEY, Action.ESTIMATE, Action.AGREE):
        if action is Action.ESTIMATE:
            await service.estimate(
                c.RecordEstimate(
                    as_actor(MINH),
                    Source.TELEGRAM,
                    None,
                    ref=ref,
                    customer_cost=1,
                    utility_cost=2,
                ),
                uow,
            )
        else:
            await service.report_step(report(MINH, ref, action), uow)
    await service.install(
        c.RecordInstall(as_actor(MINH), Source.TELEGRAM, None, ref=ref, meter_serial="M1"), uow
    )
    with pytest.raises(errors.BadRating):
        await service.rate(c.RateCase(as_actor(LAN), Source.TELEGRAM, None, ref=ref, score=11), uow)
    case = await service.rate(rate, uow)
    assert case.satisfaction == 9


async def test_release_gives_an_untouched_claim_back_and_not_a_surveyed_one(
    service: CaseService, uow: FakeUnitOfWork
) -> None:
    ref = await claimed(service, uow)
    case = await service.release(c.ReleaseCase(as_actor(MINH), Source.TELEGRAM, None, ref=ref), uow)
    assert (case.status, case.assignee, case.claimed_at) == (CaseStatus.OPEN, None, None)
    # open again: the claim deadline is back
    assert case.step_due_at == datetime(2026, 11, 27, 4, 0, tzinfo=UTC)
    event = uow.published[-1]
    assert isinstance(event, CaseReleased) and event.previous == MINH.uid
    with pytest.raises(errors.NotClaimed):
        await service.release(c.ReleaseCase(as_actor(MINH), Source.TELEGRAM, None, ref=ref), uow)
    await service.claim(c.ClaimCase(as_actor(HUNG), Source.TELEGRAM, None, ref=ref), uow)
    await service.report_step(report(HUNG, ref, Action.SURVEY), uow)
    with pytest.raises(errors.ReleaseTooLate):
        await service.release(c.ReleaseCase(as_actor(HUNG), Source.TELEGRAM, None, ref=ref), uow)
