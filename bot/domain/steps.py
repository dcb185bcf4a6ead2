"""The steps of a case's work, one row each: the place to start reading the bot.

A step is what a person reports to move a case forward (`claim`, `survey`, …, `close`).
Its row says which status it moves the case to, what it records, whether a note must
come with it and when a photo must. Everything else about a step reads these rows:
the service that moves the case, the reports and reminders that look for steps in the
history, and, keyed by the same action, the chat side in `handlers/steps.py` (the
command word, the button, the guided form, the usage text).

Adding a step means one row here and its row in `handlers/steps.py` (the domain stays
free of chat words, so that half lives with the handlers). Its `Action` and
`CaseStatus` members name it, `Workflow` places it in the kinds that take it, and
tests/unit/test_step_table.py walks both tables and fails on whatever is missing: a
command, a button, a usage text or a form question in either catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.model import Action, CaseStatus


class Records(StrEnum):
    """What a step writes on the case besides its status and history line."""

    ASSIGNEE = "assignee"  # who took the case
    NOTE = "note"  # only the history line's note
    COSTS = "costs"  # the estimate: what the customer and the utility pay
    METER = "meter"  # the installed meter's serial and first reading


class NoteRule(StrEnum):
    NONE = "none"  # nothing to say: the step is the whole message
    OPTIONAL = "optional"
    REQUIRED = "required"  # the findings are the point of the step (a survey, a fix)


class PhotoRule(StrEnum):
    NONE = "none"  # the step takes no photos
    OPTIONAL = "optional"  # photos may come with it, as evidence
    POLICY = "by_policy"  # required when the policy says so ([evidence] install_requires_photo)


@dataclass(frozen=True)
class Step:
    action: Action
    moves_to: CaseStatus
    records: Records
    note: NoteRule
    photo: PhotoRule = PhotoRule.OPTIONAL

    @property
    def correctable(self) -> bool:
        """Given again while the case still stands at it, the step corrects itself (a
        claim is no report to correct, and a closed case is finished)."""
        return self.records is not Records.ASSIGNEE and self.action is not Action.CLOSE

    def needs_photo(self, policy_requires_photo: bool) -> bool:
        """Whether this step is refused without a photo under the policy in force."""
        return self.photo is PhotoRule.POLICY and policy_requires_photo


STEPS: tuple[Step, ...] = (
    Step(Action.CLAIM, CaseStatus.CLAIMED, Records.ASSIGNEE, NoteRule.NONE, PhotoRule.NONE),
    Step(Action.SURVEY, CaseStatus.SURVEYED, Records.NOTE, NoteRule.REQUIRED),
    Step(Action.ESTIMATE, CaseStatus.ESTIMATED, Records.COSTS, NoteRule.OPTIONAL),
    Step(Action.AGREE, CaseStatus.AGREED, Records.NOTE, NoteRule.OPTIONAL),
    Step(Action.INSTALL, CaseStatus.INSTALLED, Records.METER, NoteRule.OPTIONAL, PhotoRule.POLICY),
    Step(Action.INSPECT, CaseStatus.INSPECTED, Records.NOTE, NoteRule.REQUIRED),
    Step(Action.RESOLVE, CaseStatus.RESOLVED, Records.NOTE, NoteRule.REQUIRED),
    Step(Action.CLOSE, CaseStatus.CLOSED, Records.NOTE, NoteRule.OPTIONAL),
)

STEP_BY_ACTION: dict[Action, Step] = {step.action: step for step in STEPS}
#: The status each step's action moves a case to, and back: views of `STEPS`.
STEP_OF_ACTION: dict[Action, CaseStatus] = {step.action: step.moves_to for step in STEPS}
ACTION_OF_STEP: dict[CaseStatus, Action] = {step.moves_to: step.action for step in STEPS}


#: The history actions a case's timeline is read from (the KPIs, the export): its steps,
#: a lead's assignment (a claim by another hand), and its holds and cancellation.
TIMELINE_ACTIONS: tuple[Action, ...] = (
    *STEP_OF_ACTION,
    Action.ASSIGN,
    Action.HOLD,
    Action.RESUME,
    Action.CANCEL,
)


def step_of(action: Action) -> Step:
    """The row of a step's action; KeyError for an action that is no step (hold, rate)."""
    return STEP_BY_ACTION[action]
