"""A step as a person gave it, typed or through its form, to the service call that
records it: the same call either way, so the case, its history and every message
are alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, assert_never

from bot.domain.evidence import NewEvidence
from bot.domain.model import Action, Case
from bot.domain.steps import Records, step_of
from bot.services.cases import CaseService
from bot.services.commands import (
    CaseCommand,
    ClaimCase,
    RecordEstimate,
    RecordInstall,
    ReportStep,
)
from bot.services.ports import UnitOfWork

CommandT = TypeVar("CommandT", bound=CaseCommand)


class Speaker(Protocol):
    """Who gives a step and from where: a chat's `Request`, or the board's session."""

    def command(self, kind: type[CommandT], ref: str, **values: Any) -> CommandT: ...


@dataclass(frozen=True)
class StepAnswer:
    """What came with a step; which parts count is the step's `Records`."""

    note: str | None = None
    customer_cost: int = 0
    utility_cost: int = 0
    serial: str = ""
    reading: str | None = None
    evidence: tuple[NewEvidence, ...] = ()


async def record(
    service: CaseService,
    req: Speaker,
    action: Action,
    ref: str,
    answer: StepAnswer,
    uow: UnitOfWork,
) -> Case:
    said = {"note": answer.note, "evidence": answer.evidence}
    records = step_of(action).records
    match records:
        case Records.ASSIGNEE:
            return await service.claim(req.command(ClaimCase, ref), uow)
        case Records.NOTE:
            return await service.report_step(
                req.command(ReportStep, ref, action=action, **said), uow
            )
        case Records.COSTS:
            costs = {"customer_cost": answer.customer_cost, "utility_cost": answer.utility_cost}
            return await service.estimate(req.command(RecordEstimate, ref, **costs, **said), uow)
        case Records.METER:
            meter = {"meter_serial": answer.serial, "reading": answer.reading}
            return await service.install(req.command(RecordInstall, ref, **meter, **said), uow)
        case _:
            assert_never(records)
