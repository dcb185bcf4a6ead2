"""The chat side of each step: how people type it, press it and answer its form.

One row per step of `bot/domain/steps.py`, keyed by the same action; the two tables
are one table cut along the layers (the domain knows no command words). Everything in
`handlers/` that needs to know the steps reads these rows: the parser's command table,
the case buttons and what they start, the usage hints, the guided forms, the menus.

Adding a step: its row in `bot/domain/steps.py`, its row here, the command and button
words in `CommandName` and `ButtonAction`, and its texts in both catalogues
(`usage.*`, `button.*`, `menu.*`, `form.kind.*`, `form.ask.note_*`).
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
    #: Catalogue keys: the button's label, and how to type the command (`{ref}` in it).
    label: str
    usage: str
    #: The guided form's questions, in order; None: the step has no form.
    form: tuple[FieldSpec, ...] | None
    #: Typed with nothing after the case in the private chat, it opens the form instead.
    bare_opens_form: bool
    #: Where the channel's command menu offers it; None: typed, never offered.
    menu: MenuScope | None

    @property
    def step(self) -> Step:
        return step_of(self.action)


CHAT_STEPS: tuple[ChatStep, ...] = (
    ChatStep(
        Action.CLAIM,
        CommandName.CLAIM,
        ButtonAction.CLAIM,
        label="button.claim",
        usage="usage.claim",
        form=None,
        bare_opens_form=False,
        menu=MenuScope.GROUP,
    ),
    ChatStep(
        Action.SURVEY,
        CommandName.SURVEY,
        ButtonAction.SURVEY,
        label="button.survey",
        usage="usage.survey",
        form=FIELD_WORK,
        bare_opens_form=True,
        menu=MenuScope.PRIVATE,
    ),
    ChatStep(
        Action.ESTIMATE,
        CommandName.ESTIMATE,
        ButtonAction.ESTIMATE,
        label="button.estimate",
        usage="usage.estimate",
        form=(
            ask(FieldName.CUSTOMER_COST, FieldKind.AMOUNT),
            ask(FieldName.UTILITY_COST, FieldKind.AMOUNT),
            OPTIONAL_NOTE,
        ),
        bare_opens_form=True,
        menu=MenuScope.PRIVATE,
    ),
    ChatStep(
        Action.AGREE,
        CommandName.AGREE,
        ButtonAction.AGREE,
        label="button.agree",
        usage="usage.agree",
        form=(),
        bare_opens_form=False,
        menu=MenuScope.PRIVATE,
    ),
    ChatStep(
        Action.INSTALL,
        CommandName.INSTALL,
        ButtonAction.INSTALL,
        label="button.install",
        usage="usage.install",
        form=(ask(FieldName.SERIAL), may_skip(FieldName.READING), PHOTOS, LOCATION),
        bare_opens_form=True,
        menu=MenuScope.PRIVATE,
    ),
    ChatStep(
        Action.INSPECT,
        CommandName.INSPECT,
        ButtonAction.INSPECT,
        label="button.inspect",
        usage="usage.inspect",
        form=FIELD_WORK,
        bare_opens_form=True,
        menu=MenuScope.PRIVATE,
    ),
    ChatStep(
        Action.RESOLVE,
        CommandName.RESOLVE,
        ButtonAction.RESOLVE,
        label="button.resolve",
        usage="usage.resolve",
        form=(NOTE, PHOTOS),
        bare_opens_form=True,
        menu=MenuScope.PRIVATE,
    ),
    ChatStep(
        Action.CLOSE,
        CommandName.CLOSE,
        ButtonAction.CLOSE,
        label="button.close",
        usage="usage.close",
        form=(OPTIONAL_NOTE,),
        bare_opens_form=False,
        menu=None,
    ),
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

