"""What the intake API reads, on the in-memory unit of work."""

from __future__ import annotations

import pytest

from bot.domain import errors
from bot.domain.evidence import NewEvidence
from bot.domain.model import Action, Source
from bot.domain.people import Actor
from bot.services.case_reads import case_file, evidence_photo, find_cases, team_exists
from bot.services.ports import CaseQuery
from tests.unit.servicekit import POLICY, Desk, local

SCOPED_TO_DL = Actor(uid="api:dl", name="dl", is_system=True, teams=frozenset({"DL"}))
DESK = Actor(uid="api:desk", name="desk", is_system=True)


async def test_a_case_file_holds_the_history_and_the_evidence() -> None:
    desk = await Desk().seed()
    ref = await desk.intake(local(30, 8))
    await desk.claim(ref, local(30, 9))
    case = await desk.uow.cases.get_by_ref(ref)
    assert case is not None and case.id is not None
    await desk.uow.evidence.add(
        case.id, NewEvidence.location(20.5, 105.9), "telegram:7", local(30, 9), Source.TELEGRAM
    )
    found = await case_file(desk.uow, ref.lower(), DESK)
    assert found is not None and found.case.ref == ref
    assert [e.action for e in found.history] == [Action.INTAKE, Action.CLAIM]
    assert [e.latitude for e in found.evidence] == [20.5]
    assert await case_file(desk.uow, "PL-999", DESK) is None
    with pytest.raises(errors.TeamNotAllowed):
        await case_file(desk.uow, ref, SCOPED_TO_DL)


async def test_only_a_kept_photo_is_handed_out() -> None:
    desk = await Desk().seed()
    ref = await desk.intake(local(30, 8))
    case = await desk.uow.cases.get_by_ref(ref)
    assert case is not None and case.id is not None
    at = local(30, 9)
    photo = await desk.uow.evidence.add(
        case.id, NewEvidence.photo("evidence/a.jpg", "image/jpeg", 10), "x", at, Source.TELEGRAM
    )
    place = await desk.uow.evidence.add(
        case.id, NewEvidence.location(1.0, 2.0), "x", at, Source.TELEGRAM
    )
    kept = await evidence_photo(desk.uow, ref, photo, DESK)
    assert kept is not None and (kept.ref, kept.path, kept.mime) == (
        ref,
        "evidence/a.jpg",
        "image/jpeg",
    )
    assert await evidence_photo(desk.uow, ref, place, DESK) is None
    assert await evidence_photo(desk.uow, ref, 99, DESK) is None
    with pytest.raises(errors.TeamNotAllowed):
        await evidence_photo(desk.uow, ref, photo, SCOPED_TO_DL)


async def test_listing_late_cases_keeps_those_the_lateness_rule_calls_late() -> None:
    desk = await Desk().seed()
    late = await desk.intake(local(27, 8))  # its claim was due Friday 10:00
    await desk.intake(local(30, 9))  # in time at 10:00
    now = local(30, 10)
    query = CaseQuery(late_at=now)
    cases = await find_cases(desk.uow, query, POLICY.workflow, late_only=True, now=now)
    assert [c.ref for c in cases] == [late]
    every = await find_cases(desk.uow, CaseQuery(), POLICY.workflow, late_only=False, now=now)
    assert len(every) == 2
    assert await team_exists(desk.uow, "pl") and not await team_exists(desk.uow, "XX")
