"""A confirmed form as the service call its typed command makes."""

from __future__ import annotations

from bot.domain.evidence import NewEvidence
from bot.domain.model import Action, Area, CaseKind, Customer, Purpose
from bot.services.cases import CaseService
from bot.services.commands import IntakeCase
from bot.services.ports import UnitOfWork
from handlers.forms.machine import FormState
from handlers.forms.spec import FieldName
from handlers.record import StepAnswer, record
from handlers.request import Request


async def execute(
    service: CaseService,
    req: Request,
    state: FormState,
    evidence: tuple[NewEvidence, ...],
    uow: UnitOfWork,
) -> None:
    values = state.values
    if state.kind is Action.INTAKE:
        await service.intake(intake_of(req, values, evidence), uow)
        return
    assert state.ref is not None
    answer = StepAnswer(
        note=values.get(FieldName.NOTE),
        customer_cost=int(values.get(FieldName.CUSTOMER_COST, 0)),
        utility_cost=int(values.get(FieldName.UTILITY_COST, 0)),
        serial=values.get(FieldName.SERIAL, ""),
        reading=values.get(FieldName.READING),
        evidence=evidence,
    )
    await record(service, req, state.kind, state.ref, answer, uow)


def intake_of(
    req: Request, values: dict[str, str], evidence: tuple[NewEvidence, ...] = ()
) -> IntakeCase:
    area, purpose = values.get(FieldName.AREA), values.get(FieldName.PURPOSE)
    return IntakeCase(
        actor=req.actor,
        source=req.source,
        origin=req.origin,
        kind=CaseKind(values[FieldName.KIND]),
        team_code=values[FieldName.TEAM],
        customer=Customer(
            values[FieldName.NAME], values[FieldName.PHONE], values[FieldName.ADDRESS]
        ),
        description=values.get(FieldName.DESCRIPTION, ""),
        area=Area(area) if area else None,
        purpose=Purpose(purpose) if purpose else None,
        evidence=evidence,
    )
