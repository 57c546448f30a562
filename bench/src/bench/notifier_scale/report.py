"""The notifier benchmark's table: one line per figure of every test, then the profiles when there are some."""

from typing import Any


def print_brief(name: str, r: dict[str, Any]) -> None:
    print(f"  {name}: p99 {r['latency_ms']['p99']} ms, missing {r['missing']}, duplicates {r['duplicates']}")


def _episode_text(e: dict[str, Any]) -> str:
    return f"{e['decisions']} decisions over {e['span_ms']} ms at +{e['at_s']} s, max {e['max_ms']} ms"


def _cpu_text(cpu: dict[str, Any], name: str) -> str:
    c = cpu.get(name)
    return f"{c['cpu_percent']}% ({c['cpu_seconds']} s)" if c else "-"


def print_table(results: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str]] = []
    for name, r in results["tests"].items():
        lat = r["latency_ms"]
        if name.startswith("fanout"):
            target = "p99 <= 1000 ms, every socket exactly 1 event"
            ok = (
                lat["p99"] is not None
                and lat["p99"] <= 1000
                and r["sockets_with_exactly_one_event"] == r["sockets"]
                and not r["misdelivered"]
            )
            load = f"{r['sockets']} sockets, {r['messages']} msgs x {r['batch']} decisions"
        elif name.startswith("leave"):
            win = r["latency_ms_in_window"]
            target = "p99 <= 100 ms for those who stay while the others leave"
            ok = win["p99"] is not None and win["p99"] <= 100 and not r["missing"] and not r["misdelivered"]
            load = (
                f"{r['sockets']} stay, {r['sockets_left']} leave at once (forgotten in "
                f"{r['seconds_until_forgotten']} s, p99 meanwhile {win['p99']} ms over {win['count']} decisions), "
                f"{r['achieved_rate']}/s x {r['publish_seconds']} s"
            )
        else:
            target = "p99 < 20 ms"
            ok = lat["p99"] is not None and lat["p99"] < 20 and not r["missing"] and not r["misdelivered"]
            load = (
                f"{r['sockets']} sockets ({r['sockets_connected_in_notifier']} open), "
                f"{r['achieved_rate']}/s x {r['publish_seconds']} s"
            )
        emit = r.get("notifier_emit_delay") or {}
        rows += [
            (name, "load", load),
            (name, "delivered / missing / dup / misdelivered",
             f"{r['delivered']}/{r['decisions']} / {r['missing']} / {r['duplicates']} / {r['misdelivered']}"),
            (name, "latency ms p50 / p95 / p99 / max",
             f"{lat['p50']} / {lat['p95']} / {lat['p99']} / {lat['max']}  (mean {lat['mean']})"),
            *(
                [(name, f"  same without the first {r['warmup_s']:g} s",
                  f"{warm['p50']} / {warm['p95']} / {warm['p99']} / {warm['max']}  (n {warm['count']})")]
                if (warm := r.get("latency_ms_after_warmup")) and r.get("warmup_s") else []
            ),
            (name, "notifier decided->emit (its histogram)",
             f"p50 {emit.get('p50_ms')} ms, p99 {emit.get('p99_ms')} ms" if emit else "-"),
            (name, f"decisions > {r['slow_episodes']['slow_ms']:g} ms / in episodes / worst episode",
             f"{r['slow_episodes']['decisions']} / {r['slow_episodes']['episodes']} / "
             + (_episode_text(r["slow_episodes"]["worst"][0]) if r["slow_episodes"]["worst"] else "-")),
            (name, "CPU notifier / clients / redis",
             f"{_cpu_text(r['cpu'], 'notifier')} / {_cpu_text(r['cpu'], 'clients')} / {_cpu_text(r['cpu'], 'redis')}"
             f" over {r['cpu']['wall_seconds']} s; notifier peak {r['cpu'].get('notifier_peak_percent')}%,"
             f" >= 90% for {r['cpu'].get('notifier_seconds_at_90_percent_or_more')} s;"
             f" machine {r['cpu'].get('machine_busy_percent')}% busy"),
            (name, "target", f"{target}: {'MET' if ok else 'NOT MET'}"),
        ]  # fmt: skip
        if name.startswith("fanout"):
            rows.insert(
                len(rows) - 4,
                (
                    name,
                    "sockets with exactly one event",
                    f"{r['sockets_with_exactly_one_event']}/{r['sockets']}; publish took {r['publish_seconds']} s;"
                    f" last receipt {r['first_publish_to_last_receipt_ms']} ms after first publish",
                ),
            )
    if md := results.get("mass_disconnect"):
        gone = md["seconds_until_all_gone"]
        rows.append(
            (
                "disconnect",
                f"{md['sockets_before']:.0f} sockets closed at once",
                (
                    f"all gone in {gone} s"
                    if gone is not None
                    else f"{md['sockets_left']} left after {md['timed_out_after_s']} s"
                )
                + f"; slowest /metrics answer {md['slowest_metrics_answer_s']} s;"
                + f" notifier CPU {_cpu_text(md['cpu'], 'notifier')}",
            )
        )
    for c in results.get("connect", []):
        rows.append(
            (
                "connect",
                f"+{c['requested']} sockets",
                f"{c['connected']} ok, {c['failed']} failed in {c['seconds']} s ({c['per_second']}/s), connect p50"
                f" {c['connect_ms']['p50']} ms p99 {c['connect_ms']['p99']} ms;"
                f" notifier CPU {_cpu_text(c['cpu'], 'notifier')},"
                f" RSS {c['notifier_rss_mb']} MB",
            )
        )
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print()
    print(f"{'test':<{w0}}  {'figure':<{w1}}  value")
    print(f"{'-' * w0}  {'-' * w1}  {'-' * 40}")
    for test, figure, value in rows:
        print(f"{test:<{w0}}  {figure:<{w1}}  {value}")
    profiled = dict(results["tests"])
    for c in results.get("connect", []):
        profiled[f"connect +{c['requested']}"] = c
    if "mass_disconnect" in results:
        profiled["mass disconnect"] = results["mass_disconnect"]
    for name, r in profiled.items():
        profile = r.get("profile")
        if not profile:
            continue
        if "error" in profile:
            print(f"\n{name}: py-spy failed: {profile['error']}")
            continue
        print(f"\n{name}: notifier profile, {profile['samples']} samples at {profile['rate_hz']} Hz")
        print(f"  (busy samples only; raw stacks in {profile['file']})")
        print("   self%  function")
        for pct, _, f in profile["self"][:12]:
            print(f"  {pct:6.1f}  {f}")
        print("  total%  function")
        for pct, _, f in profile["total"][:20]:
            print(f"  {pct:6.1f}  {f}")
