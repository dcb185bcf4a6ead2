"""Table definitions (SQLAlchemy Core). The migrations are the source of truth
for the live schema; these mirror them for queries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _on_channel(id_name: str, *, primary_key: bool = True) -> tuple[sa.Column[str], sa.Column[str]]:
    """A chat, a user or an update named as a channel sees it: the channel's name and its
    own id there. One home for how wide both are, as every table keyed by them agrees."""
    return (
        sa.Column("channel", sa.String(16), primary_key=primary_key, nullable=False),
        sa.Column(id_name, sa.String(64), primary_key=primary_key, nullable=False),
    )


metadata = sa.MetaData()

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("code", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("lang", sa.String(5)),
    sa.Column("next_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

team_chats = sa.Table(
    "team_chats",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("team_code", sa.String(16), sa.ForeignKey("teams.code"), nullable=False),
    *_on_channel("chat_id", primary_key=False),
    sa.UniqueConstraint("channel", "chat_id", name="uq_team_chats_chat"),
)

members = sa.Table(
    "members",
    metadata,
    sa.Column("uid", sa.String(80), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("team_code", sa.String(16), sa.ForeignKey("teams.code")),
    sa.Column("lang", sa.String(5)),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

identities = sa.Table(
    "identities",
    metadata,
    *_on_channel("external_id"),
    sa.Column("member_uid", sa.String(80), sa.ForeignKey("members.uid"), nullable=False),
    sa.Column("username", sa.String(64)),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ref", sa.String(32), nullable=False, unique=True),
    sa.Column("external_ref", sa.String(128)),
    # 0007: who filed it under external_ref (the intake's actor, `api:desk`); an
    # external_ref is unique per integration, not across integrations.
    sa.Column("integration", sa.String(80)),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("team_code", sa.String(16), sa.ForeignKey("teams.code"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("held_from", sa.String(16)),
    sa.Column("area", sa.String(16)),
    sa.Column("purpose", sa.String(16)),
    sa.Column("needs_extra_works", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("customer_name", sa.String(200), nullable=False),
    sa.Column("customer_phone", sa.String(32), nullable=False),
    sa.Column("customer_address", sa.String(500), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("due_at", UTCDateTime),
    sa.Column("step_due_at", UTCDateTime),
    sa.Column("held_at", UTCDateTime),
    sa.Column("paused_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("assignee", sa.String(80), sa.ForeignKey("members.uid")),
    sa.Column("claimed_at", UTCDateTime),
    sa.Column("last_progress_at", UTCDateTime),
    sa.Column("customer_cost", sa.BigInteger),
    sa.Column("utility_cost", sa.BigInteger),
    sa.Column("meter_serial", sa.String(64)),
    sa.Column("meter_reading", sa.String(32)),
    sa.Column("satisfaction", sa.Integer),
    sa.Column("reminder_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_check_at", UTCDateTime),
    sa.Column("anonymised", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    # 0009: what `/find` matches, folded (bot.domain.folding.search_key), written with
    # every save; and the customer's number looked up as a whole.
    sa.Column("search_key", sa.String(400)),
    sa.UniqueConstraint("integration", "external_ref", name="uq_cases_integration_external_ref"),
    sa.Index("ix_cases_team_status", "team_code", "status"),
    sa.Index("ix_cases_status", "status"),
    sa.Index("ix_cases_assignee", "assignee"),
    sa.Index("ix_cases_next_check_at", "next_check_at"),
    sa.Index("ix_cases_customer_phone", "customer_phone"),
)

case_events = sa.Table(
    "case_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("action", sa.String(24), nullable=False),
    sa.Column("actor", sa.String(80), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Index("ix_case_events_case", "case_id", "id"),
    # The digest and the reports look up a day's events without reading all history.
    sa.Index("ix_case_events_at", "at"),
    # 0009: the cases a clerk filed (her `/mine`): intake events by actor.
    sa.Index("ix_case_events_actor", "actor", "action"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    *_on_channel("chat_id", primary_key=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("card_key", sa.String(80)),
    sa.Column("dedupe_key", sa.String(160), unique=True),
    sa.Column("case_id", sa.Integer),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("not_before", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("error", sa.Text),
    sa.Column("message_id", sa.String(64)),
    # Relay progress (0003): parts of a long text already out, the start of a send
    # whose answer is not recorded yet, and how often a crash left that unknown.
    sa.Column("parts_sent", sa.Integer, nullable=False, server_default="0"),
    sa.Column("sending_at", UTCDateTime),
    sa.Column("uncertain", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_outbox_status_id", "status", "id"),
    sa.Index("ix_outbox_card", "card_key", "channel", "chat_id", "status"),
    sa.Index("ix_outbox_chat_queue", "channel", "chat_id", "status", "id"),
)

#: One row per chat the relay has delivered to: who holds its queue (a lease, so one
#: instance sends to a chat at a time, in order), when it may be tried again after a
#: 429 or an error, the recent sends that pace it, and whether it refuses our messages.
outbox_chats = sa.Table(
    "outbox_chats",
    metadata,
    *_on_channel("chat_id"),
    sa.Column("lease_owner", sa.String(120)),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("not_before", UTCDateTime, nullable=False),
    sa.Column("pacing", sa.JSON),
    sa.Column("failed_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
)

#: Instances whose relay is alive (heartbeat), so they share the global send rate.
relay_instances = sa.Table(
    "relay_instances",
    metadata,
    sa.Column("name", sa.String(120), primary_key=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),
)

chat_messages = sa.Table(
    "chat_messages",
    metadata,
    *_on_channel("chat_id"),
    sa.Column("message_id", sa.String(64), primary_key=True),
    sa.Column("case_id", sa.Integer),
    sa.Column("card_key", sa.String(80)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_chat_messages_card", "card_key", "channel", "chat_id"),
)

processed_updates = sa.Table(
    "processed_updates",
    metadata,
    *_on_channel("update_id"),
    sa.Column("at", UTCDateTime, nullable=False),
    # 0003: "done", written in the update's own commit (storage.updates); "processing" only
    # from instances of an older version, which claimed an update before handling it.
    sa.Column("state", sa.String(12), nullable=False, server_default="done"),
)

evidence = sa.Table(
    "evidence",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("path", sa.String(300)),
    sa.Column("mime", sa.String(64)),
    sa.Column("size", sa.Integer),
    sa.Column("latitude", sa.Float),
    sa.Column("longitude", sa.Float),
    sa.Column("actor", sa.String(80), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Index("ix_evidence_case", "case_id"),
)

forms = sa.Table(
    "forms",
    metadata,
    *_on_channel("user_id"),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    # 0005: two messages handled at once must not overwrite each other's answers.
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_forms_expires_at", "expires_at"),
)

invites = sa.Table(
    "invites",
    metadata,
    sa.Column("token", sa.String(64), primary_key=True),
    # 0005: nullable, as a link code of a clerk serving every team has no team.
    sa.Column("team_code", sa.String(16), sa.ForeignKey("teams.code")),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(80), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_by", sa.String(80)),
    sa.Column("used_at", UTCDateTime),
    # 0005: team invite or link code, its progress, who opened it, who decided.
    sa.Column("kind", sa.String(16), nullable=False, server_default="team"),
    sa.Column("status", sa.String(16), nullable=False, server_default="open"),
    sa.Column("member_uid", sa.String(80)),
    sa.Column("joiner", sa.JSON),
    sa.Column("decided_by", sa.String(80)),
    sa.Column("decided_at", UTCDateTime),
    # 0006: the account (`channel:id`) that made a link code; only it confirms the link.
    sa.Column("created_via", sa.String(80)),
)

#: 0009: one-time links that open the lead's board outside Telegram (bot/services/board_links.py).
#: Only the token's digest is kept: a database dump opens no board.
board_links = sa.Table(
    "board_links",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("account", sa.String(80), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime),
    sa.Index("ix_board_links_expires_at", "expires_at"),
)

#: 0010 (f14-chat): a chat that lives on under a new id (a Telegram group upgraded to a
#: supergroup): where its team, its queue and its later posts went (storage/chat_moves.py).
chat_moves = sa.Table(
    "chat_moves",
    metadata,
    *_on_channel("old_chat_id"),
    sa.Column("new_chat_id", sa.String(64), nullable=False),
    sa.Column("team_code", sa.String(16)),
    sa.Column("moved_at", UTCDateTime, nullable=False),
)

#: 0011: one row (id 1) whose version moves, by triggers, with every write to members,
#: identities, teams and team_chats: what a process read of them holds while it stays.
directory_version = sa.Table(
    "directory_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger, nullable=False),
)

# Each table's columns, named as a query reads them: `CASES.status == "open"`.
TEAMS = teams.c
TEAM_CHATS = team_chats.c
MEMBERS = members.c
IDENTITIES = identities.c
CASES = cases.c
EVENTS = case_events.c
OUTBOX = outbox.c
OUTBOX_CHATS = outbox_chats.c
RELAY_INSTANCES = relay_instances.c
CHAT_MESSAGES = chat_messages.c
PROCESSED_UPDATES = processed_updates.c
EVIDENCE = evidence.c
FORMS = forms.c
INVITES = invites.c
BOARD_LINKS = board_links.c
CHAT_MOVES = chat_moves.c
