"""The step table walked row by row: a step added in one place and forgotten in another
fails here, not in a chat.

The domain rows (bot/domain/steps.py) and the chat rows (handlers/steps.py) are one
table cut along the layers; every row must have its command, its button, its usage
text in both languages, its form, and rules that agree with that form.
"""

from __future__ import annotations

import pytest

from bot.domain.model import DEFAULT_STEPS, Action, CaseStatus
from bot.domain.steps import (
    ACTION_OF_STEP,
    STEP_OF_ACTION,
    STEPS,
    NoteRule,
    PhotoRule,
    Records,
    Step,
    step_of,
)
from bot.i18n import Lang, Translator, load_catalogue
from handlers.callbacks import ButtonAction, CallbackData, decode_press
from handlers.commands.steps import StepCommands
from handlers.forms.machine import FORMS
from handlers.forms.spec import FieldKind, FieldName
from handlers.kit import CommandKit
from handlers.menus import MENUS, description_key
from handlers.parsing import CommandName, parse_command
from handlers.steps import BY_COMMAND, CHAT_STEPS, FORM_OF_BUTTON, ChatStep, chat_step

TR = Translator()
CATALOGUES = {lang: load_catalogue(lang) for lang in Lang}
STEP_WORDS = {step.action.value for step in STEPS}


def test_the_domain_and_the_chat_rows_cover_the_same_steps_in_the_same_order() -> None:
    assert [row.action for row in CHAT_STEPS] == [step.action for step in STEPS]
    assert len(STEPS) == len({step.action for step in STEPS})


def test_each_step_moves_to_its_own_status_and_back() -> None:
    assert len(set(STEP_OF_ACTION.values())) == len(STEPS)
    assert all(ACTION_OF_STEP[STEP_OF_ACTION[s.action]] is s.action for s in STEPS)
    used = {status for path in DEFAULT_STEPS.values() for status in path}
    assert {s.moves_to for s in STEPS} <= used
    # Every status a kind's path reaches after `open` is some step's.
    assert used - {CaseStatus.OPEN} <= set(ACTION_OF_STEP)


def test_an_action_that_is_no_step_has_no_row() -> None:
    with pytest.raises(KeyError):
        step_of(Action.HOLD)
    with pytest.raises(KeyError):
        chat_step(Action.RATE)


@pytest.mark.parametrize("row", CHAT_STEPS, ids=lambda row: row.action.value)
def test_every_row_is_typed_with_its_own_command_and_pressed_with_its_own_button(
    row: ChatStep,
) -> None:
    parsed = parse_command(f"/{row.command.value} PL-9")
    assert parsed is not None and parsed.name is row.command
    assert BY_COMMAND[row.command] is row
    pressed = decode_press(CallbackData(row.button, "PL-9").encode())
    assert pressed == CallbackData(row.button, "PL-9")


@pytest.mark.parametrize("row", CHAT_STEPS, ids=lambda row: row.action.value)
@pytest.mark.parametrize("lang", list(Lang))
def test_every_row_has_its_usage_and_its_button_in_both_catalogues(
    row: ChatStep, lang: Lang
) -> None:
    catalogue = CATALOGUES[lang]
    assert row.usage in catalogue and row.label in catalogue
    assert TR.t(lang, row.usage, ref="PL-9").startswith(f"/{row.command.value} PL-9")
    if row.form is not None:
        assert f"form.kind.{row.action.value}" in catalogue
    if row.menu is not None:
        assert description_key(row.menu.value, row.command.value) in catalogue


@pytest.mark.parametrize("row", CHAT_STEPS, ids=lambda row: row.action.value)
def test_every_row_s_form_agrees_with_its_note_and_photo_rules(row: ChatStep) -> None:
    step = row.step
    if row.form is None:
        assert step.records is Records.ASSIGNEE and not row.bare_opens_form
        assert FORM_OF_BUTTON.get(row.button) is None
        return
    assert FORMS[row.action] == row.form and FORM_OF_BUTTON[row.button] is row
    notes = [spec for spec in row.form if spec.name is FieldName.NOTE]
    photos = [spec for spec in row.form if spec.kind is FieldKind.PHOTOS]
    if step.note is NoteRule.REQUIRED:
        assert [spec.optional for spec in notes] == [False]
    else:
        assert all(spec.optional for spec in notes)
    if step.photo is PhotoRule.POLICY:
        assert photos, "a photo the policy may require must be asked for"
    if step.photo is PhotoRule.NONE:
        assert not photos
    if row.bare_opens_form:
        assert row.form, "a form opened instead of a refusal must ask something"
    fields = {spec.name for spec in row.form}
    if step.records is Records.COSTS:
        assert {FieldName.CUSTOMER_COST, FieldName.UTILITY_COST} <= fields
    if step.records is Records.METER:
        assert FieldName.SERIAL in fields


def test_every_row_offered_in_a_menu_stands_in_that_menu() -> None:
    for row in CHAT_STEPS:
        for scope, names in MENUS.items():
            assert (row.command.value in names) is (row.menu is not None and row.menu == scope)


def test_no_command_or_button_word_names_a_step_without_a_row() -> None:
    """A step word in the vocabularies means a row: none left behind by a removed step."""
    commands = {c for c in CommandName if c.value in STEP_WORDS}
    assert commands == {row.command for row in CHAT_STEPS}
    buttons = set(ButtonAction) - {ButtonAction.CASE}
    assert buttons == {row.button for row in CHAT_STEPS}


def test_every_row_s_command_reaches_the_reader_of_what_it_records() -> None:
    """The command table offers every step, and the reader is the one its row names."""
    commands = StepCommands(  # the table only names the readers: nothing is called
        CommandKit(
            service=None,  # type: ignore[arg-type]
            uow=None,  # type: ignore[arg-type]
            tr=TR,
            render=None,  # type: ignore[arg-type]
            lookup=None,  # type: ignore[arg-type]
            replies=None,  # type: ignore[arg-type]
        ),
        forms=None,  # type: ignore[arg-type]
        evidence=None,  # type: ignore[arg-type]
        evidence_service=None,  # type: ignore[arg-type]
    )
    table = commands.table()
    readers = {
        Records.ASSIGNEE: commands.claim,
        Records.NOTE: commands.note_step,
        Records.COSTS: commands.estimate,
        Records.METER: commands.install,
    }
    assert set(readers) == set(Records)
    for row in CHAT_STEPS:
        assert table[row.command] == readers[row.step.records]


def test_a_photo_is_required_only_where_the_rule_and_the_policy_both_say_so() -> None:
    install = step_of(Action.INSTALL)
    assert install.needs_photo(True) and not install.needs_photo(False)
    assert not step_of(Action.SURVEY).needs_photo(True)
    assert not step_of(Action.CLAIM).needs_photo(True)
    made_up = Step(Action.AGREE, CaseStatus.AGREED, Records.NOTE, NoteRule.NONE, PhotoRule.POLICY)
    assert made_up.needs_photo(True)
