"""Start the three firstin services as real processes, wait until they are ready, stop or kill them."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from firstin_serving import DEV_ADMIN_TOKEN, DEV_TOKEN_SECRET
from firstin_stack.redis_server import free_port


@dataclass
class ServiceProcess:
    """One service (`python -m <module>`) with its own environment and log file."""

    name: str
    module: str
    port: int
    env: dict[str, str]
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> "ServiceProcess":
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal reaches the launcher, which stops us in order
            )
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.tail_log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} not ready within {timeout}s:\n{self.tail_log()}")

    def tail_log(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait for a clean exit, SIGKILL past the timeout. Returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the service and every process it started (uvicorn workers)."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()


def origins_from_environment() -> list[str]:
    """The pages FIRSTIN_CORS_ALLOWED_ORIGINS lists in this process's environment (one's own front end), if any."""
    return [part.strip() for part in os.environ.get("FIRSTIN_CORS_ALLOWED_ORIGINS", "").split(",") if part.strip()]


@dataclass
class StackConfig:
    redis_url: str
    api_port: int = field(default_factory=free_port)
    notifier_port: int = field(default_factory=free_port)
    processor_port: int = field(default_factory=free_port)
    api_workers: int = 2
    host: str = "127.0.0.1"
    admin_token: str = DEV_ADMIN_TOKEN
    token_secret: str = DEV_TOKEN_SECRET
    log_level: str = "INFO"
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="firstin-logs-")))
    # Tests and benchmarks send everything from 127.0.0.1 and reuse emails: the api's abuse limits are off
    # unless asked for (`make run` asks).
    rate_limits: bool = False
    # Origins of the pages that may call the api and open sockets, besides the demo page the api serves (which is
    # always allowed): by default those FIRSTIN_CORS_ALLOWED_ORIGINS lists in the environment.
    cors_allowed_origins: list[str] = field(default_factory=origins_from_environment)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def page_origins(self) -> list[str]:
        demo_page = [f"http://{self.host}:{self.api_port}", f"http://localhost:{self.api_port}"]
        return list(dict.fromkeys([*demo_page, *self.cors_allowed_origins]))

    def env(self) -> dict[str, str]:
        return {
            "FIRSTIN_REDIS_URL": self.redis_url,
            "FIRSTIN_API_HOST": self.host,
            "FIRSTIN_API_PORT": str(self.api_port),
            "FIRSTIN_API_WORKERS": str(self.api_workers),
            "FIRSTIN_NOTIFIER_HOST": self.host,
            "FIRSTIN_NOTIFIER_PORT": str(self.notifier_port),
            "FIRSTIN_PROCESSOR_HOST": self.host,
            "FIRSTIN_PROCESSOR_PORT": str(self.processor_port),
            "FIRSTIN_ADMIN_TOKEN": self.admin_token,
            "FIRSTIN_TOKEN_SECRET": self.token_secret,
            "FIRSTIN_NOTIFIER_PUBLIC_URL": f"http://{self.host}:{self.notifier_port}",
            "FIRSTIN_CORS_ALLOWED_ORIGINS": ",".join(self.page_origins),
            "FIRSTIN_LOG_LEVEL": self.log_level,
            **({} if self.rate_limits else {"FIRSTIN_RATE_LIMIT_PER_IP": "0", "FIRSTIN_RATE_LIMIT_PER_EMAIL": "0"}),
            **self.extra_env,
        }


class Stack:
    """The api, processor and notifier as real processes against one Redis."""

    def __init__(self, config: StackConfig):
        self.config = config
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        env = config.env()
        self.api = ServiceProcess("api", "firstin_api", config.api_port, env, config.log_dir)
        self.processor = ServiceProcess("processor", "firstin_processor", config.processor_port, env, config.log_dir)
        self.notifier = ServiceProcess("notifier", "firstin_notifier", config.notifier_port, env, config.log_dir)
        self.replicas: list[ServiceProcess] = []  # added by add_processor / add_notifier; stopped with the stack

    @property
    def services(self) -> list[ServiceProcess]:
        return [self.api, self.processor, self.notifier]

    @property
    def api_url(self) -> str:
        return self.api.url

    @property
    def notifier_url(self) -> str:
        return self.notifier.url

    def start(self, timeout: float = 60.0) -> "Stack":
        for service in self.services:
            service.start()
        try:
            for service in self.services:
                service.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for service in [*self.replicas, *self.services]:
            service.stop()

    def add_processor(self, name: str = "processor-2") -> ServiceProcess:
        """A second processor on the same Redis (rolling deploys, double starts)."""
        return self._add_replica(name, "firstin_processor", "FIRSTIN_PROCESSOR_PORT")

    def add_notifier(self, name: str = "notifier-2") -> ServiceProcess:
        """Another notifier replica on its own port (scaling out sockets)."""
        return self._add_replica(name, "firstin_notifier", "FIRSTIN_NOTIFIER_PORT")

    def _add_replica(self, name: str, module: str, port_variable: str) -> ServiceProcess:
        env = {**self.config.env(), port_variable: str(port := free_port())}
        self.replicas.append(ServiceProcess(name, module, port, env, self.config.log_dir).start())
        return self.replicas[-1]

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
