"""What `make run` starts (`python -m firstin_stack.run`): the URLs it prints answer, and a second run while the first
is running refuses up front, names the busy port and the setting that moves it, and leaves the first one alone."""

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from firstin_stack import free_port, unique_email

RUNNING_TIMEOUT_S = 60


class Run:
    """One `make run` of the test's own, on free ports, its output read line by line as it comes."""

    def __init__(self, env: dict[str, str]):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "firstin_stack.run"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # Ctrl-C in the test's terminal reaches the test, which stops this in order
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for_line(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.output):
            remaining = deadline - time.monotonic()
            assert remaining > 0 and self.process.poll() is None, f"no {text!r} from make run:\n{''.join(self.output)}"
            try:
                self.output.append(self.lines.get(timeout=min(remaining, 0.5)))
            except queue.Empty:
                pass

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.reader.join(5)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return self.process.returncode


@pytest.fixture(scope="module")
def run_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    return env | {
        "FIRSTIN_API_PORT": str(free_port()),
        "FIRSTIN_NOTIFIER_PORT": str(free_port()),
        "FIRSTIN_PROCESSOR_PORT": str(free_port()),
        "FIRSTIN_API_WORKERS": "1",  # starts and stops sooner; nothing here needs two
    }


@pytest.fixture(scope="module")
def first_run(run_env: dict[str, str]) -> Iterator[Run]:
    run = Run(run_env)
    try:
        run.wait_for_line("Press Ctrl-C to stop.", RUNNING_TIMEOUT_S)
        yield run
    finally:
        assert run.stop() == 0, f"make run did not stop cleanly:\n{''.join(run.output)}"


def stock_left(api_url: str) -> int:
    return int(httpx.get(f"{api_url}/products/default").json()["stock_left"])


@pytest.mark.slow
def test_every_url_make_run_prints_answers(first_run: Run, run_env: dict[str, str]) -> None:
    printed = dict(re.findall(r"^  ([a-z ]+?)\s{2,}(http://\S+)", "".join(first_run.output), re.MULTILINE))
    api = f"http://127.0.0.1:{run_env['FIRSTIN_API_PORT']}"
    processor = f"http://127.0.0.1:{run_env['FIRSTIN_PROCESSOR_PORT']}"
    assert printed["demo page"] == f"{api}/"
    assert printed["admin page"] == f"{api}/admin"
    assert printed["api docs"] == f"{api}/docs"
    assert printed["processor"] == f"{processor}/asyncapi"
    for name in ("demo page", "admin page", "api docs", "processor"):
        answer = httpx.get(printed[name])
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html"), name


@pytest.mark.slow
def test_a_second_run_refuses_up_front_and_leaves_the_first_alone(first_run: Run, run_env: dict[str, str]) -> None:
    api = f"http://127.0.0.1:{run_env['FIRSTIN_API_PORT']}"
    order = httpx.post(f"{api}/orders", json={"email": unique_email()})
    assert order.status_code == 202, order.text
    deadline = time.monotonic() + 10
    while stock_left(api) != 4:
        assert time.monotonic() < deadline, "the first run never decided its order"
        time.sleep(0.05)

    second = subprocess.run(
        [sys.executable, "-m", "firstin_stack.run"], env=run_env, capture_output=True, text=True, timeout=60
    )

    assert second.returncode != 0
    for name in ("api", "notifier", "processor"):
        setting = f"FIRSTIN_{name.upper()}_PORT"
        refusal = f"port {run_env[setting]} on 127.0.0.1 ({name}): set {setting} to move it"
        assert refusal in second.stderr, second.stderr
    assert "firstin is running" not in second.stdout
    assert stock_left(api) == 4, "the second run reset the first one's product"
    assert first_run.process.poll() is None, "the first run stopped"
