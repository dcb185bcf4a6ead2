"""A real headless Chromium (Debian's, driven through its chromedriver by Selenium) opening
the lead's board on the running bot, with the sandbox standing in for Telegram.

`make test` installs `chromium` and `chromium-driver` when they are missing (the Makefile's
`browser` step). Without them these tests are skipped, unless REQUIRE_BROWSER=1 (CI),
where that is a failure. Nothing is downloaded: no browser build, no driver manager.

Selenium blocks, the bot runs on the event loop: every browser call goes to a thread
(`Browser`), so the server keeps answering the page while a test waits on it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.domain.clock import FixedClock
from tests.e2e.conftest import Stage, running_stage

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"
#: A phone's screen (an iPhone 12-15), the size the board is made for.
PHONE = (390, 844)
#: Where the screenshots go (linked from docs/board.md).
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "board"
WAIT = 15.0
BOARD_URL = "https://board.example.vn/app/"

T = TypeVar("T")


def _flags(profile: str) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={PHONE[0]},{PHONE[1]}",
        "--lang=vi",
    ]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if REQUIRE_BROWSER:
            pytest.fail(
                "REQUIRE_BROWSER=1 but /usr/bin/chromium or /usr/bin/chromedriver is missing"
            )
        pytest.skip("Chromium is not installed (make test installs chromium and chromium-driver)")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must fetch nothing
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="board-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in _flags(profile):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_window_size(*PHONE)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Browser:
    """The page as a person sees it; each call runs in a thread, waits have a deadline."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    async def open(self, url: str) -> None:
        """A fresh page load (the launch data, when given, always opens a new session)."""
        await self.run(self.driver.get, "about:blank")
        await self.run(self.driver.get, url)

    async def wait(self, css: str, *, text: str | None = None) -> Any:
        """The first element matching `css` (containing `text`), once it is there."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        def found(driver: Any) -> Any:
            try:
                for el in driver.find_elements(By.CSS_SELECTOR, css):
                    if el.is_displayed() and (text is None or text in el.text):
                        return el
            except StaleElementReferenceException:
                return False
            return False

        def waiting() -> Any:
            try:
                return WebDriverWait(self.driver, WAIT, poll_frequency=0.1).until(found)
            except Exception as e:
                raise AssertionError(
                    f"{css!r} {text or ''} not shown;"
                    f" the page says: {self.driver.find_element(By.TAG_NAME, 'body').text[:800]}"
                ) from e

        return await self.run(waiting)

    async def all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return await self.run(self.driver.find_elements, By.CSS_SELECTOR, css)

    async def click(self, css: str, *, text: str | None = None) -> None:
        element = await self.wait(css, text=text)
        await self.run(
            self.driver.execute_script, "arguments[0].scrollIntoView({block: 'center'})", element
        )
        await self.run(element.click)

    async def type(self, css: str, value: str) -> None:
        element = await self.wait(css)
        await self.run(element.send_keys, value)

    async def attach(self, css: str, path: Path) -> None:
        """A file input gets a file, as the camera would give it."""
        from selenium.webdriver.common.by import By

        element = await self.run(self.driver.find_element, By.CSS_SELECTOR, css)
        await self.run(element.send_keys, str(path))

    async def text(self, css: str = "body") -> str:
        from selenium.webdriver.common.by import By

        element = await self.run(self.driver.find_element, By.CSS_SELECTOR, css)
        return str(await self.run(lambda: element.text))

    async def script(self, source: str, *args: Any) -> Any:
        return await self.run(self.driver.execute_script, source, *args)

    async def stand_at(self, origin: str, latitude: float, longitude: float) -> None:
        """The browser's location, as the phone's GPS would give it (DevTools protocol)."""
        await self.run(
            self.driver.execute_cdp_cmd,
            "Browser.grantPermissions",
            {"origin": origin, "permissions": ["geolocation"]},
        )
        await self.run(
            self.driver.execute_cdp_cmd,
            "Emulation.setGeolocationOverride",
            {"latitude": latitude, "longitude": longitude, "accuracy": 5},
        )

    async def screenshot(self, name: str) -> Path:
        """The whole phone screen, saved under docs/board/ (and printed)."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        await self.run(self.driver.save_screenshot, str(path))
        print(f"screenshot: {path}")
        return path


@pytest.fixture
def browser(chromium: Any) -> Browser:
    return Browser(chromium)


@pytest.fixture
async def team(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Stage]:
    """The whole team on Telegram, the board published at BOARD_URL (the local server
    stands in for it; the browser opens the local address)."""
    where = dict.fromkeys(("lead", "minh", "hung", "clerk"), "telegram")
    async with running_stage(sqlite_url, tmp_path, clock, where, webapp_url=BOARD_URL) as stage:
        yield stage
