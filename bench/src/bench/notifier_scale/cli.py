"""`python -m bench.notifier_scale`: its options, and one run of the chosen tests."""

import argparse
import json
import os
import platform
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.notifier_scale.clients import ClientPool
from bench.notifier_scale.report import print_brief, print_table
from bench.notifier_scale.scenario import Bench, system_under_test
from bench.stats import RESULTS_DIR, wait_for_quiet
from bench.system import raise_fd_limit
from firstin_serving import DEV_TOKEN_SECRET


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.notifier_scale",
        description="Sockets held, decision-to-socket latency and a mass leave, for one notifier process.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--tests", default="latency,fanout", help="comma-separated, run in this order: latency, fanout, leave"
    )
    p.add_argument("--leave-sockets", type=int, default=10_000, help="sockets of the leave test; half of them leave")
    p.add_argument("--leave-after", type=float, default=2.0, help="leave test: seconds of publishing before they go")
    p.add_argument("--fanout-sockets", type=int, default=10_000, help="sockets of the fan-out test")
    p.add_argument("--fanout-rounds", type=int, default=3, help="fan-outs in a row to the same sockets")
    p.add_argument("--batch", type=int, default=200, help="decisions per published message (fan-out)")
    p.add_argument("--fanout-timeout", type=float, default=60.0, help="seconds to wait for every fan-out event")
    p.add_argument("--latency-sockets", type=int, default=1_000, help="sockets receiving in the latency test")
    p.add_argument("--rate", type=float, default=1_000.0, help="decisions per second (latency test)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of steady publishing (latency test)")
    p.add_argument(
        "--warmup", type=float, default=1.0, help="latency test: also report percentiles without the first s"
    )
    p.add_argument("--latency-batch", type=int, default=1, help="decisions per published message (latency test)")
    p.add_argument("--slow-ms", type=float, default=20.0, help="a decision slower than this is 'slow' (episodes)")
    p.add_argument("--workers", type=int, default=4, help="client processes")
    p.add_argument("--connect-concurrency", type=int, default=64, help="connects in flight per client process")
    p.add_argument("--connect-timeout", type=float, default=60.0, help="seconds for one socket to connect")
    p.add_argument("--quiet", type=float, default=1.0, help="seconds of rest before each test")
    p.add_argument("--settle", type=float, default=1.0, help="seconds to wait for duplicates after the last event")
    p.add_argument("--notifier-url", help="a running notifier (unset: start a redis-server and a notifier here)")
    p.add_argument("--redis-url", help="the running notifier's Redis (with --notifier-url)")
    p.add_argument("--notifier-pid", type=int, help="the running notifier's pid, for its CPU and --profile")
    p.add_argument("--token-secret", default=os.environ.get("FIRSTIN_TOKEN_SECRET", DEV_TOKEN_SECRET))
    p.add_argument("--token-ttl", type=int, default=3600)
    p.add_argument("--log-level", default="INFO", help="the started notifier's FIRSTIN_LOG_LEVEL")
    p.add_argument(
        "--deflate",
        action="store_true",
        help="clients offer permessage-deflate, as browsers do (uvicorn accepts it; else plain frames)",
    )
    p.add_argument("--pin", action="store_true", help="pin the started notifier to CPU 0 and the rest to the others")
    p.add_argument(
        "--disconnect-timeout",
        type=float,
        default=120.0,
        help="at the end, close every socket at once and watch the notifier forget them for up to this long (0: skip)",
    )
    p.add_argument("--wait-quiet", type=float, default=0.0, help="first wait up to this many s for an idle machine")
    p.add_argument("--profile", action="store_true", help="py-spy the notifier during each test")
    p.add_argument("--py-spy", help="path of the py-spy binary (unset: beside python, else on PATH)")
    p.add_argument("--run-id", default=uuid.uuid4().hex[:8], help="names this run's buyers and result files")
    p.add_argument(
        "--output", type=Path, help="results JSON (unset: bench/results/notifier_scale-<time>-<run id>.json)"
    )
    args = p.parse_args(argv)
    args.tests = [t.strip() for t in args.tests.split(",") if t.strip()]
    unknown = set(args.tests) - {"latency", "fanout", "leave"}
    if unknown:
        p.error(f"unknown tests: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    needed = (
        max(
            args.fanout_sockets if "fanout" in args.tests else 0,
            args.leave_sockets if "leave" in args.tests else 0,
            args.latency_sockets,
        )
        + 1024
    )
    nofile = raise_fd_limit(needed)  # before the notifier starts: it inherits the limit
    if nofile < needed:
        print(f"warning: open-files limit {nofile} < {needed}: the notifier may refuse sockets")
    if args.pin:
        others = set(range(1, os.cpu_count() or 1)) or {0}
        os.sched_setaffinity(0, others)  # this process and the clients it spawns; the notifier gets CPU 0
    results: dict[str, Any] = {
        "run_id": args.run_id,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "open_files_limit": nofile,
        "load_average_at_start": os.getloadavg(),
        "connect": [],
        "tests": {},
    }
    if args.wait_quiet:
        results["waited_for_quiet_seconds"] = wait_for_quiet(args.wait_quiet)["waited_s"]
    with system_under_test(args) as target:
        host = urlsplit(target.notifier_url).hostname or "127.0.0.1"
        port = urlsplit(target.notifier_url).port or 80
        results["target"] = {"notifier_url": target.notifier_url, "started_here": target.started_here, **target.info}
        print(f"notifier {target.notifier_url} (pid {target.notifier_pid}), redis {target.redis_url}")
        pool = ClientPool(args.workers, host, port, target.token_secret, args.token_ttl, args.run_id, args.deflate)
        try:
            pool.call("status", timeout=60)
            bench = Bench(args, target, pool)
            for test in args.tests:
                if test == "latency":
                    results["connect"].append(bench.connect(args.latency_sockets))
                    print(f"latency: {args.latency_sockets} sockets, {args.rate}/s for {args.duration} s ...")
                    name = f"latency@{args.latency_sockets}"
                    if name in results["tests"]:  # --tests latency,latency: the second one runs warm
                        name += f" #{sum(1 for n in results['tests'] if n.startswith(name)) + 1}"
                    results["tests"][name] = bench.latency(args.latency_sockets)
                    print_brief(name, results["tests"][name])
                elif test == "leave":
                    results["connect"].append(bench.connect(args.leave_sockets))
                    print(
                        f"leave: {args.leave_sockets} sockets, decisions at {args.rate}/s to half of them, the other"
                        f" half leaving at once after {args.leave_after} s ..."
                    )
                    results["tests"][f"leave@{args.leave_sockets}"] = bench.leave(args.leave_sockets)
                    print_brief(f"leave@{args.leave_sockets}", results["tests"][f"leave@{args.leave_sockets}"])
                else:
                    results["connect"].append(bench.connect(args.fanout_sockets))
                    print(f"fanout: {args.fanout_sockets} sockets, one decision each, {args.batch} per message ...")
                    for round_ in range(1, args.fanout_rounds + 1):
                        name = f"fanout@{args.fanout_sockets}" + (f" #{round_}" if args.fanout_rounds > 1 else "")
                        results["tests"][name] = bench.fanout(args.fanout_sockets)
                        print_brief(name, results["tests"][name])
            if args.disconnect_timeout > 0 and pool.connected:
                results["mass_disconnect"] = bench.mass_disconnect(args.disconnect_timeout)
        finally:
            pool.close()
    results["connect"] = [c for c in results["connect"] if c]
    print_table(results)
    out = args.output or RESULTS_DIR / f"notifier_scale-{time.strftime('%Y%m%d-%H%M%S')}-{args.run_id}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nresults: {out}")
    return 0
