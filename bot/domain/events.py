"""Domain events: what happened, recorded by services, turned into messages after."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.model import Action, Case
from bot.domain.people import Member


@dataclass(frozen=True)
class Origin:
    """Where a request came from, so the answer goes back there. Opaque to the domain."""

    channel: str
    chat_id: str
    message_id: str | None = None
    lang: str | None = None
    is_private: bool = False
    via_button: bool = False


@dataclass(frozen=True)
class Event:
    case: Case
    origin: Origin | None


@dataclass(frozen=True)
class CaseReceived(Event):
    silent: bool = False


@dataclass(frozen=True)
class CaseClaimed(Event):
    member: Member


@dataclass(frozen=True)
class CaseAssigned(Event):
    member: Member
    previous: str | None
    #: Who gave it (a lead by `/assign`, or the colleague who handed it over).
    actor_name: str | None = None
    #: Taken over from `previous`, who offered it (`/handover`), rather than assigned.
    handover: bool = False


@dataclass(frozen=True)
class CaseMoved(Event):
    """A step reported (survey, estimate, …), a close, a cancel, a hold or a resume."""

    action: Action
    actor_name: str
    note: str | None
    #: The step was given again while the case still stood at it: what it recorded
    #: is replaced, and the history keeps both.
    corrected: bool = False


@dataclass(frozen=True)
class CaseReleased(Event):
    previous: str
    actor_name: str
    automatic: bool = False
