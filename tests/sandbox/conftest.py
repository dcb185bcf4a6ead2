"""Fixtures: a running sandbox, a control client playing the humans, and a real PTB Bot."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import Bot

from sandbox import SandboxClient, SandboxUser, TelegramSandbox

TOKEN = "7100000001:sandbox-tests-secret"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client, to see the wire format with nothing in between."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def sandbox() -> AsyncIterator[TelegramSandbox]:
    async with TelegramSandbox(token=TOKEN) as server:
        yield server


@pytest.fixture
async def humans(sandbox: TelegramSandbox) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(sandbox.root_url) as client:
        yield client


@pytest.fixture
async def bot(sandbox: TelegramSandbox) -> AsyncIterator[Bot]:
    ptb_bot = Bot(TOKEN, base_url=sandbox.base_url, base_file_url=sandbox.base_file_url)
    async with ptb_bot:
        yield ptb_bot


@pytest.fixture
async def lan(humans: SandboxClient) -> SandboxUser:
    """A field technician with a private chat with the bot."""
    return await humans.add_user(
        1001, "Lan", last_name="Nguyễn", username="lan_tech", language_code="vi"
    )
