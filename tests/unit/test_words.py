"""The words a Vietnamese field team reads (issue 15 item 7): no English in the Vietnamese
catalogue, the team's own words for its people, and /help by role from one table."""

from __future__ import annotations

import re

import pytest

from bot.domain.model import Role
from bot.domain.people import Actor, Member, person_name
from bot.i18n import Lang, load_catalogue
from handlers.menus import (
    COMMANDS,
    MENUS,
    Audience,
    audiences,
    description_key,
    help_lines,
    rows_for,
)
from handlers.parsing import CommandName

#: English words a Vietnamese message must not carry (commands such as /claim aside).
ENGLISH = (
    *("reply", "claim", "worker", "lead", "clerk", "evidence", "photo", "photos"),
    *("week", "month", "link", "summary", "teams", "workers", "weeks", "cases", "serial"),
    *("team", "case", "member", "members", "admin", "help", "form", "submit", "done"),
)
#: Words the team does not use: "đội trưởng" leads a đội, "nhân viên" works, and a photo
#: is "ảnh đính kèm".
NOT_OURS = ("trưởng nhóm", "bằng chứng", "công nhân", "văn thư")
#: The operator's messages (`dispatchbot doctor`, `dispatchbot team`) name settings,
#: commands and protocols, which stay as they are spelled.
OPERATOR = ("doctor.", "team.")


def _readable(text: str) -> str:
    """What a person reads as words: commands (/claim), an admin's command line
    (dispatchbot team unbind …, to the end of the message) and placeholders ({ref}) left out."""
    return re.sub(r"/[A-Za-z_]+|\{[a-z_]+\}|dispatchbot [^\n]*$", " ", text)


def _people_messages() -> dict[str, str]:
    return {k: v for k, v in load_catalogue(Lang.VI).items() if not k.startswith(OPERATOR)}


def test_no_english_word_in_the_vietnamese_messages() -> None:
    found = {
        key: word
        for key, text in _people_messages().items()
        for word in ENGLISH
        if re.search(rf"\b{word}\b", _readable(text), re.IGNORECASE)
    }
    assert found == {}


@pytest.mark.parametrize("words", NOT_OURS)
def test_the_team_s_own_words(words: str) -> None:
    assert [k for k, v in load_catalogue(Lang.VI).items() if words in v.lower()] == []


def test_no_programmer_placeholders_in_what_people_read() -> None:
    """`SỐ_CÔNG_TƠ`, `MÃ_ĐỘI`: an example or plain words say it better."""
    shout = re.compile(r"\b[^\W\d_a-zà-ỹđ]{2,}_[^\W\d_a-zà-ỹđ_]+")
    found = {k: v for k, v in _people_messages().items() if shout.search(v)}
    assert found == {}


def test_limits_read_as_a_deadline_not_a_bare_number() -> None:
    vi, en = load_catalogue(Lang.VI), load_catalogue(Lang.EN)
    assert "hạn {limit} ngày" in vi["report.days_item"]
    assert "({limit})" not in vi["report.days_item"] + en["report.days_item"]


def test_the_case_type_and_the_inspection_step_are_named_apart() -> None:
    for lang in Lang:
        words = load_catalogue(lang)
        kind = words["kind.meter_complaint"]
        assert kind not in (
            words["form.kind.inspect"],
            words["button.inspect"],
            words["menu.inspect"],
        )
        assert kind.lower() not in words["button.inspect"].lower()


def test_options_are_capitalised() -> None:
    for lang in Lang:
        words = load_catalogue(lang)
        for key in ("area.urban", "area.rural", "purpose.domestic", "purpose.non_domestic"):
            assert words[key][:1].isupper(), (lang, key)


def test_english_has_no_guillemets_and_no_bracketed_plurals() -> None:
    for key, text in load_catalogue(Lang.EN).items():
        assert "«" not in text and "»" not in text, key
        assert "(s)" not in text, key


@pytest.mark.parametrize(
    ("first", "last", "lang", "shown"),
    [
        ("Tâm", "Nguyễn Văn", "vi", "Nguyễn Văn Tâm"),
        ("Tâm", "Nguyễn Văn", "en", "Nguyễn Văn Tâm"),  # a Vietnamese family name
        ("Minh", "Do", None, "Do Minh"),
        ("Nguyễn Văn Tâm", None, "vi", "Nguyễn Văn Tâm"),
        ("John", "Smith", "en", "John Smith"),
        ("John", "Smith", "vi", "Smith John"),  # the person chose Vietnamese
        ("", "Trần", None, "Trần"),
    ],
)
def test_names_read_family_name_first(
    first: str, last: str | None, lang: str | None, shown: str
) -> None:
    assert person_name(first, last, lang) == shown


def _actor(role: Role | None, *, admin: bool = False) -> Actor:
    member = Member(f"telegram:{role}", "Tâm", role, "PL") if role else None
    return Actor(uid=f"telegram:{role}", name="Tâm", member=member, is_admin=admin)


def _commands(actor: Actor) -> set[CommandName]:
    return {row.command for row in rows_for(actor)}


def test_help_shows_what_each_role_may_do() -> None:
    worker, lead = _commands(_actor(Role.WORKER)), _commands(_actor(Role.LEAD))
    clerk, admin = _commands(_actor(Role.CLERK)), _commands(_actor(None, admin=True))
    stranger = _commands(_actor(None))
    assert {CommandName.CLAIM, CommandName.SURVEY, CommandName.HOLD} <= worker
    assert not worker & {CommandName.ASSIGN, CommandName.NEW, CommandName.REPORT}
    assert {CommandName.ASSIGN, CommandName.CANCEL, CommandName.REPORT} <= lead
    assert CommandName.BINDTEAM not in lead and CommandName.BINDTEAM in admin
    assert {CommandName.NEW, CommandName.RATE, CommandName.AGREE} <= clerk
    assert not clerk & {CommandName.CLAIM, CommandName.SURVEY, CommandName.ASSIGN}
    assert stranger == {CommandName.LANG, CommandName.HELP}
    assert audiences(_actor(Role.LEAD, admin=True)) == {Audience.LEAD, Audience.ADMIN}


def test_a_worker_is_offered_the_link_code_not_a_team_invite() -> None:
    assert ("help.topic.link", ("/invite",)) in help_lines(_actor(Role.WORKER))
    lead = dict(help_lines(_actor(Role.LEAD)))
    assert lead["help.topic.team"] == ("/invite", "/remove", "/unbindteam")
    assert "help.topic.link" not in lead


def test_help_is_a_few_lines_for_everyone() -> None:
    for role in (*Role, None):
        lines = help_lines(_actor(role, admin=role is None))
        assert len(lines) <= 9, (role, lines)
        assert all("/help" not in commands for _, commands in lines)


def test_the_menus_come_from_the_same_table() -> None:
    in_table = {row.command.value for row in COMMANDS if row.menus}
    assert set(MENUS["private"]) | set(MENUS["group"]) == in_table
    assert "claim" in MENUS["group"] and "survey" in MENUS["private"]
    for lang in Lang:
        words = load_catalogue(lang)
        assert all(row.topic in words for row in COMMANDS), lang
        for scope, names in MENUS.items():
            assert all(description_key(scope, name) in words for name in names), lang
