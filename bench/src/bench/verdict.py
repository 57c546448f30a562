"""What a scenario's run says: its figure against its target, and whether the machine was quiet enough to say it.

On a shared machine, other processes take CPU from the system under test and from the load generator alike, and
every figure comes out worse than the code is: a run during which they took more than BUSY_ABOVE_PCT of the CPU
is inconclusive, whatever its figure; so is one during which the hypervisor took as much away from this virtual
machine. A correctness counter above 0 (oversell, FIFO, a lost notification) is a failure on any machine.
"""

import argparse
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

BUSY_ABOVE_PCT = 10.0

FLOWS = {
    "door": "no sockets",
    "processor": "no sockets",
    "stampede": "sockets opened before",
    "pipeline": "sockets opened before",
    "steady": "sockets opened before",
    "storm": "new socket per buyer",
    "connects": "new socket per buyer",
}
# The load scenarios' correctness counters, each of which must be 0.
ZERO_COUNTERS = (
    "oversell",
    "fifo_violations",
    "lost_notifications",
    "events_to_wrong_buyer",
    "pending_at_end",
    "lost_orders",
    "duplicate_decisions",
    "duplicate_events",
)


@dataclass(frozen=True)
class Evaluation:
    scenario: str
    flow: str
    figure: str  # the run's figure, with its unit
    goal: str  # the target, as short
    target: str  # the target, in words
    value: float | int | None
    met: bool  # the figure reached its target, every correctness counter 0
    correct: bool
    others_cpu_pct: float | None  # CPU other processes took during the run, % of the machine; None: not measured
    verdict: str  # met, not met, inconclusive or skipped
    why: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cpu_pct(run: dict[str, Any], key: str) -> float | None:
    """A figure of the run's stats.CpuMeter; for `connects`, the larger of its two measurements."""
    if run["scenario"] == "connects":
        figures = [run.get(side, {}).get("machine", {}).get(key) for side in ("bare", "notifier")]
        measured = [float(f) for f in figures if f is not None]
        return max(measured) if measured else None
    value = (run.get("cpu") or {}).get(key)
    return float(value) if value is not None else None


def others_cpu_pct(run: dict[str, Any]) -> float | None:
    """The CPU other processes than the bench and what it started took during the run, in % of the machine. None
    when the system under test was not started by the bench (its CPU would count as others')."""
    if run.get("system", {}).get("started_here") is False:
        return None
    return _cpu_pct(run, "other_processes_pct")


def stolen_cpu_pct(run: dict[str, Any]) -> float | None:
    """The CPU the hypervisor took away from this virtual machine during the run, in % of the machine."""
    return _cpu_pct(run, "stolen_by_hypervisor_pct")


def verdict(*, met: bool, correct: bool, others_pct: float | None, stolen_pct: float | None = None) -> tuple[str, str]:
    """The word for a run, and why."""
    if not correct:
        return "not met", "a correctness counter is above 0"
    if others_pct is not None and others_pct > BUSY_ABOVE_PCT:
        why = f"other processes took {others_pct:g} % of the CPU (above {BUSY_ABOVE_PCT:g} %): rerun on a quiet machine"
        return "inconclusive", why
    if stolen_pct is not None and stolen_pct > BUSY_ABOVE_PCT:
        why = f"the hypervisor took {stolen_pct:g} % of the CPU away (above {BUSY_ABOVE_PCT:g} %): rerun later"
        return "inconclusive", why
    if met:
        return "met", "the figure reached its target"
    return "not met", "the figure missed its target"


def _n(value: float | int | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


class Figure(NamedTuple):
    text: str  # the run's figure, with its unit
    goal: str  # the target, as short
    target: str  # the target, in words
    value: float | int | None
    reached: bool


def _sustained(r: dict[str, Any], at_least: int, how: str) -> Figure:
    sustained = r["end_to_end"]["sustained_orders_per_s"]
    goal = f">= {at_least:,} orders/s"
    return Figure(
        f"{_n(sustained)} orders/s", goal, f"{goal} {how}", sustained, bool(sustained and sustained >= at_least)
    )


def _figure(scenario: str, r: dict[str, Any], args: argparse.Namespace) -> Figure:
    if scenario == "stampede":
        beyond = r.get("correctness", {}).get("queued_beyond_stock")
        return Figure(
            f"{_n(beyond)} beyond the stock",
            "<= 50 beyond the stock",
            "at most a few dozen (<= 50) orders beyond the stock wait in line; every counter 0",
            beyond,
            beyond is not None and beyond <= 50,
        )
    if scenario == "pipeline":
        return _sustained(r, 2_500, "sustained end to end, every outcome delivered")
    if scenario == "steady":
        # "202 read -> outcome" is mostly 0 (the outcome often beats the 202 to the client), so the verdict uses
        # queued (the record's created_at, just before the 202 is sent) -> outcome, and the rate of 202s the
        # api actually sustained, not the rate the generator sent at.
        p99 = r["end_to_end"]["latency_ms_from_enqueue"]["p99"]
        achieved = r["http"].get("accepted_202_per_s") or 0
        return Figure(
            f"p99 {_n(p99, 1)} ms at {_n(achieved)}/s",
            f"p99 <= 50 ms at {args.steady_rate:,.0f}/s",
            f"end-to-end p99 <= 50 ms at a steady {args.steady_rate:,.0f} orders/s",
            p99,
            p99 is not None and p99 <= 50 and achieved >= 0.95 * args.steady_rate,
        )
    if scenario == "storm" and args.storm_rate:
        p99 = r["end_to_end"]["latency_ms_from_202_new_socket"]["p99"]
        return Figure(
            f"202 -> outcome p99 {_n(p99)} ms",
            "p99 <= 500 ms",
            f"202 -> outcome p99 <= 500 ms on a new socket per buyer at {args.storm_rate:,.0f} new buyers/s; "
            "every buyer told",
            p99,
            p99 is not None and p99 <= 500,
        )
    if scenario == "storm":
        return _sustained(r, 600, "end to end, a new socket per buyer opened after its 202; every buyer told")
    # The other three judge their own run (target.met).
    reached = bool(r.get("target", {}).get("met"))
    if scenario == "connects":
        ratio = r.get("notifier_to_bare_cpu_ratio")
        return Figure(
            f"{_n(ratio, 2)}x bare CPU per socket",
            "<= 1.25x",
            "notifier CPU per accepted socket <= 1.25x a bare python-socketio server's, every socket told",
            ratio,
            reached,
        )
    if scenario == "processor":
        rate = r.get("decisions_per_s")
        target = ">= 50,000 decisions/s on a pre-filled line"
        return Figure(f"{_n(rate)} decisions/s", ">= 50,000 decisions/s", target, rate, reached)
    if scenario == "door":
        rate = r.get("requests_per_s")
        target = ">= 10,000 requests/s of 409 at the sold-out door (wrk)"
        return Figure(f"{_n(rate)} req/s, all 409", ">= 10,000 req/s", target, rate, reached)
    raise ValueError(f"unknown scenario {scenario!r}")


def _correct(scenario: str, r: dict[str, Any]) -> bool:
    c = r.get("correctness") or {}
    if scenario in ("stampede", "pipeline", "steady", "storm"):
        return all(not c.get(k) for k in ZERO_COUNTERS)
    if scenario == "processor":
        return not (c.get("oversell") or c.get("fifo_violations") or c.get("pending"))
    return True


def evaluate(scenario: str, r: dict[str, Any], args: argparse.Namespace) -> Evaluation:
    """The scenario's target, whether this run reached it, and what may be concluded from it."""
    flow = FLOWS[scenario]
    if r.get("skipped"):
        return Evaluation(scenario, flow, "-", "-", "-", None, False, True, None, "skipped", str(r["skipped"]))
    figure = _figure(scenario, r, args)
    correct = _correct(scenario, r)
    met = figure.reached and correct
    others = others_cpu_pct(r)
    word, why = verdict(met=met, correct=correct, others_pct=others, stolen_pct=stolen_cpu_pct(r))
    return Evaluation(
        scenario, flow, figure.text, figure.goal, figure.target, figure.value, met, correct, others, word, why
    )


COLUMNS = ("scenario", "flow", "figure", "target", "verdict", "others' CPU")


def short_table(evaluations: list[Evaluation]) -> list[str]:
    """One line per run, in aligned columns, then why each run that was not met was not."""
    cells = [COLUMNS] + [
        (
            e.scenario,
            e.flow,
            e.figure,
            e.goal,
            e.verdict,
            "-" if e.others_cpu_pct is None else f"{e.others_cpu_pct:g} %",
        )
        for e in evaluations
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines += [f"{e.scenario}: {e.verdict}: {e.why}" for e in evaluations if e.verdict != "met"]
    return lines
