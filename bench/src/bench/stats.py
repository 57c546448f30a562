"""Figures from raw samples: percentiles, per-interval series, the PNG plot and the JSON file. Every scenario takes
its percentiles from here."""

import importlib.util
import json
import math
import os
import platform
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.verdict import Evaluation

# The bench's project directory (bench/ in a checkout, beside src/); None when installed from a wheel.
PROJECT_DIR: Path | None = next(
    (p for p in Path(__file__).resolve().parents[1:3] if (p / "pyproject.toml").exists() and (p / "src").is_dir()),
    None,
)
# Results stay in the checkout (git-ignored), whatever the working directory; an installed copy writes where it runs.
RESULTS_DIR = (PROJECT_DIR or Path.cwd() / "bench") / "results"


def percentiles(values: Sequence[float], scale: float = 1000.0, digits: int = 3) -> dict[str, float | int | None]:
    """count, p50/p95/p99/max (and mean) of `values`, multiplied by `scale` (seconds -> ms by default) and rounded
    to `digits`. Nearest rank: every figure is one of the values, none is interpolated between two."""
    if not values:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] * scale, digits)

    return {
        "count": len(ordered),
        "p50": pick(50),
        "p95": pick(95),
        "p99": pick(99),
        "max": round(ordered[-1] * scale, digits),
        "mean": round(sum(ordered) / len(ordered) * scale, digits),
    }


def histogram_quantiles(before: dict[float, float] | None, after: dict[float, float] | None) -> dict[str, Any] | None:
    """From two scrapes of a Prometheus histogram (cumulative count per upper bound `le`, in seconds): how many
    were observed in between, and the upper bounds (ms) of the buckets holding their p50 and p99. A histogram
    knows no finer than its buckets."""
    if not before or not after:
        return None
    delta = sorted((le, after[le] - before.get(le, 0.0)) for le in after)
    count = delta[-1][1] if delta else 0
    if not count:
        return None

    def bound(q: float) -> str:
        for le, n in delta:
            if n >= q * count:
                return "inf" if le == float("inf") else f"<= {le * 1000:g}"
        return "inf"

    return {"observed": int(count), "p50_ms": bound(0.5), "p99_ms": bound(0.99)}


def rate(count: int, seconds: float) -> float | None:
    return round(count / seconds, 1) if seconds > 0 else None


def bin_series(
    times: Iterable[float], t0: float, width: float, values: Iterable[float] | None = None
) -> dict[int, list[float]]:
    """Group samples (or just times) by interval index since t0."""
    out: dict[int, list[float]] = {}
    vals = values if values is not None else (0.0 for _ in iter(int, 1))
    for t, v in zip(times, vals, strict=False):
        out.setdefault(int((t - t0) // width), []).append(v)
    return out


def machine_info() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def git_info(repo: Path) -> dict[str, Any]:
    """The commit measured and whether the work tree differed from it (read-only git calls)."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    # Not stripped: a porcelain line starts with its two status columns, the first often a space.
    changed = [line[3:] for line in git("status", "--porcelain").splitlines() if line]
    return {"commit": git("rev-parse", "HEAD").strip(), "dirty_files": changed}


def write_json(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


VERDICT_COLOURS = {"met": "tab:green", "not met": "tab:red", "inconclusive": "tab:orange", "skipped": "tab:gray"}


def verdict_line(evaluation: Evaluation) -> str:
    others = "not measured" if evaluation.others_cpu_pct is None else f"{evaluation.others_cpu_pct:g} %"
    return (
        f"{evaluation.verdict.upper()}: {evaluation.figure} (target {evaluation.goal}); other processes' CPU: {others}"
    )


def _save(fig: Any, name: str, evaluation: Evaluation | None) -> Path:
    """The figure as bench/results/<name>.png, with the run's verdict on top (and in the PNG's Description)."""
    metadata = {}
    if evaluation is not None:
        line = verdict_line(evaluation)
        fig.text(
            0.5,
            0.995,
            line,
            ha="center",
            va="top",
            fontsize=11,
            weight="bold",
            color="white",
            bbox={"facecolor": VERDICT_COLOURS.get(evaluation.verdict, "black"), "edgecolor": "none", "pad": 4},
        )
        fig.tight_layout(rect=(0, 0, 1, 0.96))
        metadata["Description"] = line
    else:
        fig.tight_layout()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.png"
    fig.savefig(path, dpi=90, metadata=metadata)
    return path


def plot_load(name: str, title: str, series: dict[str, Any], evaluation: Evaluation | None = None) -> Path | None:
    """Throughput and latency over the run (and the line in Redis when it was sampled), under the verdict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    has_queue = bool(series.get("redis_t"))
    fig, axes = plt.subplots(3 if has_queue else 2, 1, figsize=(11, 10 if has_queue else 7), sharex=True)
    ax = axes[0]
    t = series["t"]
    ax.plot(t, series["responses_per_s"], label="HTTP responses/s", color="tab:blue")
    ax.plot(t, series["accepted_202_per_s"], label="202/s", color="tab:green")
    if any(series["rejected_409_per_s"]):
        ax.plot(t, series["rejected_409_per_s"], label="409/s", color="tab:orange")
    ax.plot(t, series["outcomes_per_s"], label="outcomes received/s (sockets)", color="tab:red")
    if has_queue:
        ax.plot(series["decisions_t"], series["decisions_per_s"], label="decisions/s (Redis)", color="tab:purple", lw=1)
    ax.set_ylabel("per second")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax = axes[1]
    for key, label, style in (
        ("http_p50_ms", "HTTP p50", "tab:blue"),
        ("http_p99_ms", "HTTP p99", "tab:cyan"),
        ("e2e_p99_ms", "202 read -> outcome p99", "tab:pink"),
        ("e2e_enq_p50_ms", "queued (Redis) -> outcome p50", "tab:red"),
        ("e2e_enq_p99_ms", "queued (Redis) -> outcome p99", "tab:orange"),
        ("e2e_req_p50_ms", "request sent -> outcome p50", "tab:olive"),
        ("e2e_req_p99_ms", "request sent -> outcome p99", "tab:green"),
    ):
        # on a log axis, 0 ms (outcome before the 202 was read) is drawn at 0.1 ms
        pts = [(x, max(0.1, y)) for x, y in zip(t, series.get(key, []), strict=False) if y is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label, color=style)
    ax.set_ylabel("latency (ms)")
    ax.set_yscale("log")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3, which="both")
    if has_queue:
        ax = axes[2]
        ax.plot(series["redis_t"], series["queue_length"], label="orders waiting in line (LLEN)", color="tab:brown")
        ax.set_ylabel("orders")
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("seconds since the first order")
    path = _save(fig, name, evaluation)
    plt.close(fig)
    return path


def plot_simple(
    name: str,
    title: str,
    x: list[float],
    ys: dict[str, list[float]],
    xlabel: str,
    ylabel: str,
    evaluation: Evaluation | None = None,
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.5))
    for label, y in ys.items():
        ax.plot(x, y, label=label)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    path = _save(fig, name, evaluation)
    plt.close(fig)
    return path


# pid -> (parent pid, CPU seconds of the process and of the children it has reaped)
ProcessTable = dict[int, tuple[int, float]]

KTHREADD = 2  # the parent of every kernel thread


def process_table() -> ProcessTable:
    """Every process's parent and CPU seconds (utime + stime + cutime + cstime), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    table: ProcessTable = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # ppid is field 4 of stat, utime, stime, cutime, cstime are 14-17: 1 and 11-14 after the ")"
        table[int(entry.name)] = (int(fields[1]), sum(int(x) for x in fields[11:15]) / ticks)
    return table


def tree_of(table: ProcessTable, root: int) -> set[int]:
    """`root` and every live descendant."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = set(), [root] if root in table else []
    while stack:
        pid = stack.pop()
        found.add(pid)
        stack.extend(children.get(pid, []))
    return found


def user_cpu_seconds(table: ProcessTable) -> float:
    """CPU seconds of every process but the kernel's threads: work of the kernel's own (softirqs, say) follows
    whatever caused it, often the benchmark's own traffic, and is no other program's."""
    return sum(cpu for pid, (ppid, cpu) in table.items() if KTHREADD not in (pid, ppid))


def tree_cpu_seconds(root: int, table: ProcessTable | None = None) -> float | None:
    """CPU seconds of `root` and every live descendant (and of the children they have reaped); None if gone."""
    table = process_table() if table is None else table
    if root not in table:
        return None
    return sum(table[pid][1] for pid in tree_of(table, root))


def others_cpu_seconds(before: ProcessTable, after: ProcessTable, root: int) -> float:
    """CPU seconds processes outside `root`'s tree took between two tables. A process that ended meanwhile is
    counted through its parent, which holds its time once it has reaped it."""
    ours = (tree_cpu_seconds(root, after) or 0.0) - (tree_cpu_seconds(root, before) or 0.0)
    return max(0.0, user_cpu_seconds(after) - user_cpu_seconds(before) - ours)


def _machine_busy_seconds() -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / ticks


def _stolen_seconds() -> float:
    """CPU time the hypervisor gave to other machines while ours wanted it (steal, the 8th field of /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    return int(fields[7]) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """How busy the machine was during a run, and how much of that was not this benchmark: the CPU of every
    process outside the benchmark's own tree (the bench, its load generators and the services it started). Other
    processes on a shared machine make every figure worse: a run where they took much is inconclusive."""

    def __init__(self, named: dict[str, int] | None = None) -> None:
        # name -> pid: the CPU of each (with its descendants) is reported too, in % of one core
        self.named = dict(named or {})
        self.named0: dict[str, float] = {}
        self.started = 0.0
        self.busy0 = 0.0
        self.stolen0 = 0.0
        self.table0: ProcessTable = {}
        self.loadavg = ""

    def start(self) -> "CpuMeter":
        self.loadavg = Path("/proc/loadavg").read_text().strip()
        self.started = time.monotonic()
        self.busy0 = _machine_busy_seconds()
        self.stolen0 = _stolen_seconds()
        self.table0 = process_table()
        self.named0 = {name: tree_cpu_seconds(pid, self.table0) or 0.0 for name, pid in self.named.items()}
        return self

    def stop(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self.started
        table = process_table()
        busy = _machine_busy_seconds() - self.busy0
        stolen = _stolen_seconds() - self.stolen0
        ours = (tree_cpu_seconds(os.getpid(), table) or 0.0) - (tree_cpu_seconds(os.getpid(), self.table0) or 0.0)
        others = others_cpu_seconds(self.table0, table, os.getpid())
        cores = os.cpu_count() or 1
        per_process: dict[str, float | None] = {}
        for name, pid in self.named.items():
            now = tree_cpu_seconds(pid, table)  # None: exited before the end (its time is in its parent's)
            used = (now - self.named0[name]) if now is not None else None
            per_process[name] = round(100 * used / elapsed, 1) if used is not None and elapsed else None

        def pct(seconds: float) -> float | None:
            return round(100 * seconds / (elapsed * cores), 1) if elapsed else None

        return {
            "by_process_pct_of_one_core": per_process,
            "seconds": round(elapsed, 2),
            "loadavg_at_start": self.loadavg,
            "machine_busy_pct": pct(busy),
            "benchmark_and_services_pct": pct(ours),
            # Processes outside the benchmark's tree (kernel threads aside): above 10 % the run is inconclusive.
            "other_processes_pct": pct(others),
            # A virtual machine's neighbours: CPU time taken away from this one (a run with much of it is inconclusive)
            "stolen_by_hypervisor_pct": pct(stolen),
        }


def wait_for_quiet(max_wait: float, busy_below: float = 15.0, log: Any = print) -> dict[str, Any]:
    """On a shared machine: wait (at most max_wait s) until other processes use < busy_below % of the CPU."""
    started = time.monotonic()
    busy = None
    while True:
        meter = CpuMeter().start()
        time.sleep(2.0)
        busy = meter.stop()["machine_busy_pct"]
        waited = time.monotonic() - started
        if busy is not None and busy < busy_below:
            break
        if waited >= max_wait:
            log(f"machine still {busy}% busy after {waited:.0f} s of waiting: running anyway")
            break
        log(f"machine {busy}% busy (others): waiting for it to quiet down…")
    return {"waited_s": round(time.monotonic() - started, 1), "busy_pct_before": busy}


def code_info() -> dict[str, Any]:
    """Which firstin is measured: the checkout the services are started from (the stack runs `python -m
    firstin_api` and the others with this interpreter, so they come from where it finds them)."""
    spec = importlib.util.find_spec("firstin_api")
    if spec is None or spec.origin is None:
        return {"firstin_api": "not installed"}
    package = Path(spec.origin).resolve().parent
    # the workspace root: services/api/src/firstin_api -> four levels up, when laid out as in this repo
    root = next((p for p in package.parents if (p / "pyproject.toml").exists() and (p / "services").exists()), package)
    info: dict[str, Any] = {"path": str(root), "firstin_api": str(package)}
    if (root / ".git").exists():
        info.update(git_info(root))
    else:
        info["git"] = "not a git checkout"
    return info
