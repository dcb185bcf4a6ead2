"""Folding, reading a search, who sees which teams, and the board, on the in-memory store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.folding import fold, search_key
from bot.domain.model import Role
from bot.domain.people import Actor, Member
from bot.services.board_links import BoardLinks
from bot.services.finding import find, mine_query, read_search, team_board
from bot.services.permissions import can_view, visible_teams
from tests.unit.servicekit import LEAD, POLICY, WORKER, Desk, local


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("Trần Văn Hưng", "tran van hung"),
        ("ĐỖ THỊ NGỌC ÁNH", "do thi ngoc anh"),
        ("Nguyễn  Thị\tMai", "nguyen thi mai"),
        ("Ưng Ơn Ỷ", "ung on y"),
        ("TTHCC-PL-2026-00123", "tthcc-pl-2026-00123"),
    ],
)
def test_fold_drops_diacritics_case_and_extra_spaces(written: str, folded: str) -> None:
    assert fold(written) == folded


@given(st.text(max_size=60))
def test_folding_twice_changes_nothing(text: str) -> None:
    assert fold(fold(text)) == fold(text)


def test_a_case_is_found_by_its_ref_dossier_and_name() -> None:
    assert search_key("PL-17", "TTHCC-1", "Trần Văn Hưng") == "pl-17 tthcc-1 tran van hung"
    assert search_key("PL-17", None, "Hưng") == "pl-17 hung"


def test_reading_a_search() -> None:
    by_name = read_search("  Trần   văn ")
    assert by_name is not None and by_name.words == ("tran", "van") and by_name.phone is None
    by_phone = read_search("+84 912.345.678")
    assert by_phone is not None and by_phone.phone == "0912345678" and by_phone.words == ()
    by_ref = read_search("pl-17")
    assert by_ref is not None and by_ref.ref == "PL-17"
    piece = read_search("09123")
    assert piece is not None and piece.phone is None  # a piece of a number is no number
    assert read_search("   ") is None


ROLES = [Role.CLERK, Role.WORKER, Role.LEAD, None]


@given(
    role=st.sampled_from(ROLES),
    team=st.sampled_from(["PL", "DL", None]),
    admin=st.booleans(),
    asked=st.sampled_from(["PL", "DL", "LN"]),
)
def test_visible_teams_is_can_view_as_a_set(
    role: Role | None, team: str | None, admin: bool, asked: str
) -> None:
    member = Member("telegram:1", "X", role, team) if role is not None else None
    actor = Actor(uid="telegram:1", name="X", member=member, is_admin=admin)
    seen = visible_teams(actor)
    assert can_view(actor, asked) == (seen is None or asked in seen)


def test_a_clerks_mine_is_what_she_filed_anyone_elses_what_they_have() -> None:
    clerk = Member("telegram:9", "Thu", Role.CLERK, None)
    assert mine_query(Actor(uid=clerk.uid, name="Thu", member=clerk)).filed_by == clerk.uid
    worker = Actor(uid=WORKER.uid, name=WORKER.name, member=WORKER)
    query = mine_query(worker)
    assert query.assignee == WORKER.uid and query.active_only and query.filed_by is None


async def test_find_on_the_fake_store_matches_as_sql_does() -> None:
    desk = await Desk().seed()
    first = await desk.intake(local(27, 8))
    second = await desk.intake(local(27, 9))
    lead = Actor(uid=LEAD.uid, name=LEAD.name, member=LEAD)
    search = read_search("tran van hung")
    assert search is not None
    found = await find(desk.uow, lead, search, team=None)
    assert found.total == 2 and [c.ref for c in found.cases] == [second, first]  # newest first
    exact = read_search(first.lower())
    assert exact is not None
    assert (await find(desk.uow, lead, exact, team=None)).cases[0].ref == first
    stranger = Actor(uid="telegram:404", name="?")
    assert (await find(desk.uow, stranger, search, team=None)).total == 0


async def test_the_board_marks_overdue_cases_by_the_one_lateness_rule() -> None:
    desk = await Desk().seed()
    ref = await desk.intake(local(27, 8))
    lead = Actor(uid=LEAD.uid, name=LEAD.name, member=LEAD)
    board = await team_board(desk.uow, lead, "PL", desk.clock.now(), POLICY.workflow)
    assert [c.ref for c in board.unclaimed] == [ref] and board.late == frozenset()
    later = desk.clock.now() + timedelta(days=10)
    board = await team_board(desk.uow, lead, "PL", later, POLICY.workflow)
    assert board.late == {ref}
    assert {w.member.name: w.count for w in board.workers} == {"Lan": 0, "Minh": 0}


async def test_a_board_link_opens_once_and_not_after_it_ends() -> None:
    desk = await Desk().seed()
    links = BoardLinks(desk.clock)
    token = await links.issue("zalo:abc", desk.uow)
    assert await links.redeem(token, desk.uow) == "zalo:abc"
    assert await links.redeem(token, desk.uow) is None
    late = await links.issue("zalo:abc", desk.uow)
    desk.clock.advance(links.ttl)
    assert await links.redeem(late, desk.uow) is None
    assert await links.redeem("x" * 500, desk.uow) is None
