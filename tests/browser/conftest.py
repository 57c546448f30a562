"""Real-browser fixtures: Debian's Chromium, driven by Playwright for Python (its async API: the suite's tests run
in an asyncio loop, where Playwright's sync API refuses to work).

Playwright never downloads a browser here (nothing outside the package registries can be fetched): it launches
/usr/bin/chromium from Debian's `chromium` package, which the `chromium` fixture installs with apt-get when it is
missing, as root, the way developers' machines and CI run. Only when that install truly fails are the browser
tests skipped, and then the run ends with a banner saying why, besides the usual SKIPPED line.
"""

import asyncio
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright, expect

CHROMIUM = Path("/usr/bin/chromium")
# What Chromium needs on these machines: as root it has no sandbox, and with no network beyond the package
# registries its background traffic only produces refused connections. Playwright adds the flags it needs
# itself, a fresh temporary --user-data-dir among them (it refuses one in `args`), and removes that afterwards.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APT_TIMEOUT_S = 900
# Set in the environment of Playwright's driver, which passes it on to the browser and every process the browser
# starts: how the teardown finds what this test started, even once it has been reparented.
MARKER_VARIABLE = "FIRSTIN_BROWSER_TEST"

_cannot_run: list[str] = []

# How long an expectation about a page waits for it to come true: the machines these tests run on are shared, and
# a page's next step (a socket connecting, a decision arriving) can take longer than Playwright's 5 s default.
expect.set_options(timeout=10_000)


def _tail(text: str | None, lines: int = 5) -> str:
    return " | ".join((text or "").strip().splitlines()[-lines:])


def _install_chromium() -> str | None:
    """Install Debian's chromium with apt-get; returns why it could not be done, or None once it is there."""
    if os.geteuid() != 0:
        return f"{CHROMIUM} is missing and installing it needs root (run: apt-get install -y chromium)"
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        return f"{CHROMIUM} is missing and there is no apt-get to install Debian's chromium package with"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Wait for a concurrent apt/dpkg run (unattended upgrades, another session) instead of failing on its lock.
    lock_wait = ["-o", "DPkg::Lock::Timeout=300"]
    for command in ([apt_get, *lock_wait, "update"], [apt_get, *lock_wait, "install", "-y", "chromium"]):
        shown = " ".join([Path(command[0]).name, *command[3:]])
        try:
            subprocess.run(command, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_S, check=True)
        except subprocess.CalledProcessError as exc:
            return f"`{shown}` exited with {exc.returncode}: {_tail(exc.stderr) or _tail(exc.stdout)}"
        except subprocess.TimeoutExpired:
            return f"`{shown}` did not finish within {APT_TIMEOUT_S} s"
    if not CHROMIUM.exists():
        return f"`apt-get install -y chromium` succeeded but {CHROMIUM} is still missing"
    return None


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed on first use. Skips (loudly) only when it cannot be installed at all."""
    if not CHROMIUM.exists():
        reason = _install_chromium()
        if reason is not None:
            _cannot_run.append(reason)
            pytest.skip(f"BROWSER TESTS NOT RUN: Chromium could not be installed: {reason}")
    return CHROMIUM


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for reason in _cannot_run:
        terminalreporter.write_sep("!", "BROWSER TESTS DID NOT RUN", red=True, bold=True)
        terminalreporter.write_line(f"Chromium could not be installed: {reason}", red=True, bold=True)


def _processes_marked(marker: str) -> list[int]:
    needle = f"{MARKER_VARIABLE}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in entry.joinpath("environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or a process we may not read
            continue
    return found


@pytest_asyncio.fixture
async def browser(chromium: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Browser]:
    """A headless Chromium of the test's own; afterwards, no process of it (nor of Playwright's driver) is left."""
    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER_VARIABLE, marker)  # read when the driver starts; Chromium inherits the driver's env
    async with async_playwright() as playwright:
        monkeypatch.delenv(MARKER_VARIABLE)
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield launched
        finally:
            await launched.close()

    for _ in range(50):  # 5 s for Chromium's processes to go
        if not (left := _processes_marked(marker)):
            break
        await asyncio.sleep(0.1)
    for pid in left:  # ours, by the marker: end them so that the failure below leaves nothing running either
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not left, f"browser processes still running 5 s after closing the browser: {left}"
