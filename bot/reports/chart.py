"""The KPI chart: average working days per category against the legal limit, and
the same by week. Drawn with matplotlib's Agg canvas (no display, no pyplot global
state), so it is safe in a worker thread of the running bot."""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.i18n import Lang, Translator
from bot.reports.kpi import Report
from bot.reports.text import CHART_CATEGORIES, category_name, titled

_BAR = "#2b6cb0"
_LATE = "#c53030"
_LIMIT = "#1a202c"
_LINES = ("#2b6cb0", "#38a169", "#d69e2e", "#805ad5", "#dd6b20")


def draw_chart(report: Report, tr: Translator, lang: Lang, path: Path) -> Path:
    """Write the PNG to `path` and return it."""
    fig = Figure(figsize=(11, 4.8), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.3))
    fig.suptitle(titled(tr, lang, report, "report.chart_title"), fontsize=11)

    names = [category_name(tr, lang, c) for c in CHART_CATEGORIES]
    values = [report.figures.days_of(c) for c in CHART_CATEGORIES]
    limits = [report.legal_limits.get(c.value) for c in CHART_CATEGORIES]
    xs = range(len(CHART_CATEGORIES))
    heights = [v if v is not None else 0.0 for v in values]
    colours = [
        _LATE if v is not None and lim is not None and v > lim else _BAR
        for v, lim in zip(values, limits, strict=True)
    ]
    left.bar(xs, heights, color=colours, width=0.6, label=tr.t(lang, "report.chart_avg"))
    for x, value in zip(xs, values, strict=True):
        label = "—" if value is None else f"{value:.2f}"
        left.annotate(
            label,
            (x, value or 0.0),
            ha="center",
            va="bottom",
            fontsize=9,
            xytext=(0, 2),
            textcoords="offset points",
        )
    limit_points = [(x, lim) for x, lim in zip(xs, limits, strict=True) if lim is not None]
    if limit_points:
        left.hlines(
            [p[1] for p in limit_points],
            [p[0] - 0.4 for p in limit_points],
            [p[0] + 0.4 for p in limit_points],
            colors=_LIMIT,
            linewidths=2.5,
            zorder=3,
            label=tr.t(lang, "report.chart_limit"),
        )
    left.set_xticks(list(xs), names, rotation=20, ha="right", fontsize=8)
    left.set_ylabel(tr.t(lang, "report.chart_days"))
    left.set_title(tr.t(lang, "report.chart_by_category"), fontsize=10)
    top = max([*heights, *(lim or 0.0 for lim in limits), 1.0])
    left.set_ylim(0, top * 1.3)
    left.legend(fontsize=8, loc="upper left", ncols=2)

    # Numeric positions: a week without any figure keeps its place on the axis.
    positions = list(range(len(report.weeks)))
    highest = 1.0
    for colour, category in zip(_LINES, CHART_CATEGORIES, strict=True):
        series = [w.figures.days_of(category) for w in report.weeks]
        highest = max([highest, *(v for v in series if v is not None)])
        ys = [math.nan if v is None else v for v in series]
        right.plot(positions, ys, marker="o", color=colour, label=category_name(tr, lang, category))
    right.set_xticks(positions, [w.week.start.strftime("%d/%m") for w in report.weeks])
    right.set_xlim(-0.5, len(positions) - 0.5)
    right.set_ylim(0, highest * 1.45)
    right.set_title(tr.t(lang, "report.chart_trend"), fontsize=10)
    right.set_xlabel(tr.t(lang, "report.chart_week"))
    right.set_ylabel(tr.t(lang, "report.chart_days"))
    right.tick_params(axis="x", labelsize=8, rotation=30)
    right.legend(fontsize=7, loc="upper left", ncols=2)
    right.grid(alpha=0.3)

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
