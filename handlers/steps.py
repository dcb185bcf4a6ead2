"""The chat side of each step: how people type it, press it and answer its form.

One row per step of `bot/domain/steps.py`, keyed by the same action: the two tables
are one table cut along the layers (the domain knows no command words). Everything in
`handlers/` that needs to know the steps reads these rows: the command table and which
reader parses a step's words (by what the step records), the case buttons and what
they start, the usage hints, the guided forms, the menus. A row's texts follow from
its words: `usage.<command>` (how to type it), `button.<button>` (its label),
`menu.<command>`, `form.kind.<action>` and `form.ask.note_<action>`.

Adding a step: its row in `bot/domain/steps.py`, its row here, its words in
`CommandName` and `ButtonAction`, and its texts in both catalogues.
tests/unit/test_step_table.py walks the rows and fails on anything missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.model import Action
from bot.domain.steps import Step, step_of
from handlers.callbacks import ButtonAction
from handlers.forms.spec import (
    FIELD_WORK,
    LOCATION,
    NOTE,
    OPTIONAL_NOTE,
    PHOTOS,
    FieldKind,
    FieldName,
    FieldSpec,
    ask,
    may_skip,
)
from handlers.parsing import CommandName, MenuScope


@dataclass(frozen=True)
class ChatStep:
    """A step as people meet it in a chat."""

    action: Action
    command: CommandName
    #: The case button of the step: it starts the step's form (a claim acts at once).
    button: ButtonAction
    #: The guided form's questions, in order; None: the step has no form.
    form: tuple[FieldSpec, ...] | None
    #: Typed with nothing after the case in the private chat, it opens the form instead.
    bare_opens_form: bool
    #: Where the channel's command menu offers it; None: typed, never offered.
    menu: MenuScope | None

    @property
    def step(self) -> Step:
        return step_of(self.action)

    @property
    def usage(self) -> str:
        """The catalogue key of how to type it (`{ref}` in the text)."""
        return f"usage.{self.command.value}"

    @property
    def label(self) -> str:
        """The catalogue key of its button's label."""
        return f"button.{self.button.value}"


#: What each step's form asks (a survey and an inspection: FIELD_WORK, from the spec).
COSTS = (
    ask(FieldName.CUSTOMER_COST, FieldKind.AMOUNT),
    ask(FieldName.UTILITY_COST, FieldKind.AMOUNT),
    OPTIONAL_NOTE,
)
METER_WORK = (ask(FieldName.SERIAL), may_skip(FieldName.READING), PHOTOS, LOCATION)
OUTCOME = (NOTE, PHOTOS)
CLOSING = (OPTIONAL_NOTE,)
NO_QUESTIONS = ()  # the customer's yes is the whole step: only the confirmation
GROUP, PRIVATE = MenuScope.GROUP, MenuScope.PRIVATE

CHAT_STEPS: tuple[ChatStep, ...] = (
    # action, command word, button, form (None: no form), typed bare opens the form, menu
    ChatStep(Action.CLAIM, CommandName.CLAIM, ButtonAction.CLAIM, None, False, GROUP),
    ChatStep(Action.SURVEY, CommandName.SURVEY, ButtonAction.SURVEY, FIELD_WORK, True, PRIVATE),
    ChatStep(Action.ESTIMATE, CommandName.ESTIMATE, ButtonAction.ESTIMATE, COSTS, True, PRIVATE),
    ChatStep(Action.AGREE, CommandName.AGREE, ButtonAction.AGREE, NO_QUESTIONS, False, PRIVATE),
    ChatStep(Action.INSTALL, CommandName.INSTALL, ButtonAction.INSTALL, METER_WORK, True, PRIVATE),
    ChatStep(Action.INSPECT, CommandName.INSPECT, ButtonAction.INSPECT, FIELD_WORK, True, PRIVATE),
    ChatStep(Action.RESOLVE, CommandName.RESOLVE, ButtonAction.RESOLVE, OUTCOME, True, PRIVATE),
    ChatStep(Action.CLOSE, CommandName.CLOSE, ButtonAction.CLOSE, CLOSING, False, None),
)

BY_ACTION: dict[Action, ChatStep] = {row.action: row for row in CHAT_STEPS}
BY_COMMAND: dict[CommandName, ChatStep] = {row.command: row for row in CHAT_STEPS}
#: The case buttons that start a step's form (the claim button claims at once).
FORM_OF_BUTTON: dict[ButtonAction, ChatStep] = {
    row.button: row for row in CHAT_STEPS if row.form is not None
}


def chat_step(action: Action) -> ChatStep:
    """The chat row of a step; KeyError for an action that is no step."""
    return BY_ACTION[action]


def has_form(action: Action) -> bool:
    row = BY_ACTION.get(action)
    return row is not None and row.form is not None
