"""Evidence of field work: photos and locations attached to a case.

Each piece records who sent it and when, so a lead (or an audit) can see that the
meter was really installed and where the survey was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.errors import DomainError
from bot.domain.model import Source


class EvidenceKind(StrEnum):
    PHOTO = "photo"
    LOCATION = "location"


@dataclass(frozen=True)
class NewEvidence:
    """A piece about to be attached; a photo's file is already stored under `path`."""

    kind: EvidenceKind
    path: str | None = None  # relative to MEDIA_DIR
    mime: str | None = None
    size: int | None = None
    latitude: float | None = None
    longitude: float | None = None

    @classmethod
    def photo(cls, path: str, mime: str, size: int) -> NewEvidence:
        return cls(EvidenceKind.PHOTO, path=path, mime=mime, size=size)

    @classmethod
    def location(cls, latitude: float, longitude: float) -> NewEvidence:
        return cls(EvidenceKind.LOCATION, latitude=latitude, longitude=longitude)


@dataclass(frozen=True)
class Evidence:
    """A stored piece. After a purge its file and coordinates are gone (None)."""

    id: int
    case_id: int
    kind: EvidenceKind
    actor: str
    at: datetime
    source: Source
    path: str | None = None
    mime: str | None = None
    size: int | None = None
    latitude: float | None = None
    longitude: float | None = None


def has_photo(items: tuple[NewEvidence, ...] | list[NewEvidence]) -> bool:
    return any(item.kind is EvidenceKind.PHOTO for item in items)


class PhotoRequired(DomainError):
    """The policy wants a photo of the installed meter before `/install` is accepted."""

    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref
