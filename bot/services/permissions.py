"""Who may do what to a case: one table, checked by every channel alike."""

from __future__ import annotations

from enum import Enum, auto

from bot.domain import errors
from bot.domain.model import Action, Case, Role
from bot.domain.people import Actor


class Rule(Enum):
    TEAM_WORKER = auto()  # a worker or lead of the case's team
    ASSIGNEE_OR_LEAD = auto()  # the case's assignee, or a lead of its team
    ASSIGNEE_LEAD_OR_CLERK = auto()  # as above, or a clerk (the customer signs at the desk)
    LEAD = auto()  # a lead of the case's team
    CLERK_OR_LEAD = auto()
    VIEWER = auto()  # anyone of the team, and clerks


RULES: dict[Action, Rule] = {
    Action.CLAIM: Rule.TEAM_WORKER,
    Action.SURVEY: Rule.ASSIGNEE_OR_LEAD,
    Action.ESTIMATE: Rule.ASSIGNEE_OR_LEAD,
    Action.AGREE: Rule.ASSIGNEE_LEAD_OR_CLERK,
    Action.INSTALL: Rule.ASSIGNEE_OR_LEAD,
    Action.INSPECT: Rule.ASSIGNEE_OR_LEAD,
    Action.RESOLVE: Rule.ASSIGNEE_OR_LEAD,
    Action.CLOSE: Rule.ASSIGNEE_OR_LEAD,
    Action.RELEASE: Rule.ASSIGNEE_OR_LEAD,
    Action.HOLD: Rule.ASSIGNEE_OR_LEAD,
    Action.RESUME: Rule.ASSIGNEE_OR_LEAD,
    Action.EVIDENCE: Rule.ASSIGNEE_OR_LEAD,
    Action.ASSIGN: Rule.LEAD,
    Action.CANCEL: Rule.LEAD,
    Action.RATE: Rule.CLERK_OR_LEAD,
    Action.NOTE: Rule.VIEWER,
}


def is_clerk_for(actor: Actor, team_code: str) -> bool:
    """A clerk serves every team unless registered to one."""
    m = actor.member
    return (
        m is not None and m.role is Role.CLERK and (m.team_code is None or m.team_code == team_code)
    )


def can_view(actor: Actor, team_code: str) -> bool:
    return (
        ((actor.is_admin or actor.is_system) and actor.reaches(team_code))
        or actor.in_team(team_code)
        or is_clerk_for(actor, team_code)
    )


def visible_teams(actor: Actor) -> frozenset[str] | None:
    """The teams whose cases `actor` may see (`can_view`), as a set; None: every team."""
    if actor.is_admin or actor.is_system:
        return actor.teams
    m = actor.member
    if m is None:
        return frozenset()
    if m.role is Role.CLERK and m.team_code is None:
        return None
    return frozenset({m.team_code}) if m.team_code else frozenset()


def sees_full_phone(actor: Actor, case: Case) -> bool:
    """The customer's whole number is for the one who has the case (as its private
    message); everyone else sees it masked, as on the group's card."""
    return case.assignee is not None and case.assignee == actor.uid


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise errors.AdminOnly()


def require_reach(actor: Actor, team_code: str) -> None:
    """A system actor scoped to some teams (an intake token) stays within them."""
    if not actor.reaches(team_code):
        raise errors.TeamNotAllowed(team_code)


def authorize(actor: Actor, action: Action, case: Case) -> None:
    """Raise the refusal that tells the user what is wrong; return when allowed."""
    require_reach(actor, case.team_code)
    if actor.is_admin or actor.is_system:
        return
    team = case.team_code
    rule = RULES.get(action, Rule.VIEWER)
    if not can_view(actor, team):
        raise errors.NotMember(team)
    lead = actor.is_lead_of(team)
    if (
        rule is Rule.VIEWER
        or (lead and rule is not Rule.CLERK_OR_LEAD)
        or (rule is Rule.CLERK_OR_LEAD and (lead or is_clerk_for(actor, team)))
    ):
        return
    if rule is Rule.TEAM_WORKER:
        if actor.in_team(team) and actor.has_role(Role.WORKER):
            return
        raise errors.Forbidden((Role.WORKER, Role.LEAD))
    if rule is Rule.LEAD:
        raise errors.Forbidden((Role.LEAD,))
    if rule is Rule.CLERK_OR_LEAD:
        raise errors.Forbidden((Role.CLERK, Role.LEAD))
    if rule is Rule.ASSIGNEE_LEAD_OR_CLERK and is_clerk_for(actor, team):
        return
    if case.assignee is None:
        raise errors.NotClaimed(case.ref)
    if case.assignee != actor.uid:
        raise errors.NotAssignee(case.ref, case.assignee, None)


def require_lead(actor: Actor, team_code: str) -> None:
    """A lead of the team (or an admin). Someone outside the team, a lead of another one
    included, is told they are not in this team rather than that only a lead may."""
    if actor.is_lead_of(team_code):
        return
    if not (actor.in_team(team_code) or is_clerk_for(actor, team_code)):
        raise errors.NotMember(team_code)
    raise errors.Forbidden((Role.LEAD,))


def authorize_intake(actor: Actor, team_code: str) -> None:
    require_reach(actor, team_code)
    if actor.is_admin or actor.is_system or is_clerk_for(actor, team_code):
        return
    if actor.is_lead_of(team_code):
        return
    if actor.member is None:
        raise errors.NotMember(team_code)
    raise errors.Forbidden((Role.CLERK, Role.LEAD))
