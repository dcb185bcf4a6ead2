"""Photos and locations people send, stored as evidence of a case.

A photo is fetched from the channel with a size limit, checked by its first bytes
and written under MEDIA_DIR before the database row that points at it; if the step
it came with is refused, the file goes again.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from bot.channels.base import Attachment, AttachmentKind, DeliveryError, Inbound
from bot.domain.clock import Clock
from bot.domain.evidence import NewEvidence
from bot.services.evidence import Download, MediaError, MediaStore, NotAnImage, TooBig

MEGABYTE = 1024 * 1024


class EvidenceInbox:
    def __init__(self, media: MediaStore, download: Download, clock: Clock) -> None:
        self.media = media
        self.download = download
        self.clock = clock

    @property
    def max_mb(self) -> int:
        """The photo size limit in whole megabytes, as people are told it."""
        return self.media.max_bytes // MEGABYTE

    @staticmethod
    def has_evidence(inbound: Inbound) -> bool:
        return any(
            a.kind in (AttachmentKind.PHOTO, AttachmentKind.LOCATION) for a in inbound.attachments
        )

    async def fetch_photo(self, channel: str, attachment: Attachment) -> bytes:
        """The photo's bytes, refused before the transfer when it says it is too big."""
        if attachment.file_ref is None:
            raise NotAnImage()
        if attachment.size is not None and attachment.size > self.media.max_bytes:
            raise TooBig(f"{attachment.size} bytes")
        try:
            return await self.download(channel, attachment.file_ref, self.media.max_bytes)
        except DeliveryError as e:
            raise MediaError(str(e)) from e

    @contextlib.asynccontextmanager
    async def collected(self, inbound: Inbound) -> AsyncIterator[tuple[NewEvidence, ...]]:
        """The message's photos (stored) and location; the files go if the body fails."""
        items: list[NewEvidence] = []
        try:
            for attachment in inbound.attachments:
                if attachment.kind is AttachmentKind.LOCATION:
                    if attachment.latitude is not None and attachment.longitude is not None:
                        items.append(
                            NewEvidence.location(attachment.latitude, attachment.longitude)
                        )
                elif attachment.kind is AttachmentKind.PHOTO:
                    data = await self.fetch_photo(inbound.channel, attachment)
                    path, mime = await self.media.save_final(data, self.clock.now())
                    items.append(NewEvidence.photo(path, mime, len(data)))
            yield tuple(items)
        except BaseException:
            for item in items:
                if item.path is not None:
                    await self.media.remove(item.path)
            raise
