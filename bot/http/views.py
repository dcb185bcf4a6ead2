"""Cases as the intake API shows them (the contract's shape, nothing more).

Times are ISO 8601 with the offset of the policy's calendar zone (by default
Asia/Ho_Chi_Minh, ``+07:00``), to the second: the desk reads local times, and an
explicit offset keeps them unambiguous for programs. The full phone number is
included: the API's callers are the utility's own systems.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from bot.domain.model import Case, HistoryEntry


def iso(at: datetime | None, tz: tzinfo) -> str | None:
    return at.astimezone(tz).isoformat(timespec="seconds") if at is not None else None


def history_json(entry: HistoryEntry, tz: tzinfo) -> dict[str, Any]:
    return {
        "at": iso(entry.at, tz),
        "action": entry.action.value,
        "actor": entry.actor,
        "status": entry.status.value,
        "note": entry.note,
    }


def case_json(
    case: Case, tz: tzinfo, history: Sequence[HistoryEntry] | None = None
) -> dict[str, Any]:
    """The case; `history` is included when given (single case), left out in lists."""
    body: dict[str, Any] = {
        "ref": case.ref,
        "external_ref": case.external_ref,
        "kind": case.kind.value,
        "team": case.team_code,
        "status": case.status.value,
        "assignee": case.assignee,
        "customer": {
            "name": case.customer.name,
            "phone": case.customer.phone,
            "address": case.customer.address,
        },
        "area": case.area.value if case.area else None,
        "purpose": case.purpose.value if case.purpose else None,
        "received_at": iso(case.received_at, tz),
        "due_at": iso(case.due_at, tz),
        "estimate": (
            {
                "customer_cost": case.estimate.customer_cost,
                "utility_cost": case.estimate.utility_cost,
            }
            if case.estimate is not None
            else None
        ),
        "meter": (
            {"serial": case.meter.serial, "reading": case.meter.reading}
            if case.meter is not None
            else None
        ),
    }
    if history is not None:
        body["history"] = [history_json(h, tz) for h in history]
    return body
