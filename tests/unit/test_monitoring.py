"""What /healthz and /metrics read, on the in-memory unit of work."""

from __future__ import annotations

import pytest

from bot.domain.model import Action, CaseStatus
from bot.services.monitoring import case_figures, store_answers
from bot.services.ports import CaseTally
from tests.unit.servicekit import POLICY, Desk, local


async def test_case_figures_count_by_team_and_status_and_late_as_overdue_does() -> None:
    desk = await Desk().seed()
    await desk.intake(local(27, 8))  # its claim was due Friday 10:00: late
    await desk.intake(local(30, 9))  # due at 11:00: in time at 10:00
    held = await desk.intake(local(27, 8, 30))
    await desk.claim(held, local(27, 9))
    await desk.step(held, Action.SURVEY, local(27, 9, 30))
    figures = await case_figures(desk.uow, POLICY.workflow, local(30, 10))
    assert figures.by_status == [
        CaseTally("PL", CaseStatus.OPEN, 2),
        CaseTally("PL", CaseStatus.SURVEYED, 1),
    ]
    assert figures.overdue == {"PL": 1}


async def test_the_store_answers_or_the_health_check_says_so() -> None:
    desk = await Desk().seed()
    await store_answers(desk.uow)
    desk.uow.down = True
    with pytest.raises(ConnectionError):
        await store_answers(desk.uow)
