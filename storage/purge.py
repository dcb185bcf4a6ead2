"""Anonymising old closed cases (Decree 13/2023: keep personal data no longer than needed).

What goes: the customer's name, phone, address and the description; photo files
and the location of evidence; the text of every chat message about the case
(cards and the claimer's contact message quote the customer). What stays:
everything the KPIs are computed from (kind, team, area, purpose, every
timestamp, amounts, meter, satisfaction) and the history, whose notes never hold
a phone number because they are redacted as they are written. Reports still add up.

Each batch is one transaction; a second run finds nothing left to do.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.domain.model import CaseStatus
from storage import tables
from storage.outbox_store import DeliveryState
from storage.tables import CASES, EVIDENCE, OUTBOX

#: What an anonymised case shows where the customer's name was.
ANONYMISED_NAME = "—"
#: The payload left in a delivered outbox row: its dedupe key and id stay useful.
CLEARED_PAYLOAD = {"text": ""}
BATCH = 500

_FINISHED = (CaseStatus.CLOSED.value, CaseStatus.CANCELLED.value)


@dataclass(frozen=True)
class PurgeResult:
    cases: int = 0
    files: int = 0
    messages: int = 0


async def purge_closed_before(
    engine: AsyncEngine, cutoff: datetime, media_dir: Path, *, dry_run: bool = False
) -> PurgeResult:
    """Anonymise cases closed or cancelled before `cutoff` that are not anonymised yet."""
    total = PurgeResult()
    while True:
        async with engine.begin() as conn:
            ids = await _next_batch(conn, cutoff, BATCH if not dry_run else None)
            if not ids:
                return total
            if dry_run:
                return PurgeResult(cases=len(ids))
            files = await _evidence(conn, ids)
            messages = await _messages(conn, ids)
            await conn.execute(
                sa.update(tables.cases)
                .where(CASES.id.in_(ids))
                .values(
                    customer_name=ANONYMISED_NAME,
                    customer_phone="",
                    customer_address="",
                    description="",
                    # The folded name goes with the name: found by ref and dossier only.
                    search_key=sa.func.lower(
                        CASES.ref + " " + sa.func.coalesce(CASES.external_ref, "")
                    ),
                    anonymised=True,
                    version=CASES.version + 1,
                )
            )
        # Files go once the rows no longer point at them: a crash in between
        # leaves an orphan file at worst, never a row pointing nowhere.
        removed = sum(_unlink(media_dir, path) for path in files)
        total = PurgeResult(
            total.cases + len(ids), total.files + removed, total.messages + messages
        )


async def _next_batch(conn: AsyncConnection, cutoff: datetime, limit: int | None) -> list[int]:
    query = (
        sa.select(CASES.id)
        .where(
            CASES.status.in_(_FINISHED),
            CASES.anonymised.is_(sa.false()),
            CASES.updated_at < cutoff,
        )
        .order_by(CASES.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [int(r.id) for r in await conn.execute(query)]


async def _evidence(conn: AsyncConnection, ids: list[int]) -> list[str]:
    paths = [
        str(r.path)
        for r in await conn.execute(
            sa.select(EVIDENCE.path).where(EVIDENCE.case_id.in_(ids), EVIDENCE.path.is_not(None))
        )
    ]
    await conn.execute(
        sa.update(tables.evidence)
        .where(EVIDENCE.case_id.in_(ids))
        .values(path=None, latitude=None, longitude=None)
    )
    return paths


async def _messages(conn: AsyncConnection, ids: list[int]) -> int:
    """Every message about the case loses its text. One still waiting after all this
    time is pointless to send: it is marked superseded, so the relay drops it."""
    await conn.execute(
        sa.update(tables.outbox)
        .where(OUTBOX.case_id.in_(ids), OUTBOX.status == DeliveryState.PENDING.value)
        .values(status=DeliveryState.SUPERSEDED.value)
    )
    result = await conn.execute(
        sa.update(tables.outbox).where(OUTBOX.case_id.in_(ids)).values(payload=CLEARED_PAYLOAD)
    )
    return int(result.rowcount or 0)


def _unlink(media_dir: Path, stored: str) -> int:
    """Remove one evidence file, only ever inside MEDIA_DIR."""
    root = media_dir.resolve()
    path = (root / stored).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return 0
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        return 1
    return 0
