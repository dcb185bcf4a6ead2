"""What the bot answers: every refusal worded here, every message it sends built here.

A refusal is a class (`bot.domain.errors`, `handlers/refusals.py`, the invite and
media errors); `Replies.words` turns any of them into a sentence in the person's
language, and None for what is no refusal (a bug, which is logged, not worded).

Every message handlers send becomes an outbox row through `to_chat`, `in_chat` or
`reply_to`: the address, the message and the row's keys in one place. `Replies.send`
writes rows in a unit of work of their own; a use case that already holds one adds
the same rows to it, so an answer can later be written in the command's own
transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from bot.channels.base import Button, Capabilities, HandleResult, Outbound
from bot.domain import errors
from bot.domain.amounts import AmountError, format_vnd
from bot.domain.events import Origin
from bot.domain.evidence import PhotoRequired
from bot.domain.steps import ACTION_OF_STEP
from bot.i18n import Lang, Translator
from bot.services.evidence import MediaError, TooBig
from bot.services.invites import (
    AlreadyMember,
    CannotRemoveSelf,
    IdentityTaken,
    InviteInvalid,
    JoinerIsMember,
    MemberElsewhere,
    NotCodeOwner,
    SameChannel,
)
from bot.services.outbox import to_chat as to_chat  # the handlers' callers import it here
from bot.services.ports import ConcurrentUpdate, OutboxItem, UnitOfWork
from handlers.callbacks import CommandPress
from handlers.evidence import EvidenceInbox
from handlers.refusals import (
    AmountDoubt,
    BadAmount,
    BadRef,
    Choose,
    GroupOnly,
    InviteUsage,
    LinkPrivateOnly,
    MissingRef,
    NoteLikeRef,
    OtherTeamsChat,
    PrivateOnly,
    UnboundGroup,
    UsageError,
)
from handlers.render import Renderer
from handlers.request import Request, capabilities_of

Buttons = tuple[tuple[Button, ...], ...]


def in_chat(origin: Origin, message: Outbound) -> OutboxItem:
    """`message`, as built, in the chat a request came from."""
    return to_chat(origin.channel, origin.chat_id, message)


def reply_to(
    origin: Origin, text: str, buttons: Buttons = (), case_id: int | None = None
) -> OutboxItem:
    """`text` quoting the message it answers."""
    message = Outbound(text=text, reply_to=origin.message_id, buttons=buttons)
    return to_chat(origin.channel, origin.chat_id, message, case_id=case_id)


class Replies:
    """Answers to the person who wrote: worded refusals and messages, sent via the outbox."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        tr: Translator,
        render: Renderer,
        evidence: EvidenceInbox,
        capabilities: Mapping[str, Capabilities] | None = None,
    ) -> None:
        self.uow = uow
        self.tr = tr
        self.render = render
        self.evidence = evidence
        #: Per channel: where there are no buttons (Zalo), offers are typed lines.
        self.capabilities = capabilities or {}

    async def send(self, *items: OutboxItem) -> None:
        """Write the rows in one transaction; the relay delivers them after the commit."""
        async with self.uow() as uow:
            for item in items:
                await uow.outbox.add(item)
            await uow.commit()

    async def say(self, req: Request, text: str) -> None:
        """`text`, quoting the message it answers."""
        await self.send(reply_to(req.origin, text))

    async def show(self, req: Request, *messages: Outbound) -> None:
        """Messages, as built, in the chat the request came from."""
        await self.send(*(in_chat(req.origin, message) for message in messages))

    async def run(self, req: Request, work: Callable[[], Awaitable[None]]) -> None:
        """Do the work; a refusal becomes a short answer in the person's language."""
        try:
            await work()
        except Exception as e:
            text = self.words(req.lang, e)
            if text is None:
                raise
            buttons = self.offered(req.lang, e) if isinstance(e, UsageError) else ()
            caps = capabilities_of(self.capabilities, req.inbound.channel)
            if buttons and not caps.buttons and isinstance(e, UsageError):
                typed = (self.tr.t(req.lang, "pick.typed", command=o.command) for o in e.offers)
                text = "\n".join((text, *typed))
            await self.send(reply_to(req.origin, text, buttons))

    def offered(self, lang: Lang, e: UsageError) -> Buttons:
        """The buttons a refusal offers instead of its syntax (those that fit a button)."""
        buttons: list[Button] = []
        for offer in e.offers:
            word, _, args = offer.command.partition(" ")
            if CommandPress.fits(word, args):
                data = CommandPress(word, args).encode()
                buttons.append(Button(self.tr.t(lang, offer.key, **offer.values), data))
        size = max(1, e.per_row)
        return tuple(tuple(buttons[i : i + size]) for i in range(0, len(buttons), size))

    def toast(self, lang: Lang, error: Exception) -> HandleResult:
        """A refusal of a button press, shown over the buttons; re-raised if no refusal."""
        text = self.words(lang, error)
        if text is None:
            raise error
        return HandleResult(toast=text, alert=True)

    # ------------------------------------------------------------ words

    def words(self, lang: Lang, e: BaseException) -> str | None:
        """The refusal in words; None when `e` is no refusal but a fault."""
        t = self.tr.t
        match e:
            case errors.DomainError():
                return self.domain_words(lang, e)
            case ConcurrentUpdate():
                return t(lang, "err.concurrent")
            case BadRef():
                return t(
                    lang, "err.bad_ref", text=e.text[:40], usage=t(lang, e.usage_key, ref=e.ref)
                )
            case AmountDoubt():
                options = " / ".join(format_vnd(r) for r in e.readings)
                usage = t(lang, e.usage_key, ref=e.ref)
                return t(lang, "err.amount_doubt", text=e.text[:40], options=options, usage=usage)
            case Choose():
                return t(lang, e.usage_key, **e.values)
            case InviteUsage():
                return t(lang, "err.usage", usage=t(lang, "usage.invite"))
            case NoteLikeRef():
                usage = t(lang, e.usage_key, ref=e.ref)
                return t(lang, "err.note_like_ref", text=e.text[:40], usage=usage)
            case MissingRef() if e.offers:
                return t(lang, "pick.which_case", usage=t(lang, e.usage_key, ref=e.ref))
            case UsageError():
                key = "err.no_ref" if isinstance(e, MissingRef) else "err.usage"
                return t(lang, key, usage=t(lang, e.usage_key, ref=e.ref))
            case BadAmount():
                return t(lang, "err.bad_amount", text=e.text[:40])
            case GroupOnly():
                return t(lang, "err.group_only")
            case PrivateOnly():
                return t(lang, "err.private_only")
            case UnboundGroup():
                return t(lang, "err.unbound_group")
            case OtherTeamsChat():
                return t(lang, "err.case_other_team")
            case LinkPrivateOnly():
                return t(lang, "invite.link_private_only")
            case TooBig():
                return t(lang, "evidence.too_big", mb=self.evidence.max_mb)
            case MediaError():
                return t(lang, "evidence.not_image")
        return None

    def domain_words(self, lang: Lang, e: errors.DomainError) -> str:
        t = self.tr.t
        match e:
            case errors.CaseNotFound():
                return t(lang, "err.not_found", ref=e.ref)
            case errors.AlreadyClaimed():
                return t(
                    lang, "err.already_claimed", ref=e.ref, owner=e.owner_name or e.owner or "?"
                )
            case errors.NotAssignee():
                return t(lang, "err.not_assignee", ref=e.ref, owner=e.owner_name or e.owner or "?")
            case errors.NotClaimed():
                return t(lang, "err.not_claimed", ref=e.ref)
            case errors.IllegalTransition():
                status = self.render.status(lang, e.status)
                action = ACTION_OF_STEP.get(e.expected) if e.expected else None
                if action is None:
                    return t(lang, "err.wrong_step_none", ref=e.ref, status=status)
                usage = self.render.usage(lang, action, e.ref)
                return t(lang, "err.wrong_step", ref=e.ref, status=status, usage=usage)
            case errors.CaseFinished():
                return t(lang, "err.finished", ref=e.ref, status=self.render.status(lang, e.status))
            case errors.CaseOnHold():
                return t(lang, "err.on_hold", ref=e.ref)
            case errors.NotOnHold():
                return t(lang, "err.not_on_hold", ref=e.ref)
            case errors.NotMember():
                return t(lang, "err.not_member")
            case errors.Forbidden():
                roles = " / ".join(t(lang, f"role.{r.value}") for r in e.needed)
                return t(lang, "err.forbidden", roles=roles)
            case errors.AdminOnly():
                return t(lang, "err.not_admin")
            case errors.UnknownTeam():
                return t(lang, "err.unknown_team", code=e.code)
            case errors.UnknownMember():
                return t(lang, "err.unknown_member", who=e.who)
            case errors.AmbiguousMember():
                people = ", ".join(f"{name} ({uid})" for uid, name in e.candidates)
                return t(lang, "err.ambiguous_member", who=e.who, people=people)
            case errors.NotInTeam():
                return t(lang, "err.not_in_team", name=e.name, team=e.team_code)
            case errors.ReleaseTooLate():
                return t(lang, "err.release_too_late", ref=e.ref)
            case errors.BadRating():
                return t(lang, "err.bad_rating")
            case errors.HandoverGone():
                return t(lang, "err.handover_gone", ref=e.ref)
            case errors.HandoverToSelf():
                return t(lang, "err.handover_self", ref=e.ref)
            case errors.LastChatBusy():
                return t(lang, "err.unbind_busy", waiting=e.waiting)
            case AmountError():
                return t(lang, "err.bad_amount", text=e.text[:40])
            case PhotoRequired():
                return t(lang, "err.photo_required", ref=e.ref)
        return self._invite_words(lang, e)

    def _invite_words(self, lang: Lang, e: errors.DomainError) -> str:
        t = self.tr.t
        match e:
            case InviteInvalid():
                return t(lang, f"invite.invalid.{e.problem.value}")
            case AlreadyMember():
                return t(lang, "invite.already_member", team=e.team_code or "")
            case MemberElsewhere(team_code=None):
                return t(lang, "invite.member_of_all_teams")
            case MemberElsewhere():
                return t(lang, "invite.member_elsewhere", team=e.team_code)
            case IdentityTaken():
                return t(lang, "invite.identity_taken")
            case SameChannel():
                return t(lang, "invite.same_channel")
            case NotCodeOwner():
                return t(lang, "invite.not_code_owner")
            case JoinerIsMember(same_team=True):
                return t(lang, "invite.joiner_here", name=e.name, team=e.team_code or "")
            case JoinerIsMember(team_code=None):
                return t(lang, "invite.joiner_of_all_teams", name=e.name)
            case JoinerIsMember():
                return t(lang, "invite.joiner_elsewhere", name=e.name, team=e.team_code)
            case CannotRemoveSelf():
                return t(lang, "member.cannot_remove_self")
        return t(lang, "err.internal")
