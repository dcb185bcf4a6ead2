"""Property tests of the CSV importer: whatever file it is given, it either imports it or
answers with errors naming a line (and a column), never another exception; and when it
answers with errors, nothing of the file is in the database.

Files are built three ways: any text at all; well-formed rows of a plausible case with,
now and then, one cell replaced by something nasty; and such files with their CSV syntax
broken by a stray character.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.bootstrap import Container, bootstrap
from bot.domain.model import CaseKind, CaseStatus, Role
from bot.domain.people import ChatBinding, Identity, Member, Team
from bot.sla.policy_file import load_policy
from storage import tables as t
from storage.import_check import (
    COLUMNS,
    HOLDS,
    KNOWN_COLUMNS,
    STEP_COLUMN,
    ImportFailed,
    ParsedRow,
    RowError,
    read_csv,
    validate,
)
from storage.importer import _case_values, import_cases
from tests.conftest import make_settings

POLICY = load_policy(None)
HN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2027, 6, 1, 3, 0, tzinfo=UTC)
TEAMS = {"PL", "DL"}
MEMBERS = {"telegram:101", "telegram:102"}

NASTY_VALUES = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202eLTR\u202c",
    "\u200f\u200e",
    "😀👷‍♀️",
    "²",
    "١٢",
    "Ⅻ",
    "1e309",
    "-1",
    "NaN",
    "'; DROP TABLE cases;--",
    "<script>alert(1)</script>",
    "=cmd|' /C calc'!A0",
    '"',
    '""',
    "a,b",
    "line\nbreak",
    "line\rbreak",
    "x" * 600,
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00-23:59",
    "2026-02-30T08:00:00+07:00",
    "2026-11-27T08:15:00",
    "2026-11-27",
    "2026-11-27T08:15:00+07:00/",
    "/2026-11-27T08:15:00+07:00",
    "2026-11-27T08:15:00+07:00/2026-11-26T08:15:00+07:00",
    "telegram:999",
    "0912345678",
    "+84 912 345 678",
    "1,5tr",
    "99999999999999999999999999",
)
JUNK = st.one_of(st.sampled_from(NASTY_VALUES), st.text(max_size=40))


def iso(at: datetime) -> str:
    return at.isoformat()


@st.composite
def plausible_row(draw: st.DrawFn) -> dict[str, str]:
    """A case as an export would write it, reaching a random number of its steps."""
    kind = draw(st.sampled_from(list(CaseKind)))
    received = draw(st.datetimes(datetime(2025, 1, 1), datetime(2027, 5, 1), timezones=st.just(HN)))
    row = dict.fromkeys(KNOWN_COLUMNS, "")
    row.update(
        external_ref=draw(st.from_regex(r"[A-Z]{2,5}-[0-9]{1,6}", fullmatch=True)),
        kind=kind.value,
        team=draw(st.sampled_from(["PL", "pl", "DL"])),
        area=draw(st.sampled_from(["urban", "rural", ""])),
        purpose=draw(st.sampled_from(["domestic", "non_domestic", ""])),
        customer_name=draw(st.text(min_size=1, max_size=30)),
        customer_phone=draw(st.sampled_from(["0912345678", "0987 654 321", "+84912345678"])),
        address=draw(st.text(min_size=1, max_size=40)),
        description=draw(st.text(max_size=40)),
        received_at=iso(received),
    )
    path = [s for s in POLICY.workflow.steps_of(kind) if s in STEP_COLUMN]
    reached = draw(st.integers(min_value=0, max_value=len(path)))
    at = received
    for step in path[:reached]:
        at += timedelta(minutes=draw(st.integers(min_value=1, max_value=5000)))
        row[STEP_COLUMN[step]] = iso(at)
    if reached:
        row["assignee"] = draw(st.sampled_from(sorted(MEMBERS)))
    if draw(st.booleans()):
        row["customer_cost"], row["utility_cost"] = "1500000", "2tr"
    if CaseStatus.CLOSED not in [path[i] for i in range(reached)] and draw(st.booleans()):
        row["cancelled_at"] = iso(at + timedelta(hours=1))
    return row


@st.composite
def csv_file(draw: st.DrawFn) -> str:
    """Header and rows in some column order; now and then a nasty cell, column or byte."""
    header = draw(st.permutations(list(KNOWN_COLUMNS)))
    damage = draw(st.integers(min_value=0, max_value=9))
    if damage == 1:
        header = header[: draw(st.integers(0, len(header)))]
    elif damage == 2:
        header = [*header, draw(st.sampled_from([*COLUMNS, HOLDS, "colour", ""]))]
    rows = draw(st.lists(plausible_row(), max_size=6))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    for row in rows:
        if draw(st.integers(0, 3)) == 0:
            row[draw(st.sampled_from(list(KNOWN_COLUMNS)))] = draw(JUNK)
        cells = [row.get(name, "") for name in header]
        if damage == 3 and cells:
            cells = cells[: draw(st.integers(0, len(cells)))]
        writer.writerow(cells)
    text = out.getvalue()
    if damage == 4 and text:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(['"', "\x00", "\n", ",", "\r"])) + text[at:]
    return text


ANY_FILE = st.one_of(st.text(max_size=300), csv_file())


def check_errors(failed: ImportFailed, text: str) -> None:
    """Errors a person can act on: a line of the file, a column or none, a message."""
    assert failed.errors and failed.total >= len(failed.errors)
    lines = len(re.split(r"\r\n|\r|\n", text)) + 1  # as csv counts them, and one more
    for error in failed.errors:
        assert isinstance(error, RowError)
        assert isinstance(error.line, int) and 0 <= error.line <= lines
        assert error.column is None or isinstance(error.column, str)
        assert isinstance(error.message, str) and error.message.strip()
        assert str(error).startswith(f"line {error.line}")


def checked(text: str) -> list[ParsedRow] | ImportFailed:
    try:
        return validate(read_csv(io.StringIO(text, newline="")), POLICY, TEAMS, MEMBERS)
    except ImportFailed as failed:
        return failed


@settings(max_examples=400, deadline=None)
@given(ANY_FILE)
def test_any_file_is_accepted_or_refused_line_by_line_and_nothing_else(text: str) -> None:
    outcome = checked(text)
    if isinstance(outcome, ImportFailed):
        check_errors(outcome, text)
        return
    for row in outcome:
        assert row.team in TEAMS and row.received_at.tzinfo is not None
        # What the load does with an accepted row (due times on the calendar) must work too.
        values, events = _case_values(row, f"{row.team}-1", POLICY, NOW)
        assert values["external_ref"] == row.external_ref and events


@settings(max_examples=25, deadline=None)
@given(plausible_row(), st.text(max_size=40))
def test_every_nasty_value_in_every_column_is_refused_by_name_or_accepted(
    row: dict[str, str], random_text: str
) -> None:
    for column in KNOWN_COLUMNS:
        for nasty in [*NASTY_VALUES, random_text]:
            cells = {**row, column: nasty}
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(KNOWN_COLUMNS)
            writer.writerow([cells[name] for name in KNOWN_COLUMNS])
            outcome = checked(out.getvalue())
            if isinstance(outcome, ImportFailed):
                check_errors(outcome, out.getvalue())
                continue
            for parsed in outcome:
                _case_values(parsed, f"{parsed.team}-1", POLICY, NOW)


@settings(max_examples=200, deadline=None)
@given(st.lists(plausible_row(), min_size=1, max_size=4))
def test_plausible_rows_that_pass_the_check_are_the_rows_of_the_file(
    rows: list[dict[str, str]],
) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(KNOWN_COLUMNS)
    for row in rows:
        writer.writerow([row[name] for name in KNOWN_COLUMNS])
    outcome = checked(out.getvalue())
    if isinstance(outcome, ImportFailed):
        check_errors(outcome, out.getvalue())
        return
    assert [r.external_ref for r in outcome] == [row["external_ref"] for row in rows]
    assert [r.line for r in outcome] == sorted(r.line for r in outcome)


# --------------------------------------------------------------------------- the database


@pytest.fixture
async def stored(database_url: str, tmp_path: Path) -> AsyncIterator[Container]:
    container = await bootstrap(make_settings(database_url, tmp_path), channels={})
    async with container.uow() as uow:
        for code in sorted(TEAMS):
            await uow.teams.add(Team(code, code, (ChatBinding("telegram", f"-{len(code)}"),)))
        for uid in sorted(MEMBERS):
            ident = Identity("telegram", uid.split(":")[1], None)
            await uow.members.add(Member(uid, uid, Role.WORKER, "PL", None, (ident,)))
        await uow.commit()
    try:
        yield container
    finally:
        await container.close()


async def counts(container: Container) -> tuple[int, int, dict[str, int]]:
    async with container.engine.connect() as conn:
        cases = (await conn.execute(sa.select(sa.func.count()).select_from(t.cases))).scalar_one()
        events = (
            await conn.execute(sa.select(sa.func.count()).select_from(t.case_events))
        ).scalar_one()
        seqs = {
            str(code): int(seq)
            for code, seq in await conn.execute(sa.select(t.teams.c.code, t.teams.c.next_seq))
        }
    return int(cases), int(events), seqs


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=csv_file())
async def test_a_refused_file_loads_nothing_and_an_accepted_one_loads_its_new_rows(
    stored: Container, text: str
) -> None:
    """One database for all examples: rows of earlier examples count as already stored."""
    before = await counts(stored)
    try:
        result = await import_cases(stored.engine, io.StringIO(text, newline=""), POLICY, NOW)
    except ImportFailed as failed:
        check_errors(failed, text)
        assert await counts(stored) == before
        return
    cases, events, _ = await counts(stored)
    assert cases - before[0] == result.loaded
    assert result.loaded + result.skipped == result.rows
    assert (events > before[1]) == (result.loaded > 0)


FREE_TEXT = ("external_ref", "customer_name", "address", "description", "meter_serial")


async def test_every_nasty_free_text_is_stored_as_given_or_refused(stored: Container) -> None:
    """What each database cannot store (a NUL on PostgreSQL) must be refused by name."""
    good = {
        **dict.fromkeys(KNOWN_COLUMNS, ""),
        "kind": "meter_complaint",
        "team": "PL",
        "customer_name": "Mai",
        "customer_phone": "0987654321",
        "address": "5 Lê Lợi",
        "received_at": "2026-11-27T08:15:00+07:00",
    }
    for n, (column, nasty) in enumerate((c, v) for c in FREE_TEXT for v in NASTY_VALUES):
        cells = {**good, "external_ref": f"N-{n}", column: nasty}
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(KNOWN_COLUMNS)
        writer.writerow([cells[name] for name in KNOWN_COLUMNS])
        before = await counts(stored)
        try:
            result = await import_cases(
                stored.engine, io.StringIO(out.getvalue(), newline=""), POLICY, NOW
            )
        except ImportFailed as failed:
            check_errors(failed, out.getvalue())
            assert await counts(stored) == before
            continue
        assert result.loaded == 1, (column, nasty)
        async with stored.engine.connect() as conn:
            ext = cells["external_ref"].strip()
            row = (await conn.execute(t.cases.select().where(t.cases.c.external_ref == ext))).one()
        stored_as = {
            "external_ref": row.external_ref,
            "customer_name": row.customer_name,
            "address": row.customer_address,
            "description": row.description,
            "meter_serial": row.meter_serial or "",
        }[column]
        assert stored_as == nasty.strip(), (column, nasty)
