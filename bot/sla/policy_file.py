"""Reading the policy file: the built-in defaults, a utility's own file over them, checked.

The built-in defaults are themselves a TOML file shipped with the package
(`default_policy.toml`), so the defaults and the documented example can never drift
apart. A user's file only holds what it changes: it is deep-merged over the
defaults, then checked as a whole. A mistake stops start-up with one line naming
the file, the line and the reason, because the person who reads it is the
utility's IT staff, not a Python developer.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from bot.domain.model import Area, CaseKind, CaseStatus, Purpose, Workflow
from bot.sla.calendar import WorkingCalendar
from bot.sla.policy import (
    BUILTIN_SOURCE,
    DEFAULT_FILE,
    LEGAL_LIMIT_CATEGORIES,
    Policy,
    PolicyError,
    ReminderRule,
    TargetRule,
    WeeklyReport,
)
from bot.sla.toml_lines import KeyLines, KeyPath

__all__ = ["load_policy"]

_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


# ---------------------------------------------------------------------------
# Loading


def load_policy(path: str | Path | None = None) -> Policy:
    """The built-in defaults, overridden by the TOML file at `path` if given.

    An empty string counts as no file, so `POLICY_FILE=` in a `.env` is harmless.
    Raises PolicyError with a one-line message on any problem with the file.
    """
    default_text = resources.files("bot.sla").joinpath(DEFAULT_FILE).read_text("utf-8")
    defaults = _parse(default_text, BUILTIN_SOURCE)
    if path is None or str(path) == "":
        return _build_checked(defaults, {}, default_text, BUILTIN_SOURCE)
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PolicyError(source, "is not UTF-8 text") from None
    except OSError as exc:
        raise PolicyError(source, f"cannot be read: {exc.strerror or exc}") from None
    user = _parse(text, source)
    return _build_checked(_merge(defaults, user), user, text, source)


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def _parse(text: str, source: str) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_POSITION.search(message)
        if found is None:
            raise PolicyError(source, f"is not valid TOML: {message}") from None
        reason = message[: found.start()]
        raise PolicyError(
            source,
            f"is not valid TOML: {reason} (column {found.group(2)})",
            line=int(found.group(1)),
        ) from None


def _merge(
    base: Mapping[str, object], over: Mapping[str, object], path: KeyPath = ()
) -> dict[str, object]:
    """Tables merge key by key; anything else (and a whole SLA target) is replaced.

    An SLA target is replaced whole so that `days` in the file does not get
    mixed with the default `hours`, nor a single target with a list of rules.
    """
    out = dict(base)
    for key, value in over.items():
        here = (*path, key)
        old = out.get(key)
        atomic = len(here) == 3 and here[0] == "sla"
        if isinstance(old, dict) and isinstance(value, dict) and not atomic:
            out[key] = _merge(old, value, here)
        else:
            out[key] = value
    return out


def _build_checked(
    data: Mapping[str, object], user: Mapping[str, object], text: str, source: str
) -> Policy:
    try:
        return _build(data, user, source)
    except _Invalid as exc:
        raise PolicyError(source, exc.message, line=KeyLines(text).locate(exc.path)) from None


# ---------------------------------------------------------------------------
# Checking and building


class _Invalid(Exception):
    """A semantic error at a key path; turned into PolicyError with its line."""

    def __init__(self, path: KeyPath, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason

    @property
    def message(self) -> str:
        return f"{_dotted(self.path)} {self.reason}" if self.path else self.reason


def _dotted(path: KeyPath) -> str:
    """Key path as the user writes it; list items are numbered from 1."""
    out = ""
    for part in path:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _table(value: object, path: KeyPath) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise _Invalid(path, "must be a table (a [section] or { key = value, ... })")
    return value


def _child(table: Mapping[str, object], key: str, path: KeyPath) -> object:
    if key not in table:
        raise _Invalid((*path, key), "is missing")
    return table[key]


def _known_keys(table: Mapping[str, object], path: KeyPath, allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            raise _Invalid((*path, key), f"is not a known key here (known: {', '.join(allowed)})")


def _string(value: object, path: KeyPath) -> str:
    if not isinstance(value, str):
        raise _Invalid(path, "must be text in double quotes")
    return value


def _bool(value: object, path: KeyPath) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(path, "must be true or false")
    return value


def _number(value: object, path: KeyPath, *, positive: bool) -> float:
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value > 0 or (not positive and value == 0))
    ):
        return float(value)
    raise _Invalid(path, "must be a positive number" if positive else "must be 0 or more")


def _clock(value: object, path: KeyPath) -> time:
    """A time of day, "HH:MM" text or a TOML local time."""
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        parsed = _parse_hhmm(value.strip())
        if parsed is not None:
            return parsed
    raise _Invalid(path, 'must be a time of day like "07:30"')


_HHMM = re.compile(r"(\d{1,2}):(\d{2})")


def _parse_hhmm(text: str) -> time | None:
    found = _HHMM.fullmatch(text)
    if found is None:
        return None
    hour, minute = int(found.group(1)), int(found.group(2))
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _weekday(value: object, path: KeyPath) -> int:
    if isinstance(value, str):
        name = value.strip().lower()
        if name in _WEEKDAY_NAMES:
            return _WEEKDAY_NAMES.index(name)
        if name in _WEEKDAY_FULL:
            return _WEEKDAY_FULL.index(name)
    raise _Invalid(path, f"must be a day of the week: {' '.join(_WEEKDAY_NAMES)}")


def _list(value: object, path: KeyPath, what: str) -> list[object]:
    if not isinstance(value, list):
        raise _Invalid(path, f"must be a list in square brackets: {what}")
    return value


def _dates(value: object, path: KeyPath) -> frozenset[date]:
    out: set[date] = set()
    for item in _list(value, path, "[2027-02-03, 2027-02-11]"):
        if isinstance(item, date) and not isinstance(item, datetime):
            out.add(item)
            continue
        if isinstance(item, str):
            try:
                out.add(date.fromisoformat(item.strip()))
                continue
            except ValueError:
                pass
        raise _Invalid(path, f"has {item!r}, which is not a date like 2027-02-03")
    return frozenset(out)


_ROOT_KEYS = (
    "calendar",
    "steps",
    "sla",
    "reminders",
    "digest",
    "report",
    "evidence",
    "legal_limit_days",
)
_CALENDAR_KEYS = (
    "timezone",
    "weekdays",
    "windows",
    "country",
    "public_holidays",
    "extra_days_off",
    "extra_working_days",
)
_REMINDER_KEYS = ("interval_minutes", "escalate_after", "stale_claim_hours")
_RULE_CONDITIONS = ("area", "purpose", "needs_extra_works")
_RULE_AMOUNTS = ("days", "hours")
_KINDS = tuple(k.value for k in CaseKind)
_MIDDLE_STEPS = tuple(
    s.value
    for s in CaseStatus
    if s not in (CaseStatus.OPEN, CaseStatus.CLAIMED, CaseStatus.CLOSED)
    and s not in (CaseStatus.CANCELLED, CaseStatus.ON_HOLD)
)


def _kind(name: str, path: KeyPath) -> CaseKind:
    if name not in _KINDS:
        raise _Invalid(path, f"is not a known case kind (known: {', '.join(_KINDS)})")
    return CaseKind(name)


def _build(data: Mapping[str, object], user: Mapping[str, object], source: str) -> Policy:
    _known_keys(data, (), _ROOT_KEYS)
    calendar = _build_calendar(_table(_child(data, "calendar", ()), ("calendar",)))
    steps = _build_steps(_table(_child(data, "steps", ()), ("steps",)))
    user_sla = user.get("sla")
    targets = _build_targets(
        _table(_child(data, "sla", ()), ("sla",)),
        steps,
        calendar,
        user_sla if isinstance(user_sla, dict) else {},
    )
    reminders = _build_reminders(_table(_child(data, "reminders", ()), ("reminders",)))

    digest = _table(_child(data, "digest", ()), ("digest",))
    _known_keys(digest, ("digest",), ("time",))
    digest_time = _clock(_child(digest, "time", ("digest",)), ("digest", "time"))

    report = _table(_child(data, "report", ()), ("report",))
    _known_keys(report, ("report",), ("weekday", "time"))
    weekly = WeeklyReport(
        _weekday(_child(report, "weekday", ("report",)), ("report", "weekday")),
        _clock(_child(report, "time", ("report",)), ("report", "time")),
    )

    evidence = _table(_child(data, "evidence", ()), ("evidence",))
    _known_keys(evidence, ("evidence",), ("install_requires_photo",))
    photo = _bool(
        _child(evidence, "install_requires_photo", ("evidence",)),
        ("evidence", "install_requires_photo"),
    )

    limits_path: KeyPath = ("legal_limit_days",)
    limits_table = _table(_child(data, "legal_limit_days", ()), limits_path)
    _known_keys(limits_table, limits_path, LEGAL_LIMIT_CATEGORIES)
    limits = {
        c: _number(_child(limits_table, c, limits_path), (*limits_path, c), positive=True)
        for c in LEGAL_LIMIT_CATEGORIES
    }

    return Policy(
        calendar=calendar,
        workflow=Workflow(steps=steps),
        targets=targets,
        reminder_rules=reminders,
        digest_time=digest_time,
        weekly_report=weekly,
        install_requires_photo=photo,
        legal_limits=limits,
        source=source,
    )


def _build_calendar(table: Mapping[str, object]) -> WorkingCalendar:
    path: KeyPath = ("calendar",)
    _known_keys(table, path, _CALENDAR_KEYS)

    tz_path = (*path, "timezone")
    tz_name = _string(_child(table, "timezone", path), tz_path)
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Invalid(tz_path, f'"{tz_name}" is not a known time zone') from None

    days_path = (*path, "weekdays")
    weekdays = frozenset(
        _weekday(d, days_path)
        for d in _list(_child(table, "weekdays", path), days_path, '["mon", "tue"]')
    )
    if not weekdays:
        raise _Invalid(days_path, "must name at least one day")

    windows = _windows(_child(table, "windows", path), (*path, "windows"))

    on = _bool(_child(table, "public_holidays", path), (*path, "public_holidays"))
    country_path = (*path, "country")
    country = _string(_child(table, "country", path), country_path).strip().upper()
    if on and country not in holidays.list_supported_countries():
        raise _Invalid(country_path, f'"{country}" is not a country code with known holidays')

    off = _dates(_child(table, "extra_days_off", path), (*path, "extra_days_off"))
    extra_path = (*path, "extra_working_days")
    extra = _dates(_child(table, "extra_working_days", path), extra_path)
    both = off & extra
    if both:
        raise _Invalid(extra_path, f"has {min(both)}, which is also in extra_days_off")

    try:
        return WorkingCalendar(
            tz=tz,
            weekdays=weekdays,
            windows=windows,
            country=country if on else None,
            extra_days_off=off,
            extra_working_days=extra,
        )
    except ValueError as exc:  # pragma: no cover - every case is checked above
        raise _Invalid(path, f"is not usable: {exc}") from None


_WINDOW = re.compile(r"\s*(\S+?)\s*[-–]\s*(\S+?)\s*")


def _windows(value: object, path: KeyPath) -> tuple[tuple[time, time], ...]:
    example = '["07:30-11:30", "13:00-17:00"]'
    items = _list(value, path, example)
    if not items:
        raise _Invalid(path, f"must have at least one window, like {example}")
    out: list[tuple[time, time]] = []
    for item in items:
        found = _WINDOW.fullmatch(item) if isinstance(item, str) else None
        if found is None:
            raise _Invalid(path, f'has {item!r}, which is not a window like "07:30-11:30"')
        bounds: list[time] = []
        for part in found.groups():
            parsed = _parse_hhmm(part)
            if parsed is None:
                raise _Invalid(path, f'has "{item}": {part} is not a time of day (00:00-23:59)')
            bounds.append(parsed)
        start, end = bounds
        if not start < end:
            raise _Invalid(path, f'has "{item}", which ends before it starts')
        if out and start < out[-1][1]:
            raise _Invalid(path, f'has "{item}", which overlaps or precedes the window before it')
        out.append((start, end))
    return tuple(out)


def _build_steps(table: Mapping[str, object]) -> dict[CaseKind, tuple[CaseStatus, ...]]:
    out: dict[CaseKind, tuple[CaseStatus, ...]] = {}
    for name, value in table.items():
        path: KeyPath = ("steps", name)
        kind = _kind(name, path)
        names = _list(value, path, '["open", "claimed", "resolved", "closed"]')
        if not all(isinstance(n, str) for n in names):
            raise _Invalid(path, 'must list step names in double quotes, like "claimed"')
        known = {s.value for s in CaseStatus}
        for n in names:
            if n not in known:
                raise _Invalid(
                    path, f'has "{n}", which is not a step (possible: {", ".join(_MIDDLE_STEPS)})'
                )
        if not names or names[0] != CaseStatus.OPEN:
            raise _Invalid(path, 'must start with "open"')
        if names[-1] != CaseStatus.CLOSED:
            raise _Invalid(path, 'must end with "closed"')
        if len(names) < 2 or names[1] != CaseStatus.CLAIMED:
            raise _Invalid(path, 'must have "claimed" as its second step')
        if len(names) < 4:
            raise _Invalid(path, 'needs at least one step between "claimed" and "closed"')
        for n in names[2:-1]:
            if n not in _MIDDLE_STEPS:
                raise _Invalid(path, f'cannot have "{n}" in the middle')
        if len(set(names)) != len(names):
            raise _Invalid(path, "names a step twice")
        out[kind] = tuple(CaseStatus(str(n)) for n in names)
    missing = [k.value for k in CaseKind if k not in out]
    if missing:  # pragma: no cover - the defaults list every kind
        raise _Invalid(("steps",), f"is missing {', '.join(missing)}")
    return out


def _build_targets(
    table: Mapping[str, object],
    steps: Mapping[CaseKind, tuple[CaseStatus, ...]],
    calendar: WorkingCalendar,
    user_sla: Mapping[str, object],
) -> dict[CaseKind, dict[CaseStatus, tuple[TargetRule, ...]]]:
    out: dict[CaseKind, dict[CaseStatus, tuple[TargetRule, ...]]] = {k: {} for k in CaseKind}
    for kind_name, kind_value in table.items():
        kind_path: KeyPath = ("sla", kind_name)
        kind = _kind(kind_name, kind_path)
        user_kind = user_sla.get(kind_name)
        written = set(user_kind) if isinstance(user_kind, dict) else set()
        for step_name, value in _table(kind_value, kind_path).items():
            path: KeyPath = (*kind_path, step_name)
            allowed = [s.value for s in steps[kind][1:]]
            if step_name not in allowed:
                if step_name not in written:
                    continue  # a default target for a step this file removed
                raise _Invalid(
                    path, f"is not a step of {kind_name} (its steps: {', '.join(allowed)})"
                )
            rules = _rules(value, path, calendar)
            if rules:
                out[kind][CaseStatus(step_name)] = rules
    return out


def _rules(value: object, path: KeyPath, calendar: WorkingCalendar) -> tuple[TargetRule, ...]:
    if isinstance(value, str) and value.strip().lower() == "none":
        return ()
    if isinstance(value, dict):
        return (_rule(value, path, calendar),)
    if isinstance(value, list):
        rules: list[TargetRule] = []
        for i, item in enumerate(value):
            if rules and rules[-1].is_catch_all:
                raise _Invalid(
                    (*path, i),
                    f"can never apply: rule {i} has no conditions and matches every case",
                )
            rules.append(_rule(item, (*path, i), calendar))
        return tuple(rules)
    raise _Invalid(path, 'must be a table with days or hours, a list of rules, or "none"')


def _rule(value: object, path: KeyPath, calendar: WorkingCalendar) -> TargetRule:
    table = _table(value, path)
    _known_keys(table, path, _RULE_CONDITIONS + _RULE_AMOUNTS)
    amounts = [k for k in _RULE_AMOUNTS if k in table]
    if len(amounts) != 1:
        raise _Invalid(path, "must give either days or hours (exactly one of them)")
    unit = amounts[0]
    amount = _number(table[unit], (*path, unit), positive=True)
    work = calendar.working_day * amount if unit == "days" else timedelta(hours=amount)

    area: Area | None = None
    if "area" in table:
        text = table["area"]
        if text not in {a.value for a in Area}:
            raise _Invalid((*path, "area"), f"must be one of: {', '.join(a for a in Area)}")
        area = Area(str(text))
    purpose: Purpose | None = None
    if "purpose" in table:
        text = table["purpose"]
        if text not in {p.value for p in Purpose}:
            raise _Invalid((*path, "purpose"), f"must be one of: {', '.join(p for p in Purpose)}")
        purpose = Purpose(str(text))
    extra: bool | None = None
    if "needs_extra_works" in table:
        extra = _bool(table["needs_extra_works"], (*path, "needs_extra_works"))
    return TargetRule(work=work, area=area, purpose=purpose, needs_extra_works=extra)


def _build_reminders(table: Mapping[str, object]) -> dict[CaseKind, ReminderRule]:
    path: KeyPath = ("reminders",)
    _known_keys(table, path, _REMINDER_KEYS + _KINDS)
    base = {k: table[k] for k in _REMINDER_KEYS if k in table}
    out: dict[CaseKind, ReminderRule] = {}
    for kind in CaseKind:
        own = table.get(kind.value)
        kind_path: KeyPath = (*path, kind.value)
        values: dict[str, tuple[object, KeyPath]] = {k: (v, (*path, k)) for k, v in base.items()}
        if own is not None:
            own_table = _table(own, kind_path)
            _known_keys(own_table, kind_path, _REMINDER_KEYS)
            values.update({k: (v, (*kind_path, k)) for k, v in own_table.items()})
        out[kind] = _reminder_rule(values, path)
    return out


def _reminder_rule(values: Mapping[str, tuple[object, KeyPath]], path: KeyPath) -> ReminderRule:
    for key in _REMINDER_KEYS:
        if key not in values:  # pragma: no cover - the defaults give every key
            raise _Invalid((*path, key), "is missing")
    raw, where = values["interval_minutes"]
    interval = timedelta(minutes=_number(raw, where, positive=True))
    raw, where = values["escalate_after"]
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
        raise _Invalid(where, "must be a whole number, 1 or more")
    escalate = raw
    raw, where = values["stale_claim_hours"]
    stale_hours = _number(raw, where, positive=False)
    stale = timedelta(hours=stale_hours) if stale_hours > 0 else None
    return ReminderRule(interval=interval, escalate_after=escalate, stale_claim=stale)
