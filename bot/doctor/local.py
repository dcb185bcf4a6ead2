"""The doctor's checks of this deployment itself: database, policy file, holidays."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.reach import Unreach
from bot.config import Settings
from bot.doctor.findings import Check, Finding, Status
from bot.doctor.platform import TeamChat
from bot.domain.clock import Clock
from bot.i18n import Lang
from bot.services.people import team_rosters
from bot.sla.calendar import WorkingCalendar
from bot.sla.policy import Policy, PolicyError
from bot.sla.policy_file import load_policy
from storage.chat_moves import ChatMoveStore
from storage.engine import create_engine, driver_message
from storage.held_store import HeldStore
from storage.schema import schema_state, sqlite_file
from storage.uow import SqlUnitOfWork

#: How the `holidays` library names a language we speak.
HOLIDAY_LANGUAGES: dict[Lang, str] = {Lang.VI: "vi", Lang.EN: "en_US"}
#: Why a message can be held, as `storage.held_store` keeps it.
HELD_REASONS = frozenset(r.value for r in Unreach)
#: Longest wait for the database to answer.
DATABASE_SECONDS = 15.0


@dataclass(frozen=True)
class DatabaseReport:
    findings: list[Finding]
    #: Every group bound to a team (None: the database could not be read).
    chats: list[TeamChat] | None


async def check_database(settings: Settings, clock: Clock) -> DatabaseReport:
    """Reachable, on the latest schema, and which groups the teams are bound to.

    Nothing is created or upgraded: a missing SQLite file is reported, not made.
    """
    url = settings.database_url
    shown = make_url(url).render_as_string(hide_password=True)
    values: dict[str, str | int] = {"url": shown}

    def found(check: Check, status: Status, message: str, hint: str | None = None) -> Finding:
        return Finding(check, status, message, hint, values)

    path = sqlite_file(url)
    if path is not None and not path.exists():
        values["path"] = str(path)
        return DatabaseReport(
            [
                found(
                    Check.DATABASE,
                    Status.FAIL,
                    "doctor.database.missing",
                    "doctor.database.missing.hint",
                )
            ],
            None,
        )
    engine = create_engine(url)
    try:
        try:
            async with asyncio.timeout(DATABASE_SECONDS):
                state = await schema_state(engine)
        except Exception as exc:  # any driver's refusal: what matters is its own words
            values["reason"] = _first_line(driver_message(exc) or str(exc) or type(exc).__name__)
            return DatabaseReport(
                [
                    found(
                        Check.DATABASE,
                        Status.FAIL,
                        "doctor.database.unreachable",
                        "doctor.database.unreachable.hint",
                    )
                ],
                None,
            )
        findings = [found(Check.DATABASE, Status.OK, "doctor.database.ok")]
        values.update(current=", ".join(sorted(state.current)), head=", ".join(sorted(state.heads)))
        if not state.current:
            findings.append(
                found(
                    Check.MIGRATIONS,
                    Status.FAIL,
                    "doctor.migrations.empty",
                    "doctor.migrations.hint",
                )
            )
            return DatabaseReport(findings, None)
        if state.unknown:
            findings.append(
                found(
                    Check.MIGRATIONS,
                    Status.FAIL,
                    "doctor.migrations.newer",
                    "doctor.migrations.newer.hint",
                )
            )
        elif not state.up_to_date:
            findings.append(
                found(
                    Check.MIGRATIONS,
                    Status.FAIL,
                    "doctor.migrations.behind",
                    "doctor.migrations.hint",
                )
            )
        else:
            findings.append(found(Check.MIGRATIONS, Status.OK, "doctor.migrations.ok"))
        try:
            rosters = await team_rosters(SqlUnitOfWork(engine, clock))
        except Exception:  # an old or foreign schema: the chats are then not checked
            return DatabaseReport(findings, None)
        findings += await moved_chats(engine)
        findings += await check_held(engine, settings)
    finally:
        await engine.dispose()
    chats = [
        TeamChat(
            roster.team.code,
            roster.team.name,
            binding.channel,
            binding.chat_id,
            tuple(
                ident.external_id
                for person in roster.people
                for ident in person.identities
                if ident.channel == binding.channel
            ),
        )
        for roster in rosters
        for binding in roster.team.chats
    ]
    return DatabaseReport(findings, chats)


async def moved_chats(engine: AsyncEngine) -> list[Finding]:
    """Groups that became supergroups, and where their team went (storage.chat_moves)."""
    try:
        moves = await ChatMoveStore(engine).all()
    except Exception:  # a schema before 0010: the migrations finding says so already
        return []
    return [
        Finding(
            Check.CHAT,
            Status.OK,
            "doctor.chat.moved",
            None,
            {
                "old": move.old_chat_id,
                "new": move.new_chat_id,
                "team": move.team_code or "-",
                "at": move.moved_at,
            },
            move.channel,
            move.team_code,
            move.new_chat_id,
        )
        for move in moves
    ]


async def check_held(engine: AsyncEngine, settings: Settings) -> list[Finding]:
    """Members with private messages kept for them (bot.held): one line each, saying
    what they have to do before the messages expire."""
    people = await HeldStore(engine).people()
    if not people:
        return [Finding(Check.HELD, Status.OK, "doctor.held.none")]
    hours = round(settings.held_message_hours)
    found = []
    for person in people:
        reason = person.reason if person.reason in HELD_REASONS else Unreach.NOT_STARTED
        hint = "doctor.held.deactivated.hint" if reason == Unreach.DEACTIVATED else None
        values: dict[str, str | int | datetime] = {
            "name": person.name,
            "team": person.team_code or "—",
            "count": person.count,
            "since": person.oldest,
            "hours": hours,
        }
        found.append(
            Finding(
                Check.HELD,
                Status.WARN,
                f"doctor.held.{reason}",
                hint or "doctor.held.hint",
                values,
                channel=person.key.channel,
                team=person.team_code,
                chat_id=person.key.chat_id,
            )
        )
    return found


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def check_policy(settings: Settings) -> tuple[Finding, Policy | None]:
    """The policy file loads; its one-line error otherwise."""
    path = settings.policy_file
    try:
        policy = load_policy(path)
    except PolicyError as exc:
        return (
            Finding(
                Check.POLICY,
                Status.FAIL,
                "doctor.policy.invalid",
                "doctor.policy.invalid.hint",
                {"error": str(exc)},
            ),
            None,
        )
    if path is None or str(path) == "":
        return Finding(Check.POLICY, Status.OK, "doctor.policy.builtin"), policy
    return Finding(Check.POLICY, Status.OK, "doctor.policy.ok", None, {"path": str(path)}), policy


def check_holidays(calendar: WorkingCalendar | None, today: date, lang: Lang) -> list[Finding]:
    """This year's and next year's days off and worked Saturdays, to compare with the
    government's notice (Tết moves every year); a year without a day off is a mistake."""
    years = (today.year, today.year + 1)
    if calendar is None:
        return [Finding(Check.HOLIDAYS, Status.SKIP, "doctor.holidays.skipped")]
    findings = []
    for year in years:
        days = calendar.special_days(year, language=HOLIDAY_LANGUAGES[lang])
        off = sum(1 for d in days if not d.working)
        values = {"year": year, "off": off, "worked": len(days) - off}
        findings.append(
            Finding(
                Check.HOLIDAYS,
                Status.OK,
                "doctor.holidays.year",
                None,
                values,
                year=year,
                days=days,
            )
            if off
            else Finding(
                Check.HOLIDAYS,
                Status.FAIL,
                "doctor.holidays.none",
                "doctor.holidays.none.hint",
                values,
                year=year,
                days=days,
            )
        )
    return findings
