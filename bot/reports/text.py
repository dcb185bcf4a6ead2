"""The report as people read it in a chat: a few short lines in their language."""

from __future__ import annotations

from bot.i18n import Lang, Translator
from bot.reports.kpi import Figures, Report
from bot.reports.timeline import INSTALL_CATEGORIES, Category

#: Workers listed in the chat summary; the workbook has them all.
MAX_WORKERS = 10
CHART_CATEGORIES = (*INSTALL_CATEGORIES, Category.COMPLAINT, Category.ACCESS)


def number(lang: Lang, value: float | None, digits: int = 2) -> str:
    """1.5 → "1,50" in Vietnamese, "1.50" in English; None → "—"."""
    if value is None:
        return "—"
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang is Lang.VI else text


def percent(lang: Lang, figures: Figures) -> str:
    if not figures.completed:
        return "—"
    return number(lang, figures.on_time_rate * 100, 0) + "%"


def scope_name(tr: Translator, lang: Lang, report: Report) -> str:
    if report.team is None:
        return tr.t(lang, "report.all_teams")
    name = next((t.name for t in report.teams if t.code == report.team), report.team)
    return f"{report.team} · {name}"


def titled(tr: Translator, lang: Lang, report: Report, key: str) -> str:
    """A title naming the report's scope and period: the summary's, the chart's, the
    workbook's and the captions all say them the same way."""
    return tr.t(lang, key, scope=scope_name(tr, lang, report), period=report.period.label())


def category_name(tr: Translator, lang: Lang, category: Category) -> str:
    return tr.t(lang, f"report.cat.{category.value}")


def _item(tr: Translator, lang: Lang, key: str, figures: Figures, **more: object) -> str:
    """A team's or a worker's line: what it completed and how much of it on time."""
    return tr.t(lang, key, completed=figures.completed, rate=percent(lang, figures), **more)


def summary(report: Report, tr: Translator, lang: Lang) -> str:
    f = report.figures
    lines = [
        titled(tr, lang, report, "report.title"),
        tr.t(
            lang,
            "report.counts",
            received=f.received,
            completed=f.completed,
            open=f.open,
            overdue=f.overdue,
        ),
        tr.t(
            lang, "report.on_time", rate=percent(lang, f), on_time=f.on_time, completed=f.completed
        ),
        tr.t(lang, "report.days_title"),
    ]
    for category in CHART_CATEGORIES:
        lines.append(
            tr.t(
                lang,
                "report.days_item",
                category=category_name(tr, lang, category),
                days=number(lang, f.days_of(category)),
                limit=number(lang, report.legal_limits.get(category.value), 0),
            )
        )
    lines.append(tr.t(lang, "report.claim", hours=number(lang, f.claim_hours_avg)))
    lines.append(tr.t(lang, "report.satisfaction", score=number(lang, f.satisfaction_avg, 1)))
    if report.team is None and len(report.teams) > 1:
        lines.append(tr.t(lang, "report.teams_title"))
        lines += [
            _item(tr, lang, "report.team_item", x.figures, team=x.code, received=x.figures.received)
            for x in report.teams
        ]
    shown = [w for w in report.workers if w.figures.completed][:MAX_WORKERS]
    if shown:
        lines.append(tr.t(lang, "report.workers_title"))
        for w in shown:
            days = number(lang, w.figures.days_avg)
            lines.append(_item(tr, lang, "report.worker_item", w.figures, name=w.name, days=days))
    lines.append(
        tr.t(
            lang,
            "report.note",
            hours=number(lang, report.working_day_hours, 0),
            at=tr.when(report.snapshot),
        )
    )
    return "\n".join(lines)
