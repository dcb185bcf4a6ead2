"""Every chat channel records its actions under its own source; no other name is a source.

The sandbox is no channel of its own (it stands in for Telegram or Zalo under their names),
so a message under any other channel name is a wiring mistake: it stops at the dispatcher
instead of reaching a case's history under a made-up source.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.bootstrap import CHANNEL_FACTORIES, bootstrap
from bot.channels.base import ChannelAddress, ChatKind, Inbound, InboundUser
from bot.domain.clock import FixedClock
from bot.domain.model import Source
from handlers.request import UnknownChannel, source_of_channel
from tests.conftest import make_settings


@pytest.mark.parametrize("channel", sorted(CHANNEL_FACTORIES))
def test_each_channel_the_bot_can_run_has_its_own_source(channel: str) -> None:
    assert source_of_channel(channel) is Source(channel)


@pytest.mark.parametrize("name", ["sandbox", "api", "cli", "scheduler", "import", ""])
def test_a_name_that_is_no_chat_channel_is_no_source(name: str) -> None:
    with pytest.raises(UnknownChannel):
        source_of_channel(name)


async def test_a_message_on_an_unknown_channel_stops_at_the_dispatcher(
    sqlite_url: str, tmp_path: Path, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    container = await bootstrap(make_settings(sqlite_url, tmp_path), clock=clock, channels={})
    try:
        result = await container.dispatcher.handle(
            Inbound(
                address=ChannelAddress("sandbox", "1"),
                chat_kind=ChatKind.PRIVATE,
                user=InboundUser("1", "Lan", None, "vi"),
                text="/start",
                message_id="1",
            )
        )
    finally:
        await container.close()
    assert result.toast == container.tr.t("vi", "err.internal")
    failures = [r for r in caplog.records if r.exc_info and r.exc_info[0] is UnknownChannel]
    assert failures, "the dispatcher did not stop at the unknown channel"
