"""Domain errors: one class per refusal, so callers never match message text."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.domain.model import CaseStatus, Role


class DomainError(Exception):
    """A refusal the user can act on; handlers map each subclass to a message."""


class CaseNotFound(DomainError):
    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref


class IllegalTransition(DomainError):
    def __init__(
        self, ref: str, status: CaseStatus, target: CaseStatus, expected: CaseStatus | None
    ) -> None:
        super().__init__(f"{ref}: {status} -> {target}")
        self.ref = ref
        self.status = status
        self.target = target
        self.expected = expected


class CaseFinished(DomainError):
    def __init__(self, ref: str, status: CaseStatus) -> None:
        super().__init__(ref)
        self.ref = ref
        self.status = status


class CaseOnHold(DomainError):
    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref


class NotOnHold(DomainError):
    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref


class AlreadyClaimed(DomainError):
    def __init__(self, ref: str, owner: str | None, owner_name: str | None) -> None:
        super().__init__(ref)
        self.ref = ref
        self.owner = owner
        self.owner_name = owner_name


class NotAssignee(DomainError):
    def __init__(self, ref: str, owner: str | None, owner_name: str | None) -> None:
        super().__init__(ref)
        self.ref = ref
        self.owner = owner
        self.owner_name = owner_name


class NotClaimed(DomainError):
    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref


class NotMember(DomainError):
    """The user is not registered, or not in the case's team."""

    def __init__(self, team_code: str | None = None) -> None:
        super().__init__(team_code or "")
        self.team_code = team_code


class Forbidden(DomainError):
    """The member's role does not allow this action."""

    def __init__(self, needed: tuple[Role, ...]) -> None:
        super().__init__(",".join(needed))
        self.needed = needed


class AdminOnly(DomainError):
    """Only an administrator of the bot (ADMIN_IDS) may do this: bind a group to a team."""


class UnknownTeam(DomainError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class ChatNotOfTeam(DomainError):
    """The chat to take off a team does not show that team (another one, or none)."""

    def __init__(self, team_code: str, channel: str, chat_id: str, bound_to: str | None) -> None:
        super().__init__(f"{channel}:{chat_id} not of {team_code}")
        self.team_code = team_code
        self.channel = channel
        self.chat_id = chat_id
        #: The team the chat shows instead, if any.
        self.bound_to = bound_to


class LastChatBusy(DomainError):
    """Messages still wait for the team's only chat: taking it off would lose them."""

    def __init__(self, team_code: str, channel: str, chat_id: str, waiting: int) -> None:
        super().__init__(f"{channel}:{chat_id} of {team_code}")
        self.team_code = team_code
        self.channel = channel
        self.chat_id = chat_id
        self.waiting = waiting


class UnknownMember(DomainError):
    def __init__(self, who: str) -> None:
        super().__init__(who)
        self.who = who


class AmbiguousMember(DomainError):
    """Several members still hold this @username (one renamed, another took the name):
    acting on either could hit the wrong person, so the lead names them by id."""

    def __init__(self, who: str, candidates: tuple[tuple[str, str], ...]) -> None:
        super().__init__(who)
        self.who = who
        #: (uid, name) of each holder.
        self.candidates = candidates


class NotInTeam(DomainError):
    """The person a lead named belongs to another team (or none)."""

    def __init__(self, name: str, team_code: str) -> None:
        super().__init__(f"{name} not in {team_code}")
        self.name = name
        self.team_code = team_code


class ReleaseTooLate(DomainError):
    """Work has started: a lead reassigns instead, so no survey is lost."""

    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref


class BadRating(DomainError):
    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


class TeamNotAllowed(DomainError):
    """A system actor limited to some teams (a scoped intake token) reached for another."""

    def __init__(self, team_code: str) -> None:
        super().__init__(team_code)
        self.team_code = team_code


class ExternalRefTaken(DomainError):
    """The integration already used this external_ref for a case of another team.

    Answering with that case would show the caller a case it did not ask for, and filing
    a second one would break the rule that a retried call never makes a new case."""

    def __init__(self, external_ref: str, team_code: str) -> None:
        super().__init__(team_code)  # never the external_ref: it may be personal data
        self.external_ref = external_ref
        self.team_code = team_code


class HandoverGone(DomainError):
    """No handover of this case waits for this person (answered, expired, never made),
    or the case left its giver before the answer."""

    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref


class HandoverToSelf(DomainError):
    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref
