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

from bot.domain.evidence import Evidence, EvidenceKind
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


def evidence_url(ref: str, evidence_id: int) -> str:
    return f"/api/v1/cases/{ref}/evidence/{evidence_id}"


def evidence_json(item: Evidence, ref: str, tz: tzinfo) -> dict[str, Any]:
    """A photo (with the URL that serves it) or a location; who sent it and when.

    After a purge the file and the coordinates are gone: `url` and the position are null.
    """
    photo = item.kind is EvidenceKind.PHOTO and item.path is not None
    return {
        "id": item.id,
        "kind": item.kind.value,
        "at": iso(item.at, tz),
        "actor": item.actor,
        "mime": item.mime,
        "size": item.size,
        "latitude": item.latitude,
        "longitude": item.longitude,
        "url": evidence_url(ref, item.id) if photo else None,
    }


def case_json(
    case: Case,
    tz: tzinfo,
    history: Sequence[HistoryEntry] | None = None,
    evidence: Sequence[Evidence] | None = None,
) -> dict[str, Any]:
    """The case; `history` and `evidence` are included when given (single case), left
    out in lists."""
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
    if evidence is not None:
        body["evidence"] = [evidence_json(e, case.ref, tz) for e in evidence]
    return body
