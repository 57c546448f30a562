"""`python -m bench [SCENARIO ...]`: run the benchmark scenarios and write bench/results/.

Scenarios (default: all, in this order):
  door       sold-out product (stock 0), wrk posting orders: 409s per second, nothing queued
  processor  the processor alone on a pre-filled line: decisions per second
  stampede   5 items, 10,000 buyers at once: how many wait in line beyond the stock, every outcome delivered
  pipeline   10,000 items, 20,000 orders as fast as possible: sustained orders/s end to end
  steady     1,000 orders/s for 30 s: latency end to end
  storm      a real drop: one order per buyer, and each buyer opens a new socket right after its 202 with the
             token from it (as fast as possible, or --storm-rate new buyers/s): end to end orders/s, 202 ->
             outcome p50/p99, new sockets/s, and buyers never told
  connects   the notifier's CPU per accepted socket (handshake, token, room, replay, first event) next to a bare
             python-socketio server's, same client, same run; and the CPU of their leaving

Each scenario starts its own system the way `make run` does (a private redis-server, the api with
--api-workers uvicorn workers, the processor and the notifier, via firstin_stack), unless --api-url and
--notifier-url point at a running one.

Each run's verdict (bench/verdict.py) is met, not met, or inconclusive when other processes took more than 10 % of
the CPU meanwhile; the terminal gets one line per run and a short table, the files everything.
"""

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench import stats
from bench.connects import run_connects
from bench.door import run_door
from bench.load import LoadSpec, run_load
from bench.processor import run_processor
from bench.system import system
from bench.verdict import Evaluation, evaluate, short_table

SCENARIOS = ("door", "processor", "stampede", "pipeline", "steady", "storm", "connects")
# The checkout the bench runs from, for the commit it reports (none when installed from a wheel).
REPO = stats.PROJECT_DIR.parent if stats.PROJECT_DIR else Path.cwd()


def _env_pairs(values: list[str]) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--env wants KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("scenarios", nargs="*", default=["all"], help=f"all, or some of: {', '.join(SCENARIOS)}")
    g = p.add_argument_group("system under test")
    g.add_argument(
        "--api-workers",
        type=int,
        default=int(os.environ.get("FIRSTIN_API_WORKERS", "2")),
        help="uvicorn workers of the api when the bench starts it (default: 2, as `make run`)",
    )
    g.add_argument(
        "--notifiers",
        type=int,
        default=1,
        help="notifier replicas the bench starts, buyers spread among them as by a load balancer (default 1)",
    )
    g.add_argument("--log-level", default="INFO", help="services' log level (default INFO, as `make run`)")
    g.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="extra environment for services")
    g.add_argument("--api-url", help="target a running api instead of starting one")
    g.add_argument("--notifier-url", help="its notifier (with --api-url)")
    g.add_argument("--redis-url", help="its Redis, for the audit and the line sampling (with --api-url)")
    g.add_argument("--admin-token", help="its admin token (default: FIRSTIN_ADMIN_TOKEN or the dev token)")
    g.add_argument("--token-secret", help="its token secret; without it buyers take their token from their first 202")
    g = p.add_argument_group("load generator")
    g.add_argument(
        "--processes",
        type=int,
        default=1,
        help="load-generator processes (default 1: with its lean HTTP client one process keeps up, and each "
        "extra process competes with the system under test for the same cores)",
    )
    g.add_argument("--concurrency", type=int, help="HTTP connections in total (default per scenario)")
    g.add_argument("--drain-timeout", type=float, default=20.0, help="max wait for outcomes after the last answer")
    g.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each scenario, wait up to this long for the machine to be idle (shared machines)",
    )
    g.add_argument("--label", help="a note stored with the results (what was measured, and why)")
    g.add_argument("--profile", action="store_true", help="py-spy the services during the load (needs py-spy)")
    g.add_argument("--quick", action="store_true", help="a smoke run: every scenario at a tenth of its size")
    g = p.add_argument_group("scenario sizes")
    g.add_argument("--stampede-buyers", type=int, default=10_000)
    g.add_argument("--stampede-stock", type=int, default=5)
    g.add_argument(
        "--stampede-sockets",
        type=int,
        help="how many of the stampede's buyers hold a socket (default: all of them)",
    )
    g.add_argument("--pipeline-orders", type=int, default=20_000)
    g.add_argument("--pipeline-stock", type=int, default=10_000)
    g.add_argument("--pipeline-buyers", type=int, default=5_000, help="each with its own socket; orders spread evenly")
    g.add_argument("--steady-rate", type=float, default=1_000.0, help="orders/s")
    g.add_argument("--steady-seconds", type=float, default=30.0)
    g.add_argument("--steady-buyers", type=int, default=3_000)
    g.add_argument("--storm-buyers", type=int, default=3_000, help="buyers of the storm, one order and socket each")
    g.add_argument("--storm-stock", type=int, help="default: one item per buyer (every buyer queued and told)")
    g.add_argument(
        "--storm-rate", type=float, help="new buyers/s in an open loop (default: as fast as --concurrency allows)"
    )
    g.add_argument("--connects-buyers", type=int, default=3_000, help="sockets of the connects scenario")
    g.add_argument("--connects-concurrency", type=int, default=200, help="handshakes in flight (connects)")
    g.add_argument(
        "--bare-ws", default="auto", help="uvicorn ws= of the bare python-socketio server (connects; default: auto)"
    )
    g.add_argument("--processor-orders", type=int, default=100_000)
    g.add_argument("--processor-stock", type=int, help="default: as many as orders (every order accepted)")
    g.add_argument("--processor-batch-size", type=int, action="append", help="FIRSTIN_DECIDE_BATCH_SIZE (repeatable)")
    g.add_argument("--door-seconds", type=float, default=10.0)
    g.add_argument("--door-warmup", type=float, default=2.0)
    g.add_argument("--door-connections", type=int, default=64)
    g.add_argument("--door-threads", type=int, default=2)
    args = p.parse_args(argv)
    wanted = []
    for s in args.scenarios:
        if s == "all":
            wanted += list(SCENARIOS)
        elif s in SCENARIOS:
            wanted.append(s)
        else:
            p.error(f"unknown scenario {s!r}: choose from all, {', '.join(SCENARIOS)}")
    args.scenarios = list(dict.fromkeys(wanted))
    if args.quick:
        args.stampede_buyers //= 10
        args.pipeline_orders //= 10
        args.pipeline_stock //= 10
        args.pipeline_buyers //= 10
        args.steady_seconds = min(args.steady_seconds, 5.0)
        args.steady_buyers //= 10
        args.storm_buyers //= 10
        args.connects_buyers //= 10
        args.processor_orders //= 10
        args.door_seconds = min(args.door_seconds, 3.0)
        args.door_warmup = min(args.door_warmup, 1.0)
    return args


def load_spec(args: argparse.Namespace, scenario: str) -> LoadSpec:
    common = {"processes": args.processes, "drain_timeout": args.drain_timeout}
    if scenario == "stampede":
        buyers = args.stampede_buyers
        return LoadSpec(
            scenario="stampede",
            stock=args.stampede_stock,
            orders=buyers,
            buyers=buyers,
            sockets=min(buyers, args.stampede_sockets if args.stampede_sockets is not None else buyers),
            rate=None,
            concurrency=args.concurrency or 512,
            **common,
        )
    if scenario == "pipeline":
        return LoadSpec(
            scenario="pipeline",
            stock=args.pipeline_stock,
            orders=args.pipeline_orders,
            buyers=args.pipeline_buyers,
            sockets=args.pipeline_buyers,
            rate=None,
            concurrency=args.concurrency or 256,
            **common,
        )
    if scenario == "storm":
        buyers = args.storm_buyers
        return LoadSpec(
            scenario="storm",
            stock=args.storm_stock if args.storm_stock is not None else buyers,
            orders=buyers,
            buyers=buyers,
            sockets=buyers,
            rate=args.storm_rate,
            concurrency=args.concurrency or 200,
            socket_after_202=True,
            **common,
        )
    orders = int(args.steady_rate * args.steady_seconds)
    return LoadSpec(
        scenario="steady",
        stock=orders,
        orders=orders,
        buyers=args.steady_buyers,
        sockets=args.steady_buyers,
        rate=args.steady_rate,
        concurrency=args.concurrency or 256,
        **common,
    )


def _fmt(v: Any, digits: int = 0) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def table_rows(runs: list[dict[str, Any]]) -> list[str]:
    head = (
        "| scenario | load | HTTP answers/s | 202/s | HTTP p50 / p95 / p99 ms | end to end p50 / p95 / p99 ms "
        "| sustained e2e orders/s | correctness | target | verdict |"
    )
    rows = [head, "|" + "---|" * 10]
    for r in runs:
        s, ev = r["scenario"], r.get("evaluation", {})
        if s == "door":
            lat = r.get("latency_ms", {})
            rows.append(
                f"| door | wrk -t{r.get('threads')} -c{r.get('connections')} {_fmt(r.get('seconds'))} s, "
                f"{r.get('system', {}).get('api_workers')} api workers | {_fmt(r.get('requests_per_s'))} | 0 "
                f"| {_fmt(lat.get('p50'), 2)} / {_fmt(lat.get('p95'), 2)} / {_fmt(lat.get('p99'), 2)} | - | - "
                f"| non-409: {_fmt(r.get('non_409'))}, queued: {_fmt(r.get('queued_during_run'))} "
                f"| {ev.get('target')} | {ev.get('verdict')} |"
            )
            continue
        if s == "connects":
            b, n = r["bare"], r["notifier"]
            rows.append(
                f"| connects | {r['buyers']:,} sockets, {r['concurrency']} handshakes in flight "
                f"| - | - | - | - | bare {_fmt(b['connects_per_s'])} / notifier {_fmt(n['connects_per_s'])} connects/s "
                f"| CPU ms per socket: bare {b['server_cpu_ms_per_socket']}, notifier {n['server_cpu_ms_per_socket']} "
                f"(x{r['notifier_to_bare_cpu_ratio']}); told {n['told']:,}/{r['buyers']:,}; leaving: bare "
                f"{b['disconnect_cpu_ms_per_socket']}, notifier {n['disconnect_cpu_ms_per_socket']} ms per socket "
                f"| {ev.get('target')} | {ev.get('verdict')} |"
            )
            continue
        if s == "processor":
            c = r.get("correctness", {})
            rows.append(
                f"| processor | {_fmt(r.get('orders'))} pre-filled, batch {r.get('batch_size')} "
                f"| - | - | - | - | {_fmt(r.get('decisions_per_s'))} decisions/s "
                f"| pending {c.get('pending')}, oversell {c.get('oversell')}, fifo {c.get('fifo_violations')} "
                f"| {ev.get('target')} | {ev.get('verdict')} |"
            )
            continue
        h, e, c, sp = r["http"], r["end_to_end"], r["correctness"], r["spec"]
        # storm: every socket opens after its 202, so 202 -> outcome includes the buyer's connect and replay
        lat, el = h["latency_ms"], e["latency_ms_from_202_new_socket" if s == "storm" else "latency_ms_from_202"]
        pace = "max rate" if sp["rate"] is None else f"{sp['rate']:,.0f}/s"
        load = (
            f"{sp['orders']:,} orders, {sp['buyers']:,} buyers, {r['sockets']['held']:,} sockets, "
            f"stock {sp['stock']:,}, {pace}, {sp['processes']} gen procs"
        )
        corr = (
            f"202: {_fmt(c['accepted_202'])} (beyond stock {_fmt(c['queued_beyond_stock'])}), "
            f"oversell {c.get('oversell')}, FIFO {c.get('fifo_violations')}, lost notif {c['lost_notifications']}, "
            f"wrong buyer {c['events_to_wrong_buyer']}, pending {c.get('pending_at_end')}"
        )
        rows.append(
            f"| {s} | {load} | {_fmt(h['responses_per_s'])} | {_fmt(h['accepted_202_per_s'])} "
            f"| {_fmt(lat['p50'], 1)} / {_fmt(lat['p95'], 1)} / {_fmt(lat['p99'], 1)} "
            f"| {_fmt(el['p50'], 1)} / {_fmt(el['p95'], 1)} / {_fmt(el['p99'], 1)} "
            f"| {_fmt(e['sustained_orders_per_s'])} | {corr} | {ev.get('target')} "
            f"| {ev.get('verdict')} |"
        )
    return rows


def judge(scenario: str, r: dict[str, Any], args: argparse.Namespace) -> Evaluation:
    """The run's verdict, stored with it and drawn on its plot; one line on the terminal, the rest in its JSON."""
    evaluation = evaluate(scenario, r, args)
    r["evaluation"] = evaluation.as_dict()
    if "series" in r and scenario == "processor":
        r["png"] = str(
            stats.plot_simple(
                r["name"],
                f"processor alone: {r['orders']:,} pre-filled orders, batch {r['batch_size']}",
                r["series"]["seconds"],
                {"orders decided (Redis product.decided)": [float(d) for d in r["series"]["decided"]]},
                "seconds since the processor's first batch",
                "orders decided",
                evaluation,
            )
        )
    elif "series" in r:
        spec = r["spec"]
        r["png"] = str(
            stats.plot_load(
                r["name"],
                f"{scenario}: {spec['orders']:,} orders, stock {spec['stock']:,}, "
                f"{r['sockets']['held']:,} buyer sockets, {r['system'].get('api_workers') or '?'} api workers",
                r["series"],
                evaluation,
            )
        )
    r["json"] = str(stats.write_json(r["name"], r))
    print(f"{scenario}: {stats.verdict_line(evaluation)}  ({r['json']})", flush=True)
    return evaluation


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    extra_env = _env_pairs(args.env)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    runs: list[dict[str, Any]] = []
    evaluations: list[Evaluation] = []
    meta = {
        "machine": stats.machine_info(),
        "bench_git": stats.git_info(REPO),
        "code_under_test": stats.code_info(),
        "label": args.label,
        "command": " ".join([Path(sys.executable).name, "-m", "bench", *(argv if argv is not None else sys.argv[1:])]),
        "started": stamp,
    }
    print(
        f"firstin bench: {', '.join(args.scenarios)} on {meta['machine']['nproc']} cores "
        f"({meta['machine']['cpu_model']}), {args.processes} load-generator processes"
    )
    sysargs = {
        "api_url": args.api_url,
        "notifier_url": args.notifier_url,
        "redis_url": args.redis_url,
        "admin_token": args.admin_token,
        "token_secret": args.token_secret,
        "api_workers": args.api_workers,
        "notifiers": args.notifiers,
        "log_level": args.log_level,
        "extra_env": extra_env,
    }
    for scenario in args.scenarios:
        name = f"{scenario}-{stamp}"
        quiet = stats.wait_for_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
        meta["quiet_before"] = quiet
        started = time.monotonic()
        if scenario == "processor":
            if args.api_url:
                print("processor: skipped (it starts its own Redis and processor; not with --api-url)")
                continue
            for batch in args.processor_batch_size or [None]:
                run_name = f"{name}-b{batch}" if batch else name
                r = run_processor(
                    orders=args.processor_orders,
                    stock=args.processor_stock,
                    batch_size=batch,
                    log_level=args.log_level,
                    extra_env=extra_env,
                    timeout=120,
                    profile=args.profile,
                    name=run_name,
                )
                r.update(meta, name=run_name)
                evaluations.append(judge(scenario, r, args))
                runs.append(r)
            continue
        with system(**sysargs) as target:
            if scenario == "connects":
                r = run_connects(
                    target,
                    buyers=args.connects_buyers,
                    concurrency=args.connects_concurrency,
                    bare_ws=args.bare_ws,
                    profile=args.profile,
                    name=name,
                )
            elif scenario == "door":
                r = run_door(
                    target,
                    threads=args.door_threads,
                    connections=args.door_connections,
                    seconds=args.door_seconds,
                    warmup=args.door_warmup,
                    profile=args.profile,
                    name=name,
                )
            else:
                r = run_load(target, load_spec(args, scenario), name=name, profile=args.profile)
            r["system"] = target.describe()
        r.update(meta, name=name)
        r["wall_seconds"] = round(time.monotonic() - started, 1)
        evaluations.append(judge(scenario, r, args))
        runs.append(r)
    if runs:
        rows = table_rows(runs)
        summary = {**meta, "runs": [{k: r.get(k) for k in ("scenario", "json", "png", "evaluation")} for r in runs]}
        summary["table_markdown"] = rows
        summary["table"] = table = short_table(evaluations)
        path = stats.write_json(f"summary-{stamp}", summary)
        (path.with_suffix(".md")).write_text("\n".join(rows) + "\n")
        print("\n" + "\n".join(table))
        print(f"\nresults: {path} and {path.with_suffix('.md')}")
    return 0
