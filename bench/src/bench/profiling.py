"""Optional sampling profiles of the services while the load runs (py-spy), summarised as top lines. Every scenario
that profiles (`--profile`) uses this one.

py-spy is not a project dependency: install it into the venv for a profiling run,
    .tools/bin/uv pip install --python .venv/bin/python py-spy
and pass --profile. Stacks are written raw (collapsed) under bench/results/, and summarised as the functions
holding the CPU themselves ("self") and those on the stack ("total"), as a share of samples.
"""

import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.stats import RESULTS_DIR

RATE = 100  # samples per second


def find_py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Profiler:
    """py-spy on each named process from start() to stop().

    gil: only samples holding the GIL (time in Python, not in a C call that released it).
    subprocesses: names whose children are sampled too (uvicorn's workers under the api).
    lines: keep line numbers in the summary ("send (httptools_impl.py:524)"); without them a function's lines add up.
    """

    def __init__(
        self,
        pids: dict[str, int],
        run_name: str,
        *,
        rate: int = RATE,
        gil: bool = True,
        subprocesses: frozenset[str] = frozenset({"api"}),
        lines: bool = True,
        binary: str | None = None,
    ):
        self.pids = pids
        self.run_name = run_name
        self.rate = rate
        self.gil = gil
        self.subprocesses = subprocesses
        self.lines = lines
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.files: dict[str, Path] = {}
        self.py_spy = binary or find_py_spy()

    def start(self, attach_wait: float = 0.0) -> None:
        """attach_wait: seconds to give py-spy to attach when the load starts right after."""
        if self.py_spy is None:
            print("profile: py-spy not found; `.tools/bin/uv pip install --python .venv/bin/python py-spy` installs it")
            return
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        for name, pid in self.pids.items():
            out = RESULTS_DIR / f"{self.run_name}.{name}.pyspy.txt"
            args = [self.py_spy, "record", "--pid", str(pid), "--format", "raw", "--output", str(out)]
            args += ["--rate", str(self.rate), "--nonblocking"]
            if self.gil:
                args.append("--gil")
            if name in self.subprocesses:
                args.append("--subprocesses")
            self.files[name] = out
            self.procs[name] = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if attach_wait > 0:
            time.sleep(attach_wait)

    def stop(self, top: int = 15) -> dict[str, Any] | None:
        """Per name: {"file", "samples", "rate_hz", "self", "total"} (rows of [percent, samples, function]), or
        {"error"} when py-spy wrote nothing. None when nothing was profiled."""
        if not self.procs:
            return None
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        summary: dict[str, Any] = {}
        for name, proc in self.procs.items():
            try:
                _, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            path = self.files[name]
            if path.exists():
                summary[name] = {"file": str(path), **summarize(path, top, rate=self.rate, lines=self.lines)}
            else:
                summary[name] = {"error": err.decode(errors="replace")[-500:]}
        return summary


# Frames every sample of a process passes through (process start, server, event loop): left out of "total".
# "Runner.run" as a *self* frame is time in the event loop's own C code (uvloop: polling, callbacks, socket I/O),
# kept there.
_PLUMBING = re.compile(
    r"^(<module>|_?main|run|spawn_main|_bootstrap(_inner)?|subprocess_started|asyncio_run|run_forever|_run_once"
    r"|run_until_complete|target|BaseProcess\.(run|_bootstrap)|Process\.target|Runner\.run|Server\.(run|serve)"
    r"|Thread\.(run|_bootstrap(_inner)?)|Handle\._run|_run_code|_run_module_as_main|Multiprocess\.\w+) "
)


def _short(frame: str, lines: bool) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py:123)", or "function (module.py)" without lines
    if " (" in frame and frame.endswith(")"):
        func, loc = frame[:-1].split(" (", 1)
        loc = loc.rsplit("/", 1)[-1]
        return f"{func} ({loc if lines else loc.split(':', 1)[0]})"
    return frame


def summarize(path: Path, top: int = 15, *, rate: int = RATE, lines: bool = True) -> dict[str, Any]:
    """Top functions by self and by total samples in a py-spy raw (collapsed stacks) file."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples += count
        own[_short(frames[-1], lines)] += count
        for frame in {_short(f, lines) for f in frames}:
            if not _PLUMBING.match(frame):
                total[frame] += count

    def table(counter: Counter[str]) -> list[list[Any]]:
        return [[round(100 * n / samples, 1), n, f] for f, n in counter.most_common(top)] if samples else []

    return {"samples": samples, "rate_hz": rate, "self": table(own), "total": table(total)}


def format_summary(summary: dict[str, Any] | None, top: int = 10) -> str:
    if not summary:
        return ""
    lines = []
    for name, s in summary.items():
        if "error" in s:
            lines.append(f"  {name}: py-spy failed: {s['error']}")
            continue
        lines.append(f"  {name}: {s['samples']} samples at {s['rate_hz']} Hz (busy samples only) -> {s['file']}")
        lines.append("    self%  function")
        lines += [f"    {pct:5.1f}  {f}" for pct, _, f in s["self"][:top]]
        lines.append("    total% function")
        lines += [f"    {pct:5.1f}  {f}" for pct, _, f in s["total"][:top]]
    return "\n".join(lines)
