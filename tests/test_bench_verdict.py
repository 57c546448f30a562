"""The bench's verdicts, from runs made up here (no load is run): a figure on a busy machine is inconclusive, a
correctness counter above 0 is a failure anywhere; the terminal gets one line per scenario, the PNG the verdict."""

import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from bench import cli, stats
from bench.stats import ProcessTable, others_cpu_seconds
from bench.verdict import evaluate, short_table, verdict

ARGS = cli.parse_args([])


def load_run(
    scenario: str = "pipeline", *, sustained: float = 2_700.0, others: float = 2.0, **counters: int
) -> dict[str, Any]:
    """What run_load reports, as far as the verdict and the plot read it."""
    correctness = {"queued_beyond_stock": 12, "oversell": 0, "fifo_violations": 0, "lost_notifications": 0}
    return {
        "scenario": scenario,
        "name": f"{scenario}-test",
        "spec": {"orders": 20_000, "stock": 10_000},
        "sockets": {"held": 5_000},
        "system": {"started_here": True, "api_workers": 2},
        "http": {"accepted_202_per_s": 1_000.0},
        "end_to_end": {
            "sustained_orders_per_s": sustained,
            "latency_ms_from_enqueue": {"p99": 12.0},
            "latency_ms_from_202_new_socket": {"p99": 140.0},
        },
        "correctness": {**correctness, **counters},
        "cpu": {"other_processes_pct": others, "stolen_by_hypervisor_pct": 0.4},
        "series": {
            "t": [0.0, 0.5, 1.0],
            "responses_per_s": [900.0, 2_800.0, 2_700.0],
            "accepted_202_per_s": [900.0, 2_800.0, 2_700.0],
            "rejected_409_per_s": [0.0, 0.0, 0.0],
            "outcomes_per_s": [800.0, 2_700.0, 2_750.0],
            "http_p99_ms": [3.0, 8.0, 9.0],
        },
    }


@pytest.mark.parametrize(
    ("met", "correct", "others", "stolen", "word"),
    [
        (True, True, 2.0, 0.0, "met"),
        (False, True, 2.0, 0.0, "not met"),
        (True, True, 10.0, 0.0, "met"),  # at the threshold: still conclusive
        (True, True, 10.1, 0.0, "inconclusive"),
        (False, True, 68.0, 0.0, "inconclusive"),  # a miss on a busy machine says nothing about the code
        (True, True, 1.0, 12.0, "inconclusive"),  # nor does one with much of the CPU stolen
        (False, False, 68.0, 0.0, "not met"),  # but an oversell is a failure on any machine
        (True, True, None, None, "met"),  # not measured: the figure alone
    ],
)
def test_verdict(met: bool, correct: bool, others: float | None, stolen: float | None, word: str) -> None:
    assert verdict(met=met, correct=correct, others_pct=others, stolen_pct=stolen)[0] == word


def test_a_run_that_met_its_target_while_others_took_the_cpu_is_inconclusive() -> None:
    """The run that said "met" with 1,277 answers/s while other processes took 68 % of the CPU."""
    busy = evaluate("stampede", load_run("stampede", others=68.0), ARGS)
    assert (busy.verdict, busy.met, busy.others_cpu_pct) == ("inconclusive", True, 68.0)
    assert "68 %" in busy.why
    quiet = evaluate("stampede", load_run("stampede", others=3.0), ARGS)
    assert (quiet.verdict, quiet.figure, quiet.goal) == ("met", "12 beyond the stock", "<= 50 beyond the stock")


def test_figures_and_targets_of_each_scenario() -> None:
    slow = evaluate("pipeline", load_run(sustained=1_277.0), ARGS)
    assert (slow.figure, slow.goal, slow.verdict, slow.flow) == (
        "1,277 orders/s",
        ">= 2,500 orders/s",
        "not met",
        "sockets opened before",
    )
    storm = evaluate("storm", load_run("storm", sustained=700.0), ARGS)
    assert (storm.figure, storm.verdict, storm.flow) == ("700 orders/s", "met", "new socket per buyer")
    steady = evaluate("steady", load_run("steady"), ARGS)
    assert (steady.figure, steady.goal, steady.verdict) == ("p99 12.0 ms at 1,000/s", "p99 <= 50 ms at 1,000/s", "met")
    door = evaluate(
        "door",
        {"scenario": "door", "requests_per_s": 12_120.4, "target": {"met": True}, "cpu": {"other_processes_pct": 4.2}},
        ARGS,
    )
    assert (door.figure, door.verdict, door.others_cpu_pct, door.flow) == (
        "12,120 req/s, all 409",
        "met",
        4.2,
        "no sockets",
    )


def test_a_lost_notification_fails_the_run_whatever_its_figure() -> None:
    lost = evaluate("pipeline", load_run(lost_notifications=1, others=40.0), ARGS)
    assert (lost.verdict, lost.correct) == ("not met", False)


def test_processor_pending_orders_fail_it() -> None:
    run = {
        "scenario": "processor",
        "decisions_per_s": 60_000.0,
        "target": {"met": True},
        "correctness": {"pending": 3, "oversell": 0, "fifo_violations": 0},
        "cpu": {"other_processes_pct": 1.0},
    }
    assert evaluate("processor", run, ARGS).verdict == "not met"


def test_connects_takes_the_busier_of_its_two_measurements() -> None:
    run = {
        "scenario": "connects",
        "notifier_to_bare_cpu_ratio": 1.05,
        "target": {"met": True},
        "bare": {"machine": {"other_processes_pct": 3.0}},
        "notifier": {"machine": {"other_processes_pct": 14.0}},
    }
    connects = evaluate("connects", run, ARGS)
    assert (connects.figure, connects.others_cpu_pct, connects.verdict) == (
        "1.05x bare CPU per socket",
        14.0,
        "inconclusive",
    )


def test_a_system_the_bench_did_not_start_has_no_others_figure() -> None:
    """Its services are outside the bench's process tree: their CPU would pass for other processes'."""
    run = load_run(others=60.0)
    run["system"]["started_here"] = False
    assert evaluate("pipeline", run, ARGS).others_cpu_pct is None


def test_a_skipped_scenario_says_so() -> None:
    skipped = evaluate("door", {"scenario": "door", "skipped": "wrk not installed"}, ARGS)
    assert (skipped.verdict, skipped.why) == ("skipped", "wrk not installed")


def test_the_terminal_table_is_one_aligned_line_per_run_then_why_each_was_not_met() -> None:
    runs = [
        evaluate("stampede", load_run("stampede", others=68.0), ARGS),
        evaluate("pipeline", load_run(sustained=2_600.0), ARGS),
        evaluate("door", {"scenario": "door", "skipped": "wrk not installed"}, ARGS),
    ]
    lines = short_table(runs)
    header, rule, *rows = lines[:5]
    assert header.split() == ["scenario", "flow", "figure", "target", "verdict", "others'", "CPU"]
    assert set(rule.replace(" ", "")) == {"-"}
    for column in ("flow", "figure", "target", "verdict", "others'"):
        at = header.index(column)
        assert all(row[at:].startswith(value) for row, value in zip(rows, _cells(runs, column), strict=True)), lines
    assert rows[0].split()[0] == "stampede" and rows[0].endswith("68 %") and "inconclusive" in rows[0]
    assert rows[1].startswith("pipeline") and " met " in rows[1] and rows[1].endswith("2 %")
    assert lines[5:] == [
        f"stampede: inconclusive: {runs[0].why}",
        "door: skipped: wrk not installed",
    ]


def _cells(runs: list[Any], column: str) -> list[str]:
    if column == "others'":
        return ["-" if r.others_cpu_pct is None else f"{r.others_cpu_pct:g} %" for r in runs]
    return [getattr(r, {"target": "goal"}.get(column, column)) for r in runs]


def _png_text(path: Path) -> dict[str, str]:
    """The PNG's tEXt chunks (matplotlib writes savefig's metadata there)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    found, at = {}, 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            found[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            found[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        at += 12 + length
    return found


def test_each_run_prints_one_line_and_its_png_carries_the_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(stats, "RESULTS_DIR", tmp_path)
    run = load_run(sustained=1_277.0, others=68.0)
    evaluation = cli.judge("pipeline", run, ARGS)
    assert evaluation.verdict == "inconclusive"
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("pipeline: INCONCLUSIVE: 1,277 orders/s (target >= 2,500 orders/s)"), line
    assert "68 %" in line and run["json"] in line
    assert Path(run["json"]).exists()
    description = _png_text(Path(run["png"]))["Description"]
    assert description == stats.verdict_line(evaluation) and description.startswith("INCONCLUSIVE")


def test_others_cpu_counts_every_process_outside_the_benchs_tree_and_no_kernel_thread() -> None:
    bench, service, loadgen, shell, build, compiler, kworker = 100, 101, 102, 200, 201, 202, 300
    before: ProcessTable = {
        1: (0, 0.0),
        2: (0, 0.0),
        kworker: (2, 1.0),
        bench: (50, 10.0),
        service: (bench, 5.0),
        loadgen: (bench, 2.0),
        shell: (1, 0.5),
        build: (shell, 3.0),
        compiler: (build, 1.0),
    }
    after: ProcessTable = {
        1: (0, 0.0),
        2: (0, 0.0),
        kworker: (2, 9.0),  # softirqs of the bench's own traffic, say: nobody else's program
        bench: (50, 10.0 + 2.5),  # the load generator ended and was reaped: its 2.0 + 0.5 s are the bench's now
        service: (bench, 5.0 + 4.0),
        shell: (1, 0.5),
        build: (shell, 3.0 + 1.0 + 3.5),  # its own second, and the compiler's 3.5 s once it reaped it
    }
    # Others: the build's own second, and the compiler's 2.5 s since `before` (it had 1.0 then, 3.5 when it ended).
    assert others_cpu_seconds(before, after, bench) == pytest.approx(1.0 + 2.5)


def test_the_processors_png_carries_its_verdict_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats, "RESULTS_DIR", tmp_path)
    run = {
        "scenario": "processor",
        "name": "processor-test",
        "orders": 100_000,
        "batch_size": 200,
        "decisions_per_s": 41_000.0,
        "target": {"met": False},
        "correctness": {"pending": 0, "oversell": 0, "fifo_violations": 0},
        "cpu": {"other_processes_pct": 2.5, "stolen_by_hypervisor_pct": 0.0},
        "series": {"seconds": [0.0, 1.0, 2.4], "decided": [0, 41_000, 100_000]},
    }
    evaluation = cli.judge("processor", run, ARGS)
    assert evaluation.verdict == "not met"
    assert _png_text(Path(run["png"]))["Description"].startswith("NOT MET: 41,000 decisions/s")
