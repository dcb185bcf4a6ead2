"""`dispatchbot` (also `python -m bot`): the command line of the contract."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from datetime import date, datetime, time

from bot.config import ConfigError, Settings, load_settings
from bot.domain import errors
from bot.domain.model import Role
from bot.domain.people import Actor, ChatBinding, Identity, Member, Team, account_uid
from bot.event_loop import loop_name
from bot.event_loop import run as run_async
from bot.sla.policy import PolicyError

log = logging.getLogger("dispatchbot")
CHANNELS = ("telegram", "zalo")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dispatchbot", description="Dispatch bot for field crews.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the channels, HTTP server and scheduler")
    demo = sub.add_parser("demo", help="a scripted day, offline, against the built-in sandbox")
    demo.add_argument("--channel", choices=CHANNELS, default="telegram")
    demo.add_argument(
        "--board",
        action="store_true",
        help="keep serving after the script, so the printed board URL opens (Ctrl-C ends it)",
    )
    db = sub.add_parser("db", help="database schema")
    db.add_subparsers(dest="db_command", required=True).add_parser("upgrade")
    team = sub.add_parser("team", help="teams").add_subparsers(dest="team_command", required=True)
    add = team.add_parser("add", help="create a team bound to its group chat")
    add.add_argument("code")
    add.add_argument("--name", required=True)
    add.add_argument("--chat", required=True, help="the group chat id")
    add.add_argument("--channel", choices=CHANNELS, default="telegram")
    team.add_parser("list", help="teams, their chats and their people")
    unbind = team.add_parser("unbind", help="take a chat off a team")
    unbind.add_argument("code")
    unbind.add_argument("--chat", required=True, help="the group chat id")
    unbind.add_argument("--channel", choices=CHANNELS, default="telegram")
    doctor = sub.add_parser(
        "doctor", help="check the deployment against the platforms and say what to fix"
    )
    doctor.add_argument("--json", action="store_true", help="findings as JSON")
    member = sub.add_parser("member", help="people").add_subparsers(
        dest="member_command", required=True
    )
    madd = member.add_parser("add", help="register a person")
    madd.add_argument(
        "user_id", help="the person's user id, e.g. 123456, telegram:123456 or zalo:8f3a0c1d2e"
    )
    madd.add_argument("--name", required=True)
    madd.add_argument("--role", choices=[r.value for r in Role], required=True)
    madd.add_argument("--team")
    madd.add_argument("--channel", choices=CHANNELS, help="default: the id's prefix, or telegram")
    madd.add_argument("--username", help="the person's @username, for /assign")
    remind = sub.add_parser("remind", help="one reminder pass, as the scheduler does each tick")
    remind.add_argument("--at", help="the instant, ISO 8601 (default now; no offset: local time)")
    remind.add_argument(
        "--dry-run", action="store_true", help="show what would be sent, change nothing"
    )
    purge = sub.add_parser(
        "purge", help="anonymise personal data of closed cases, keep their figures"
    )
    purge.add_argument(
        "--closed-before", required=True, help="a date, YYYY-MM-DD (local to the calendar)"
    )
    purge.add_argument("--dry-run", action="store_true", help="count what would go, change nothing")
    from bot.reports.cli import add_commands as add_report_commands

    add_report_commands(sub)  # report, import cases, export cases
    return p


def _configure_logging(settings: Settings) -> None:
    from bot.logs import configure

    configure(settings)


async def _db_upgrade(settings: Settings) -> None:
    from storage import schema
    from storage.engine import create_engine

    engine = create_engine(settings.database_url)
    try:
        await schema.upgrade(engine)
    finally:
        await engine.dispose()
    print("database schema is up to date")


async def _team_add(settings: Settings, args: argparse.Namespace) -> int:
    from bot.bootstrap import bootstrap

    container = await bootstrap(settings, channels={})
    code = args.code.upper()
    try:
        async with container.uow() as uow:
            if await uow.teams.get(code) is not None:
                await uow.teams.bind_chat(code, ChatBinding(args.channel, str(args.chat)))
                print(f"team {code} exists; chat {args.channel}:{args.chat} bound to it")
            else:
                await uow.teams.add(
                    Team(code, args.name, (ChatBinding(args.channel, str(args.chat)),))
                )
                print(f"team {code} created, chat {args.channel}:{args.chat}")
            await uow.commit()
    finally:
        await container.close()
    return 0


async def _team_list(settings: Settings) -> int:
    from bot.bootstrap import bootstrap
    from bot.services.people import team_rosters
    from storage.chat_moves import ChatMoveStore

    container = await bootstrap(settings, channels={})
    try:
        rosters = await team_rosters(container.uow())
        moves = await ChatMoveStore(container.engine).all()
    finally:
        await container.close()
    tr, lang = container.tr, settings.language
    if not rosters:
        print(tr.t(lang, "team.list.none"))
    for roster in rosters:
        team = roster.team
        print(tr.t(lang, "team.list.team", code=team.code, name=team.name))
        for chat in team.chats:
            line = tr.t(lang, "team.list.chat", channel=chat.channel, chat_id=chat.chat_id)
            for move in moves:  # a group upgraded to a supergroup: where it came from
                if (move.channel, move.new_chat_id) == (chat.channel, chat.chat_id):
                    at = tr.when(move.moved_at)
                    line += " " + tr.t(
                        lang, "team.list.moved", old=move.old_chat_id, new=move.new_chat_id, at=at
                    )
            print("  " + line)
        if not team.chats:
            print("  " + tr.t(lang, "team.list.no_chat", code=team.code, name=team.name))
        for person in roster.people:
            ids = ", ".join(
                ident.uid + (f" (@{ident.username})" if ident.username else "")
                for ident in person.identities
            )
            role = tr.t(lang, f"role.{person.role.value}")
            print("  " + tr.t(lang, "team.list.person", name=person.name, role=role, ids=ids))
        if not roster.people:
            print("  " + tr.t(lang, "team.list.nobody"))
    return 0


#: Who acts when an administrator types a command on the server.
CLI_ACTOR = Actor(uid="cli", name="cli", is_admin=True, is_system=True)


async def _team_unbind(settings: Settings, args: argparse.Namespace) -> int:
    """Take a chat off a team; what still waits for it is never sent (see unbind_chat)."""
    from bot.bootstrap import bootstrap
    from bot.services.people import UnbindChat, unbind_chat

    container = await bootstrap(settings, channels={})
    tr, lang = container.tr, settings.language
    chat = ChatBinding(args.channel, str(args.chat).strip())
    where = {"channel": chat.channel, "chat_id": chat.chat_id, "team": args.code.upper()}
    try:
        done = await unbind_chat(UnbindChat(CLI_ACTOR, args.code, chat), container.uow())
    except errors.UnknownTeam:
        print(tr.t(lang, "team.unbind.unknown_team", **where), file=sys.stderr)
        return 2
    except errors.ChatNotOfTeam as e:
        if e.bound_to is not None:
            print(tr.t(lang, "team.unbind.other_team", other=e.bound_to, **where), file=sys.stderr)
            return 2
        async with container.uow() as uow:
            team = await uow.teams.get(e.team_code)
        chats = ", ".join(f"{c.channel} {c.chat_id}" for c in team.chats) if team else ""
        chats = chats or tr.t(lang, "team.no_chats")
        print(tr.t(lang, "team.unbind.not_bound", chats=chats, **where), file=sys.stderr)
        return 2
    except errors.LastChatBusy as e:
        async with container.uow() as uow:
            team = await uow.teams.get(e.team_code)
        name = team.name if team else e.team_code
        print(
            tr.t(lang, "team.unbind.busy", waiting=e.waiting, name=name, **where),
            file=sys.stderr,
        )
        return 2
    finally:
        await container.close()
    print(tr.t(lang, "team.unbind.done", **where))
    if done.dropped:
        print(tr.t(lang, "team.unbind.dropped", dropped=done.dropped))
    if not done.team.chats:
        print(tr.t(lang, "team.unbind.last", name=done.team.name, **where))
    return 0


async def _doctor(settings: Settings, args: argparse.Namespace) -> int:
    from bot.doctor import diagnose, exit_code
    from bot.doctor.report import render_json, render_text
    from bot.i18n import Translator

    findings = await diagnose(settings)
    render = render_json if args.json else render_text
    print(render(findings, Translator(settings.language), settings.language))
    return exit_code(findings)


def _member_id(given: str, channel: str | None) -> tuple[str | None, str]:
    """`zalo:8f3a…` names its channel; a bare id is on `--channel` (default telegram).

    The channel is None when the prefix and `--channel` disagree."""
    prefix, sep, rest = given.partition(":")
    if sep and prefix in CHANNELS:
        return (prefix if channel in (None, prefix) else None), rest
    return channel or "telegram", given


async def _member_add(settings: Settings, args: argparse.Namespace) -> int:
    from bot.bootstrap import bootstrap

    container = await bootstrap(settings, channels={})
    team = args.team.upper() if args.team else None
    try:
        async with container.uow() as uow:
            if team is not None and await uow.teams.get(team) is None:
                print(
                    f"error: no team {team}; create it first with `dispatchbot team add`",
                    file=sys.stderr,
                )
                return 2
            channel, user_id = _member_id(args.user_id, args.channel)
            if channel is None:
                print(
                    f"error: {args.user_id} is a {args.user_id.partition(':')[0]} id, "
                    f"not a {args.channel} one",
                    file=sys.stderr,
                )
                return 2
            uid = account_uid(channel, user_id)
            existing = await uow.members.get(uid)
            idents = (Identity(channel, user_id, args.username),)
            await uow.members.add(
                Member(
                    uid,
                    args.name,
                    Role(args.role),
                    team,
                    existing.lang if existing else None,
                    idents,
                )
            )
            await uow.commit()
        print(f"member {uid} ({args.role}) {'updated' if existing else 'added'}")
    finally:
        await container.close()
    return 0


async def _remind(settings: Settings, args: argparse.Namespace) -> int:
    """One pass at a chosen instant: to catch up by hand, or to see what the scheduler would do."""
    from bot.bootstrap import bootstrap
    from bot.reminders import ReminderDeps, remind_pass

    container = await bootstrap(settings, channels={})
    try:
        at = container.clock.now()
        if args.at:
            try:
                at = datetime.fromisoformat(args.at.strip())
            except ValueError:
                print(f"error: --at {args.at!r} is not an ISO 8601 time", file=sys.stderr)
                return 2
            if at.tzinfo is None:
                at = at.replace(tzinfo=container.policy.calendar.tz)
        actions = await remind_pass(ReminderDeps.of(container), at, dry_run=args.dry_run)
        for action in actions:
            print(action.describe())
        verb = "would send" if args.dry_run else "queued"
        print(f"{at.isoformat()}: {len(actions)} message(s) {verb}")
    finally:
        await container.close()
    return 0


async def _purge(settings: Settings, args: argparse.Namespace) -> int:
    """Decree 13/2023: personal data no longer than needed; the KPIs must still add up."""
    from bot.bootstrap import bootstrap
    from storage.purge import purge_closed_before

    try:
        day = date.fromisoformat(args.closed_before.strip())
    except ValueError:
        print(
            f"error: --closed-before {args.closed_before!r} is not a date like 2026-01-31",
            file=sys.stderr,
        )
        return 2
    container = await bootstrap(settings, channels={})
    try:
        cutoff = datetime.combine(day, time(0), container.policy.calendar.tz)
        if cutoff > container.clock.now():
            print("error: --closed-before must not be in the future", file=sys.stderr)
            return 2
        done = await purge_closed_before(
            container.engine, cutoff, settings.media_dir, dry_run=args.dry_run
        )
    finally:
        await container.close()
    if args.dry_run:
        print(f"would anonymise {done.cases} case(s) closed or cancelled before {day}")
        return 0
    print(
        f"anonymised {done.cases} case(s) closed or cancelled before {day}: customer names,"
        f" phones, addresses and descriptions cleared; {done.files} evidence file(s) deleted;"
        f" {done.messages} chat message text(s) cleared. Figures and history are kept."
    )
    return 0


async def _run(settings: Settings) -> int:
    from bot.bootstrap import bootstrap
    from bot.heap import settle
    from bot.runner import run_forever

    log.info("event loop: %s", loop_name(asyncio.get_running_loop()))
    container = await bootstrap(settings)
    settle()
    if not container.channels:
        log.warning("no channel configured (TELEGRAM_BOT_TOKEN, ZALO_BOT_TOKEN): HTTP API only")
    await run_forever(container)
    return 0


async def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from sandbox.demo import run_demo

    return await run_demo(args.channel, hold=args.board)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command != "demo":
            _configure_logging(settings)
        match args.command:
            case "run":
                return run_async(_run(settings))
            case "demo":
                return run_async(_demo(settings, args))
            case "db":
                run_async(_db_upgrade(settings))
                return 0
            case "team":
                match args.team_command:
                    case "list":
                        return run_async(_team_list(settings))
                    case "unbind":
                        return run_async(_team_unbind(settings, args))
                return run_async(_team_add(settings, args))
            case "doctor":
                return run_async(_doctor(settings, args))
            case "member":
                return run_async(_member_add(settings, args))
            case "remind":
                return run_async(_remind(settings, args))
            case "purge":
                return run_async(_purge(settings, args))
            case "report" | "import" | "export":
                from bot.reports.cli import run as run_report_command

                return run_async(run_report_command(settings, args))
    except (ConfigError, PolicyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2
