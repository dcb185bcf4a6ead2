"""The rules by which a transaction may use and feed its process's directory copy, with
the version reads scripted: what interleaved transactions on PostgreSQL could do."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.model import Role
from bot.domain.people import Member
from storage import directory
from storage.directory import DirectoryCopy, DirectoryView

MINH = Member("telegram:2", "Minh", Role.WORKER, "PL")


@pytest.fixture
def versions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The versions the next version reads return, in order."""
    script: list[int] = []

    async def read(_conn: Any) -> int:
        return script.pop(0)

    monkeypatch.setattr(directory, "directory_version", read)
    return script


def view(copy: DirectoryCopy) -> DirectoryView:
    return DirectoryView(None, copy)  # type: ignore[arg-type]


async def test_a_read_made_before_a_newer_version_was_seen_is_not_kept(
    versions: list[int],
) -> None:
    copy = DirectoryCopy()
    versions.extend([7, 8])
    slow, later = view(copy), view(copy)
    assert await slow.usable() is copy  # saw 7, then reads the member (an old row)
    assert await later.usable() is copy  # another saw 8 meanwhile: the copy is of 8
    slow.keep(copy.members, MINH.uid, MINH)
    assert copy.members == {}
    # ...and the slow one no longer reads from the copy either.
    assert await slow.usable() is None


async def test_a_moved_version_drops_the_copy(versions: list[int]) -> None:
    copy = DirectoryCopy()
    versions.extend([1, 1, 2])
    first = view(copy)
    assert await first.usable() is copy
    first.keep(copy.members, MINH.uid, MINH)
    assert copy.members == {MINH.uid: MINH}
    second = view(copy)
    assert await second.usable() is copy and copy.members == {MINH.uid: MINH}
    assert await view(copy).usable() is copy and copy.members == {}


async def test_a_transaction_that_wrote_neither_uses_nor_feeds_the_copy(
    versions: list[int],
) -> None:
    copy = DirectoryCopy()
    versions.extend([3, 3])
    writer = view(copy)
    assert await writer.usable() is copy
    writer.wrote()
    assert await writer.usable() is None
    writer.keep(copy.members, MINH.uid, MINH)
    writer.keep_sole(("telegram", "2", "minh"))
    assert copy.members == {} and copy.sole_usernames == set()
    writer.ended()  # committed: the next transaction reads the version again
    assert await writer.usable() is copy


async def test_the_copy_stays_bounded(versions: list[int]) -> None:
    copy = DirectoryCopy()
    versions.append(1)
    reader = view(copy)
    assert await reader.usable() is copy
    for n in range(directory.MOST_ENTRIES + 5):
        reader.keep(copy.accounts, ("telegram", str(n)), None)
    assert copy.size() <= directory.MOST_ENTRIES
