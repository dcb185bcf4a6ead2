"""A case and its row in `cases`: one mapping, for the repository and the importer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.domain.folding import search_key
from bot.domain.model import (
    Area,
    Case,
    CaseKind,
    CaseStatus,
    Customer,
    Estimate,
    Meter,
    Purpose,
)


def case_values(case: Case) -> dict[str, Any]:
    """The columns a case's moves change (an UPDATE writes these)."""
    return {
        "status": case.status.value,
        "held_from": case.held_from.value if case.held_from else None,
        "area": case.area.value if case.area else None,
        "purpose": case.purpose.value if case.purpose else None,
        "needs_extra_works": case.needs_extra_works,
        "customer_name": case.customer.name,
        "customer_phone": case.customer.phone,
        "customer_address": case.customer.address,
        "description": case.description,
        "received_at": case.received_at,
        "due_at": case.due_at,
        "step_due_at": case.step_due_at,
        "held_at": case.held_at,
        "paused_seconds": case.paused.total_seconds(),
        "assignee": case.assignee,
        "claimed_at": case.claimed_at,
        "last_progress_at": case.last_progress_at,
        "customer_cost": case.estimate.customer_cost if case.estimate else None,
        "utility_cost": case.estimate.utility_cost if case.estimate else None,
        "meter_serial": case.meter.serial if case.meter else None,
        "meter_reading": case.meter.reading if case.meter else None,
        "satisfaction": case.satisfaction,
        "reminder_count": case.reminder_count,
        "next_check_at": case.next_check_at,
        "search_key": search_key(case.ref, case.external_ref, case.customer.name),
    }


def new_case_values(case: Case, now: datetime) -> dict[str, Any]:
    """Every column of a new case's row (an INSERT writes these)."""
    return case_values(case) | {
        "ref": case.ref,
        "external_ref": case.external_ref,
        "integration": case.integration,
        "kind": case.kind.value,
        "team_code": case.team_code,
        "created_at": now,
        "updated_at": now,
        "version": 0,
    }


def case_from_row(row: sa.Row[Any]) -> Case:
    m = row._mapping
    estimate = (
        Estimate(int(m["customer_cost"]), int(m["utility_cost"]))
        if m["customer_cost"] is not None and m["utility_cost"] is not None
        else None
    )
    meter = Meter(m["meter_serial"], m["meter_reading"]) if m["meter_serial"] else None
    return Case(
        id=m["id"],
        ref=m["ref"],
        external_ref=m["external_ref"],
        kind=CaseKind(m["kind"]),
        team_code=m["team_code"],
        status=CaseStatus(m["status"]),
        customer=Customer(m["customer_name"], m["customer_phone"], m["customer_address"]),
        area=Area(m["area"]) if m["area"] else None,
        purpose=Purpose(m["purpose"]) if m["purpose"] else None,
        description=m["description"],
        received_at=m["received_at"],
        needs_extra_works=bool(m["needs_extra_works"]),
        assignee=m["assignee"],
        held_from=CaseStatus(m["held_from"]) if m["held_from"] else None,
        due_at=m["due_at"],
        step_due_at=m["step_due_at"],
        estimate=estimate,
        meter=meter,
        satisfaction=m["satisfaction"],
        held_at=m["held_at"],
        paused=timedelta(seconds=float(m["paused_seconds"] or 0)),
        claimed_at=m["claimed_at"],
        last_progress_at=m["last_progress_at"],
        reminder_count=int(m["reminder_count"]),
        next_check_at=m["next_check_at"],
        integration=m["integration"],
        version=int(m["version"]),
    )
