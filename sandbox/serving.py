"""What every sandbox server shares: `async with` starts and stops it; `root_url` once up."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Served:
    """A sandbox server's lifecycle; subclasses implement `start` and `stop`."""

    _root_url: str | None = None

    async def start(self) -> str:
        """Serve on a free port; return the root URL."""
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def root_url(self) -> str:
        """Where the bot's `*_API_URL` points, e.g. http://127.0.0.1:41234."""
        if self._root_url is None:
            raise RuntimeError("sandbox not started")
        return self._root_url
