"""Evidence rows, and the photo files under MEDIA_DIR they point at.

Files are named by the server (never by the sender), checked by their first bytes
(a file called `.jpg` may be anything), and kept only inside MEDIA_DIR. A photo
sent during a form waits under `pending/<form>/` until the form is confirmed, so
an abandoned form leaves nothing attached to a case.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.evidence import Evidence, EvidenceKind, NewEvidence
from bot.domain.model import Source
from bot.services.evidence import MediaError, NotAnImage, TooBig
from storage import tables
from storage.rows import from_row, row_values
from storage.tables import EVIDENCE

#: A phone photo is a few MB at most; a 10 MB "photo" is a mistake or an attack.
MAX_PHOTO_BYTES: Final = 10 * 1024 * 1024
#: Sub-folders of MEDIA_DIR: photos of a form not yet sent, and those of a case.
PENDING_DIR: Final = "pending"
EVIDENCE_DIR: Final = "evidence"


def sniff_image(data: bytes) -> tuple[str, str] | None:
    """(extension, content type) of a JPEG, PNG, WebP or HEIC image by its magic bytes."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg", "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png", "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp", "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1"):
        return "heic", "image/heic"
    return None


class MediaFiles:
    """Photo files under one root; every path handed out is relative to it."""

    def __init__(self, root: Path, max_bytes: int = MAX_PHOTO_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def check(self, data: bytes) -> tuple[str, str]:
        if len(data) > self.max_bytes:
            raise TooBig(f"{len(data)} bytes")
        kind = sniff_image(data)
        if kind is None:
            raise NotAnImage()
        return kind

    def resolve(self, relative: str) -> Path:
        """The absolute path of a stored file, refusing anything outside the root."""
        root = self.root.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root):
            raise MediaError("outside MEDIA_DIR")
        return path

    async def save(self, data: bytes, folder: str) -> tuple[str, str]:
        """Check and store `data` under `folder`; returns (relative path, content type)."""
        ext, mime = self.check(data)
        relative = f"{folder}/{secrets.token_hex(12)}.{ext}"
        path = self.resolve(relative)
        await asyncio.to_thread(_write, path, data)
        return relative, mime

    async def save_pending(self, form_id: str, data: bytes) -> tuple[str, str]:
        return await self.save(data, f"{PENDING_DIR}/{_safe(form_id)}")

    async def save_final(self, data: bytes, at: datetime) -> tuple[str, str]:
        return await self.save(data, f"{EVIDENCE_DIR}/{at:%Y/%m}")

    async def promote(self, relative: str, at: datetime) -> str:
        """Move a pending file to its final place; returns the new relative path."""
        source = self.resolve(relative)
        target_rel = f"{EVIDENCE_DIR}/{at:%Y/%m}/{source.name}"
        target = self.resolve(target_rel)
        await asyncio.to_thread(_move, source, target)
        return target_rel

    async def demote(self, relative: str, form_id: str) -> str:
        """Put a promoted file back into its form's pending folder (the step was refused)."""
        source = self.resolve(relative)
        target_rel = f"{PENDING_DIR}/{_safe(form_id)}/{source.name}"
        await asyncio.to_thread(_move, source, self.resolve(target_rel))
        return target_rel

    async def remove(self, relative: str) -> None:
        with contextlib.suppress(MediaError, FileNotFoundError):
            path = self.resolve(relative)
            await asyncio.to_thread(path.unlink)

    async def drop_pending(self, form_id: str) -> None:
        with contextlib.suppress(MediaError):
            folder = self.resolve(f"{PENDING_DIR}/{_safe(form_id)}")
            await asyncio.to_thread(shutil.rmtree, folder, True)


def _safe(name: str) -> str:
    cleaned = "".join(ch for ch in name if ch.isalnum())
    if not cleaned:
        raise MediaError("empty folder name")
    return cleaned


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


def _evidence(row: sa.Row[Any]) -> Evidence:
    return from_row(Evidence, row, kind=EvidenceKind(row.kind), source=Source(row.source))


class SqlEvidenceRepository:
    def __init__(self, conn: AsyncConnection, now: datetime) -> None:
        self.conn = conn
        self.now = now

    async def add(
        self, case_id: int, item: NewEvidence, actor: str, at: datetime, source: Source
    ) -> int:
        result = await self.conn.execute(
            sa.insert(tables.evidence)
            .values(case_id=case_id, actor=actor, at=at, source=source.value, **row_values(item))
            .returning(EVIDENCE.id)
        )
        return int(result.scalar_one())

    async def for_case(self, case_id: int) -> list[Evidence]:
        rows = await self.conn.execute(
            sa.select(tables.evidence)
            .where(EVIDENCE.case_id == case_id)
            .order_by(EVIDENCE.at, EVIDENCE.id)
        )
        return [_evidence(r) for r in rows]

    async def get(self, case_id: int, evidence_id: int) -> Evidence | None:
        row = (
            await self.conn.execute(
                sa.select(tables.evidence).where(
                    EVIDENCE.case_id == case_id, EVIDENCE.id == evidence_id
                )
            )
        ).first()
        return _evidence(row) if row is not None else None

    async def last_locations(self, case_ids: Sequence[int]) -> dict[int, Evidence]:
        """Each case's latest location (the map's marker), in one query per 500 cases."""
        found: dict[int, Evidence] = {}
        ids = sorted(set(case_ids))
        for start in range(0, len(ids), 500):
            rows = await self.conn.execute(
                sa.select(tables.evidence)
                .where(
                    EVIDENCE.case_id.in_(ids[start : start + 500]),
                    EVIDENCE.kind == EvidenceKind.LOCATION.value,
                    EVIDENCE.latitude.is_not(None),
                    EVIDENCE.longitude.is_not(None),
                )
                .order_by(EVIDENCE.at, EVIDENCE.id)
            )
            found.update((int(r.case_id), _evidence(r)) for r in rows)  # the latest stays
        return found

    async def has_photo(self, case_id: int) -> bool:
        found = (
            await self.conn.execute(
                sa.select(EVIDENCE.id)
                .where(
                    EVIDENCE.case_id == case_id,
                    EVIDENCE.kind == EvidenceKind.PHOTO.value,
                )
                .limit(1)
            )
        ).first()
        return found is not None
