"""GET /healthz and GET /metrics: what an operator's probes and Prometheus read.

Counts only, never personal data. Cases and the outbox are read from the database
(the same for every instance); the rest (sends, 429s, retries, update times,
scheduler passes) is this instance's own, from `bot.metrics`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from aiohttp import hdrs, web

from bot.bootstrap import Container
from bot.metrics import escape_label
from bot.services.monitoring import case_figures, store_answers

log = logging.getLogger(__name__)

#: How long /healthz waits for the database before answering 503.
HEALTH_TIMEOUT: Final = 5.0


def install_ops_routes(app: web.Application, container: Container) -> None:
    """Add /healthz and /metrics, both reading `container`."""

    async def healthz(request: web.Request) -> web.StreamResponse:
        """200 when the database answers a round trip in time, else 503 (the contract).

        A channel whose token the platform refuses makes it `degraded`, still 200: the
        instance serves (intake, the other channels) and keeps every message; taking it
        out of a load balancer would help nothing (docs/operations.md)."""
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                await store_answers(container.uow())
        except Exception as e:
            log.warning("health check failed: %s", type(e).__name__)
            return web.json_response({"status": "unavailable"}, status=503)
        health = container.relay.health
        channels = health.states() if health is not None else {}
        degraded = any(state != "ok" for state in channels.values())
        return web.json_response({"status": "degraded" if degraded else "ok", "channels": channels})

    async def metrics(request: web.Request) -> web.StreamResponse:
        """Prometheus' text format."""
        lines = await _case_and_outbox_lines(container)
        lines += container.relay.metrics.render()
        return web.Response(
            body=("\n".join(lines) + "\n").encode(),
            headers={hdrs.CONTENT_TYPE: "text/plain; version=0.0.4; charset=utf-8"},
        )

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)


async def _case_and_outbox_lines(container: Container) -> list[str]:
    now = container.clock.now()
    cases = await case_figures(container.uow(), container.policy.workflow, now)
    outbox = await container.store.stats()
    oldest = (now - outbox.oldest_pending_at).total_seconds() if outbox.oldest_pending_at else 0.0
    lines = [
        "# HELP dispatch_cases Cases by status and team.",
        "# TYPE dispatch_cases gauge",
    ]
    lines += [
        f'dispatch_cases{{status="{escape_label(row.status.value)}",'
        f'team="{escape_label(row.team_code)}"}} {row.count}'
        for row in cases.by_status
    ]
    lines += [
        "# HELP dispatch_cases_overdue Active cases past a due time (as /overdue), by team.",
        "# TYPE dispatch_cases_overdue gauge",
    ]
    lines += [
        f'dispatch_cases_overdue{{team="{escape_label(team)}"}} {count}'
        for team, count in sorted(cases.overdue.items())
    ]
    lines += [
        "# HELP dispatch_outbox_pending Chat messages waiting to be delivered.",
        "# TYPE dispatch_outbox_pending gauge",
        f"dispatch_outbox_pending {outbox.pending}",
        "# HELP dispatch_outbox_oldest_seconds Age of the oldest message waiting (0: none).",
        "# TYPE dispatch_outbox_oldest_seconds gauge",
        f"dispatch_outbox_oldest_seconds {max(0.0, oldest):.3f}",
        "# HELP dispatch_outbox_failed Messages given up for good (blocked, chat gone).",
        "# TYPE dispatch_outbox_failed gauge",
        f"dispatch_outbox_failed {outbox.failed}",
        "# HELP dispatch_outbox_refusing_chats Chats whose last message was refused for good.",
        "# TYPE dispatch_outbox_refusing_chats gauge",
        f"dispatch_outbox_refusing_chats {outbox.undeliverable_chats}",
    ]
    return lines
