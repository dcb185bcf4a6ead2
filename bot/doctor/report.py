"""The doctor's findings in words: one line each as text, or a documented JSON document.

Text is for the person at the terminal, in the deployment's LANGUAGE: a status, what was
found, and after "→" what to do. JSON (docs/operations.md, "dispatchbot doctor") carries
the same sentences beside stable fields for a script or a monitoring system.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from bot.doctor.findings import Check, Finding, Status, Values, exit_code
from bot.doctor.platform import CHANNEL_LABELS
from bot.i18n import Lang, Translator
from bot.sla.calendar import DaySource, SpecialDay

#: How each check is labelled when it belongs to no channel.
SCOPES: Mapping[Check, str] = {
    Check.DATABASE: "doctor.scope.database",
    Check.MIGRATIONS: "doctor.scope.database",
    Check.POLICY: "doctor.scope.policy",
    Check.HOLIDAYS: "doctor.scope.holidays",
    Check.HELD: "doctor.scope.held",
}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Words:
    """Puts findings into one language."""

    def __init__(self, tr: Translator, lang: Lang) -> None:
        self.tr = tr
        self.lang = lang

    def t(self, key: str, **values: Any) -> str:
        return self.tr.t(self.lang, key, **values)

    def _values(self, values: Values) -> dict[str, str | int]:
        return {
            name: self.tr.when(value) if isinstance(value, datetime) else value
            for name, value in values.items()
        }

    def message(self, finding: Finding) -> str:
        return self.t(finding.message, **self._values(finding.values))

    def hint(self, finding: Finding) -> str | None:
        return self.t(finding.hint, **self._values(finding.values)) if finding.hint else None

    def scope(self, finding: Finding) -> str:
        if finding.channel is not None:
            return CHANNEL_LABELS.get(finding.channel, finding.channel)
        key = SCOPES.get(finding.check)
        return self.t(key) if key else ""

    def day(self, special: SpecialDay) -> str:
        values = {
            "date": _day(special.day),
            "weekday": self.t(f"doctor.weekday.{WEEKDAYS[special.day.weekday()]}"),
            "name": special.name or "",
            "other": _day(special.in_exchange_for) if special.in_exchange_for else "",
        }
        if special.working:
            key = "doctor.day.worked_for" if special.in_exchange_for else "doctor.day.worked"
        else:
            key = "doctor.day.off" if special.name else "doctor.day.off_unnamed"
        line = self.t(key, **values)
        if special.source is DaySource.POLICY:
            line += " " + self.t("doctor.day.from_policy")
        return line


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def render_text(findings: Sequence[Finding], tr: Translator, lang: Lang) -> str:
    words = Words(tr, lang)
    tags = {status: words.t(f"doctor.status.{status.value}") for status in Status}
    width = max(len(tag) for tag in tags.values())
    lines: list[str] = []
    for finding in findings:
        scope = words.scope(finding)
        line = f"{tags[finding.status]:<{width}}  {scope + ': ' if scope else ''}"
        line += words.message(finding)
        hint = words.hint(finding)
        if hint:
            line += f" → {hint}"
        lines.append(line)
        lines += [f"{'':<{width}}    {words.day(d)}" for d in finding.days]
    lines.append(summary(findings, words))
    return "\n".join(lines)


def summary(findings: Sequence[Finding], words: Words) -> str:
    if exit_code(findings) == 0:
        return words.t("doctor.summary.ok")
    fails = sum(1 for f in findings if f.status is Status.FAIL)
    warns = sum(1 for f in findings if f.status is Status.WARN)
    return words.t("doctor.summary.problems", fails=fails, warns=warns)


def render_json(findings: Sequence[Finding], tr: Translator, lang: Lang) -> str:
    words = Words(tr, lang)
    document = {
        "ok": exit_code(findings) == 0,
        "language": lang.value,
        "findings": [_finding_json(f, words) for f in findings],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def _finding_json(finding: Finding, words: Words) -> dict[str, Any]:
    data: dict[str, Any] = {
        "check": finding.check.value,
        "channel": finding.channel,
        "status": finding.status.value,
        "message": words.message(finding),
        "hint": words.hint(finding),
    }
    if finding.team is not None:
        data["team"] = finding.team
    if finding.chat_id is not None:
        data["chat_id"] = finding.chat_id
    if finding.year is not None:
        data["year"] = finding.year
        data["days"] = [
            {
                "date": d.day.isoformat(),
                "working": d.working,
                "name": d.name,
                "source": d.source.value,
                "in_exchange_for": d.in_exchange_for.isoformat() if d.in_exchange_for else None,
            }
            for d in finding.days
        ]
    return data
