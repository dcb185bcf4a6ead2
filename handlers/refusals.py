"""Refusals that come from how a chat was used, not from the rules of a case.

A domain refusal (`bot.domain.errors`) says the case or the person cannot do this;
these say the words or the place were wrong. Each is a class, so `handlers/replies.py`
words it without reading any message text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Offer:
    """A button offered with an answer: its label (a catalogue key and its values) and
    the command pressing it types (`survey PL-3`, `rate PL-3 8`)."""

    key: str
    command: str
    values: Mapping[str, object] = field(default_factory=dict)


class UsageError(Exception):
    """The command was typed wrong; the answer shows how to type it, and offers what
    can be pressed instead (its cases, a score, a worker)."""

    def __init__(
        self,
        usage_key: str,
        ref: str = "PL-17",
        offers: tuple[Offer, ...] = (),
        per_row: int = 1,
    ) -> None:
        super().__init__(usage_key)
        self.usage_key = usage_key
        self.ref = ref
        self.offers = offers
        self.per_row = per_row


class Choose(UsageError):
    """A question answered by pressing: the text key and values, and the offers."""

    def __init__(
        self, key: str, values: Mapping[str, object], offers: tuple[Offer, ...], per_row: int = 1
    ) -> None:
        super().__init__(key, offers=offers, per_row=per_row)
        self.values = values


class MissingRef(UsageError):
    """No case named, none replied to, and not exactly one of the person's own."""


class BadRef(UsageError):
    """A word meant as the case's ref that is none (`PL-6a`, `#6x`): show how refs look."""

    def __init__(self, usage_key: str, text: str) -> None:
        super().__init__(usage_key)
        self.text = text


class AmountDoubt(UsageError):
    """An amount that may mean more than one sum (`1tr5k`, `1500`), typed where no form
    can ask (a group): its readings, and how to type it unmistakably."""

    def __init__(
        self,
        usage_key: str,
        ref: str,
        text: str,
        readings: tuple[int, ...],
        offers: tuple[Offer, ...] = (),
    ) -> None:
        super().__init__(usage_key, ref, offers)
        self.text = text
        self.readings = readings


class NoteLikeRef(UsageError):
    """A note that is only a mistyped ref (`/survey PL 4`), typed where no form can ask."""

    def __init__(self, usage_key: str, ref: str, text: str) -> None:
        super().__init__(usage_key, ref)
        self.text = text


class BadAmount(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class GroupOnly(Exception):
    """A command that acts on the group it is typed in (`/bindteam`)."""


class PrivateOnly(Exception):
    """Forms live in the private chat with the bot."""


class UnboundGroup(Exception):
    """A team command in a group that shows no team."""


class OtherTeamsChat(Exception):
    """A case asked for in a group of another team (or of none): shown nowhere but its own."""


class InviteUsage(UsageError):
    """`/invite` typed without a known word after it: its roles are offered."""

    def __init__(self, offers: tuple[Offer, ...] = ()) -> None:
        super().__init__("usage.invite", offers=offers)


class LinkPrivateOnly(Exception):
    """`/invite link` typed in a group: a link code is shown in the private chat only."""
