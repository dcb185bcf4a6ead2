"""When the process's copy of the directory may say who is speaking without a transaction
(`recognise_remembered`), and how an update's bet on its version is settled
(bot/services/assumed.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from bot.domain.model import Role
from bot.domain.people import Identity, Member
from bot.services.assumed import Check, DirectoryMoved, assumed, assuming
from bot.services.people import recognise_remembered
from bot.services.ports import Remembered

ACCOUNT = Identity("telegram", "2", "minh")
MINH = Member("telegram:2", "Đỗ Minh", Role.WORKER, "PL", identities=(ACCOUNT,))
VERSION = 7


@dataclass
class Memory:
    """A copy as the tests set it: accounts to what it holds, usernames checked sole."""

    accounts: dict[tuple[str, str], Remembered] = field(default_factory=dict)
    sole: set[Identity] = field(default_factory=set)

    def account(self, channel: str, external_id: str) -> Remembered | None:
        return self.accounts.get((channel, external_id))

    def username_sole(self, identity: Identity, version: int) -> bool:
        return version == VERSION and identity in self.sole


def knowing(member: Member | None, *, sole: bool = True) -> Memory:
    return Memory({("telegram", "2"): Remembered(member, VERSION)}, {ACCOUNT} if sole else set())


def test_a_member_the_copy_knows_is_recognised_with_its_version() -> None:
    assert recognise_remembered(ACCOUNT, knowing(MINH)) == Remembered(MINH, VERSION)


@pytest.mark.parametrize(
    ("memory", "account"),
    [
        (Memory(), ACCOUNT),  # never seen at this version
        (knowing(None), ACCOUNT),  # a stranger: someone added elsewhere must count at once
        (knowing(replace(MINH, active=False)), ACCOUNT),  # removed: the database says so
        (knowing(MINH), replace(ACCOUNT, username="minh_moi")),  # renamed: recognise writes
        (knowing(MINH, sole=False), ACCOUNT),  # nobody checked who else holds @minh
    ],
    ids=["unknown", "stranger", "removed", "renamed", "unchecked-username"],
)
def test_otherwise_the_database_is_asked(memory: Memory, account: Identity) -> None:
    assert recognise_remembered(account, memory) is None


def test_an_account_without_a_username_needs_no_check() -> None:
    bare = replace(ACCOUNT, username=None)
    member = replace(MINH, identities=(bare,))
    assert recognise_remembered(bare, knowing(member, sole=False)) == Remembered(member, VERSION)


def test_the_first_verdict_stands_and_a_move_refuses_every_later_unit() -> None:
    with assuming(VERSION) as held:
        assert held is not None and assumed() is held
        held.verdict(VERSION)
        held.verdict(VERSION + 1)  # a change after the update began: as before
        assert held.check is Check.HELD
    assert assumed() is None
    with assuming(VERSION) as moved:
        assert moved is not None
        with pytest.raises(DirectoryMoved):
            moved.verdict(VERSION + 1)
        with pytest.raises(DirectoryMoved):
            moved.verdict(VERSION)
        assert moved.check is Check.MOVED
    with assuming(None) as nothing:
        assert nothing is None and assumed() is None
