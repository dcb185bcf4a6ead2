"""Migration 0007 on a database that has cases: external_ref becomes unique per integration.

The database is built at revision 0005 with cases as the intake API, the importer and a
chat `/new` left them, then upgraded the way `dispatchbot run` does. Each integration must
still find the cases it filed (a retry is answered with the old case, not a new one), and
another integration's same number must now make a case of its own. On SQLite the table is
rebuilt, so its rows, ids, indexes and foreign keys are checked too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from bot.bootstrap import bootstrap
from bot.domain.clock import FixedClock
from bot.http import build_http_app
from storage import schema
from storage import tables as t
from storage.engine import create_engine
from tests.conftest import make_settings
from tests.http.test_intake_api import intake

AT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
DESK = "desk-secret-123"
#: The cases table as revision 0005 has it (no integration column yet).
CASES_0005 = sa.table(
    "cases", *(sa.column(c.name, c.type) for c in t.cases.columns if c.name != "integration")
)
EVENTS = sa.table("case_events", *(sa.column(c.name, c.type) for c in t.case_events.columns))

#: ref -> (external_ref, the actor of its intake event, or None: no event at all)
OLD_CASES: dict[str, tuple[str | None, str | None]] = {
    "PL-1": ("TTHCC-1", "api:desk"),
    "PL-2": ("CSV-1", "import"),
    "PL-3": ("TTHCC-3", None),
    "PL-4": (None, "telegram:5"),
}


def _case(ref: str, external_ref: str | None) -> dict[str, Any]:
    return {
        "ref": ref,
        "external_ref": external_ref,
        "kind": "new_connection",
        "team_code": "PL",
        "status": "open",
        "area": "urban",
        "purpose": "domestic",
        "customer_name": "Trần Văn Hưng",
        "customer_phone": "0912345678",
        "customer_address": "12 Trần Hưng Đạo, Phủ Lý",
        "received_at": AT,
        "created_at": AT,
        "updated_at": AT,
    }


async def _fill_at_0005(url: str) -> None:
    engine = create_engine(url)
    try:
        await schema.upgrade(engine, "0005")
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(t.teams).values(code="PL", name="Phủ Lý", next_seq=4, created_at=AT)
            )
            for ref, (external_ref, actor) in OLD_CASES.items():
                case_id = (
                    await conn.execute(
                        sa.insert(CASES_0005)
                        .values(_case(ref, external_ref))
                        .returning(CASES_0005.c.id)
                    )
                ).scalar_one()
                if actor is not None:
                    await conn.execute(
                        sa.insert(EVENTS).values(
                            case_id=case_id,
                            at=AT,
                            action="intake",
                            actor=actor,
                            status="open",
                            source="api",
                        )
                    )
    finally:
        await engine.dispose()


async def test_old_cases_keep_their_integration_and_others_get_their_own(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    await _fill_at_0005(database_url)
    settings = make_settings(database_url, tmp_path, intake_tokens=f"desk:{DESK}")
    container = await bootstrap(settings, clock=clock, channels={})  # upgrades to the head
    try:
        async with container.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(t.cases.c.ref, t.cases.c.integration).order_by(t.cases.c.id)
            )
            assert dict(rows.all()) == {
                "PL-1": "api:desk",  # the actor of its intake
                "PL-2": "import",
                "PL-3": "api:intake",  # no intake event: the plain INTAKE_TOKEN's
                "PL-4": None,  # no external_ref, no namespace
            }
            if conn.dialect.name == "sqlite":
                assert (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all() == []
                indexes = await conn.run_sync(lambda c: sa.inspect(c).get_indexes("cases"))
                assert {i["name"] for i in indexes} >= {"ix_cases_team_status", "ix_cases_status"}

        async with TestClient(TestServer(build_http_app(container))) as client:

            async def filed(secret: str, ext: str) -> tuple[int, str]:
                body = intake(external_ref=ext)
                resp = await client.post(
                    "/api/v1/cases", json=body, headers={"Authorization": f"Bearer {secret}"}
                )
                return resp.status, (await resp.json())["ref"]

            assert await filed(DESK, "TTHCC-1") == (200, "PL-1")  # its own, as before
            assert await filed("test-intake-token", "TTHCC-3") == (200, "PL-3")
            assert await filed("test-intake-token", "TTHCC-1") == (201, "PL-5")  # not desk's
            assert await filed(DESK, "CSV-1") == (201, "PL-6")

        async with container.engine.connect() as conn:
            events = await conn.execute(
                sa.select(sa.func.count())
                .select_from(t.case_events)
                .where(t.case_events.c.case_id.in_(sa.select(t.cases.c.id)))
            )
            assert events.scalar_one() == 3 + 2  # the old ones still point at their cases
    finally:
        await container.close()
