"""The one rule for a case's clocks (bot/sla/clocks.py), and its readers agreeing on it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from bot.domain.model import Area, Case, CaseKind, CaseStatus, Customer, Purpose
from bot.sla.calendar import DEFAULT_TZ
from bot.sla.clocks import deadlines, due_clocks, refresh_clocks
from bot.sla.policy import Policy
from bot.sla.policy_file import load_policy
from storage.import_check import ParsedRow
from storage.importer import _case_values
from tests.unit.servicekit import WORKER, Desk

POLICY = load_policy(None)
FRIDAY_0900 = datetime(2026, 11, 27, 9, 0, tzinfo=DEFAULT_TZ)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """Hà Nội time, late November / early December 2026 (27 Nov is a Friday)."""
    month, day = (11, day) if day >= 20 else (12, day)
    return datetime(2026, month, day, hour, minute, tzinfo=DEFAULT_TZ)


def new_case(status: CaseStatus = CaseStatus.OPEN, **changes: object) -> Case:
    case = Case(
        id=1,
        ref="PL-1",
        external_ref=None,
        kind=CaseKind.NEW_CONNECTION,
        team_code="PL",
        status=status,
        customer=Customer("Hưng", "0912345678", "Phủ Lý"),
        area=Area.RURAL,
        purpose=Purpose.DOMESTIC,
        description="",
        received_at=FRIDAY_0900,
    )
    return replace(case, **changes)  # type: ignore[arg-type]


def test_an_open_case_is_due_to_be_claimed_first_and_checked_then() -> None:
    clocks = due_clocks(new_case(), POLICY)
    assert clocks.step_due_at == local(27, 11)  # claim within 2 working hours
    assert clocks.due_at == local(4, 9)  # rural domestic: 5 working days
    assert clocks.next_check_at == clocks.step_due_at


def test_a_step_without_a_target_leaves_the_case_deadline_as_the_next_check() -> None:
    clocks = due_clocks(new_case(CaseStatus.CLAIMED), POLICY)
    assert clocks.step_due_at is None  # surveyed has no target by default
    assert clocks.next_check_at == clocks.due_at == local(4, 9)


def test_working_time_on_hold_pushes_every_due_time_back() -> None:
    clocks = due_clocks(new_case(paused=timedelta(hours=3)), POLICY)
    assert clocks.step_due_at == local(27, 15, 30)  # 11:00 + 3 working hours, lunch skipped
    assert clocks.due_at == local(4, 13, 30)  # Friday 09:00 + 5 days + 3 working hours


def test_a_case_on_hold_keeps_its_deadline_but_has_no_step_due_and_no_check() -> None:
    clocks = due_clocks(new_case(CaseStatus.ON_HOLD, held_from=CaseStatus.CLAIMED), POLICY)
    assert clocks.due_at == local(4, 9)
    assert clocks.step_due_at is None and clocks.next_check_at is None


@pytest.mark.parametrize("status", [CaseStatus.INSTALLED, CaseStatus.CLOSED, CaseStatus.CANCELLED])
def test_a_completed_or_finished_case_has_nothing_left_to_check(status: CaseStatus) -> None:
    clocks = due_clocks(new_case(status), POLICY)
    assert clocks.next_check_at is None
    assert clocks.step_due_at is None  # only closing is left, or nothing


def test_a_late_case_being_reminded_keeps_its_reminders_pace() -> None:
    later = local(4, 11)  # the next reminder, two hours after the missed deadline
    reminded = new_case(CaseStatus.CLAIMED, reminder_count=1, next_check_at=later)
    assert due_clocks(reminded, POLICY).next_check_at == later
    # never reminded yet: the deadline itself is the next check
    assert due_clocks(replace(reminded, reminder_count=0), POLICY).next_check_at == local(4, 9)


def test_not_before_puts_the_next_check_off_but_never_brings_it_forward() -> None:
    case = new_case()
    assert due_clocks(case, POLICY, not_before=local(30, 8)).next_check_at == local(30, 8)
    assert due_clocks(case, POLICY, not_before=local(27, 8)).next_check_at == local(27, 11)


def test_refresh_clocks_sets_what_due_clocks_says() -> None:
    case = new_case(CaseStatus.CLAIMED, paused=timedelta(hours=1))
    refresh_clocks(case, POLICY)
    assert (case.due_at, case.step_due_at, case.next_check_at) == (
        due_clocks(case, POLICY).due_at,
        None,
        local(4, 10),
    )
    assert deadlines(case) == [local(4, 10)]


def test_a_policy_without_targets_gives_no_clock_at_all() -> None:
    bare = Policy(
        calendar=POLICY.calendar,
        workflow=POLICY.workflow,
        targets={},
        reminder_rules=POLICY.reminder_rules,
        digest_time=POLICY.digest_time,
        weekly_report=POLICY.weekly_report,
        install_requires_photo=False,
        legal_limits=POLICY.legal_limits,
    )
    clocks = due_clocks(new_case(), bare)
    assert (clocks.due_at, clocks.step_due_at, clocks.next_check_at) == (None, None, None)


# ---------------------------------------------------------------- both readers agree
def imported(status_steps: dict[CaseStatus, datetime], **changes: object) -> ParsedRow:
    row = ParsedRow(
        line=2,
        external_ref="X-1",
        kind=CaseKind.NEW_CONNECTION,
        team="PL",
        area=Area.RURAL,
        purpose=Purpose.DOMESTIC,
        customer_name="Hưng",
        customer_phone="0912345678",
        address="Phủ Lý",
        description="",
        received_at=FRIDAY_0900,
        steps=status_steps,
        cancelled_at=None,
        holds=(),
        assignee=WORKER.uid if status_steps else None,
        customer_cost=None,
        utility_cost=None,
        meter_serial=None,
        satisfaction=None,
    )
    return replace(row, **changes)  # type: ignore[arg-type]


async def lived(claim_at: datetime | None, hold_at: datetime | None) -> Case:
    """The same case lived through the service: received Friday 09:00, perhaps claimed,
    perhaps put on hold by the lead."""
    desk = await Desk().seed()
    ref = await desk.intake(FRIDAY_0900, area=Area.RURAL)
    if claim_at is not None:
        await desk.claim(ref, claim_at)
    if hold_at is not None:
        await desk.hold(ref, hold_at)
    case = await desk.uow.cases.get_by_ref(ref)
    assert case is not None
    return case


@pytest.mark.parametrize(
    ("claim_at", "hold_at"),
    [
        (local(27, 9, 30), None),
        (local(27, 9, 30), local(27, 10)),
        (None, local(27, 10)),  # held before anyone claimed it: no claim deadline to chase
    ],
    ids=["claimed", "claimed-then-held", "held-while-open"],
)
async def test_an_imported_case_gets_the_clocks_the_service_gives_the_same_history(
    claim_at: datetime | None, hold_at: datetime | None
) -> None:
    case = await lived(claim_at, hold_at)
    row = imported(
        {CaseStatus.CLAIMED: claim_at} if claim_at is not None else {},
        holds=((hold_at, None),) if hold_at is not None else (),
    )
    values, _ = _case_values(row, "PL-1", POLICY, FRIDAY_0900)
    assert values["status"] == case.status.value
    assert (values["due_at"], values["step_due_at"], values["next_check_at"]) == (
        case.due_at,
        case.step_due_at,
        case.next_check_at,
    )
