"""The report: the table, the details below it, and the JSON of ``--json``."""

from __future__ import annotations

import statistics
from typing import Any

from .results import (
    CATCH_UP_TARGET_S,
    JS_RATIO_TARGET,
    LATENCY_P99_TARGET_MS,
    MEMORY_TARGET_KB,
    MQTT_RATIO_STRETCH,
    MQTT_RATIO_TARGET,
    PIPELINE_RATIO_STRETCH,
    PIPELINE_RATIO_TARGET,
    SETUP_TARGET_DEVICES,
    SETUP_TARGET_S,
    Results,
    Series,
)
from .uplinks import WARM_UP

THROUGHPUT_PATHS = frozenset(
    {
        "entity_writes",
        "entity_writes_same",
        "pipeline",
        "pipeline_linked",
        "framework",
        "mqtt",
        "mqtt_test_helper",
    }
)


def complete(results: Results) -> bool:
    """Whether every throughput path has its batches."""
    return results.throughput.keys() >= THROUGHPUT_PATHS and all(
        series.runs for series in results.throughput.values()
    )


def adapter_cost(results: Results) -> Series:
    """
    Return what being a framework connection costs: linked minus unlinked pipeline, per batch.

    The two paths take turns within each batch, so a batch's difference leaves out most of the
    load that the machine's other processes put on both.
    """
    linked = results.throughput["pipeline_linked"]
    unlinked = results.throughput["pipeline"]
    return Series(
        runs=[a - b for a, b in zip(linked.runs, unlinked.runs, strict=True)],
        cpu_runs=[a - b for a, b in zip(linked.cpu_runs, unlinked.cpu_runs, strict=True)],
    )


def verdict(ok: bool, stretch: bool | None = None) -> str:
    """PASS/MISS, and whether the stretch target is met too."""
    text = "PASS" if ok else "MISS"
    if stretch is not None:
        text += " (stretch met)" if stretch else " (stretch missed)"
    return text


def report_rows(results: Results) -> list[tuple[str, str, str, str]]:
    """Return the rows of the table: measurement, result, target, verdict."""
    rows: list[tuple[str, str, str, str]] = []
    throughput = results.throughput
    if complete(results):
        writes = throughput["entity_writes"]
        pipeline = throughput["pipeline"]
        mqtt = throughput["mqtt"]
        rows.append(
            (
                "Entity writes: 5 HA sensors",
                f"{writes.median:.1f} µs/uplink (batches {writes.span()})",
                "reference 60-90 µs",
                "info",
            )
        )
        seven = throughput["entity_writes_same"]
        rows.append(
            (
                (
                    f"  same {len(results.parameters['pipeline_writes_per_uplink'])} entities "
                    "+ bus event"
                ),
                f"{seven.median:.1f} µs/uplink (batches {seven.span()})",
                "what the pipeline writes",
                "info",
            )
        )
        ratio = pipeline.median / writes.median
        rows.append(
            (
                "LoRaWAN Hub pipeline",
                (
                    f"{pipeline.median:.1f} µs/uplink = {ratio:.2f}x entity writes "
                    f"({pipeline.median / seven.median:.2f}x the same-entity writes)"
                ),
                f"≤ {PIPELINE_RATIO_TARGET}x (stretch ≤ {PIPELINE_RATIO_STRETCH}x)",
                verdict(ratio <= PIPELINE_RATIO_TARGET, ratio <= PIPELINE_RATIO_STRETCH),
            )
        )
        linked = throughput["pipeline_linked"]
        adapter = adapter_cost(results)
        rows.append(
            (
                "  as a LoRaWAN framework connection",
                (
                    f"{linked.median:.1f} µs/uplink = {linked.median / writes.median:.2f}x entity "
                    f"writes; the adapter {adapter.median:.1f} µs/uplink (CPU "
                    f"{adapter.cpu_median:.1f} µs)"
                ),
                "(adapter: linked - unlinked, per batch)",
                "info",
            )
        )
        framework = throughput["framework"]
        rows.append(
            (
                "  the same device on a LoRaWAN connection",
                (
                    f"{framework.median:.1f} µs/uplink = {framework.median / writes.median:.2f}x "
                    f"entity writes, {framework.median / pipeline.median:.2f}x the Orion path"
                ),
                "(framework path: lorawan_connection event → hub)",
                "info",
            )
        )
        mqtt_ratio = mqtt.median / pipeline.median
        rows.append(
            (
                "MQTT + templates",
                f"{mqtt.median:.1f} µs/message = {mqtt_ratio:.2f}x pipeline",
                f"≥ {MQTT_RATIO_TARGET:g}x (stretch ≥ {MQTT_RATIO_STRETCH:g}x)",
                verdict(mqtt_ratio >= MQTT_RATIO_TARGET, mqtt_ratio >= MQTT_RATIO_STRETCH),
            )
        )
        helper = throughput["mqtt_test_helper"]
        rows.append(
            (
                "  via async_fire_mqtt_message",
                f"{helper.median:.1f} µs/message = {helper.median / pipeline.median:.2f}x pipeline",
                "(test helper: + a Mock per message)",
                "info",
            )
        )
    if results.javascript:
        javascript = results.javascript
        rows.append(
            (
                "JavaScript codec decode (5 fields)",
                (
                    f"{javascript['decode_us']:.1f} µs/uplink = "
                    f"{javascript['decode_us'] / javascript['cayenne_decode_us']:.1f}x Cayenne LPP "
                    f"({javascript['cayenne_decode_us']:.1f} µs)"
                ),
                "info (on the codec thread)",
                "info",
            )
        )
        if repository := javascript.get("repository"):
            rows.append(
                (
                    f"Device Repository codec call ({repository['examples']:,} examples)",
                    (
                        f"{repository['quickjs_us']:.1f} µs = {repository['ratio']:.2f}x node "
                        f"({repository['node_us']:.1f} µs, same isolation; with a new context "
                        f"per call {repository['node_fresh_context_us']:.0f} µs)"
                    ),
                    f"≤ {repository['target']:g}x node",
                    verdict(repository["ratio"] <= repository["target"]),
                )
            )
        if "entity_writes" in throughput and "pipeline_us" in javascript:
            js_ratio = javascript["pipeline_us"] / throughput["entity_writes"].median
            rows.append(
                (
                    "Pipeline with a JavaScript codec",
                    f"{javascript['pipeline_us']:.1f} µs/uplink = {js_ratio:.2f}x entity writes",
                    f"≤ {JS_RATIO_TARGET:g}x",
                    verdict(js_ratio <= JS_RATIO_TARGET),
                )
            )
    if results.latency:
        latency = results.latency
        rows.append(
            (
                f"Socket → state @ {latency['rate_target']:g}/s",
                (
                    f"p50 {latency['p50_ms']:.2f} ms, p99 {latency['p99_ms']:.2f} ms, "
                    f"max {latency['max_ms']:.2f} ms ({latency['uplinks']} uplinks, "
                    f"{latency['rate_achieved']:.0f}/s)"
                ),
                f"p99 ≤ {LATENCY_P99_TARGET_MS:g} ms",
                verdict(latency["p99_ms"] <= LATENCY_P99_TARGET_MS),
            )
        )
    for setup in results.setup:
        judged = setup["devices"] >= SETUP_TARGET_DEVICES
        target = f"≤ {SETUP_TARGET_S:g} s for 10,000" if judged else "info"
        if failure := setup.get("failure"):
            rows.append(
                (
                    f"{setup['devices']:,} devices, as they are",
                    f"{failure.split(' (', 1)[0]} (why: below the table)",
                    target,
                    "MISS",
                )
            )
        raised = " (limits lifted)" if setup.get("limits_lifted") else ""
        for phase, label in (("first_s", "first set-up"), ("restart_s", "restart")):
            if phase not in setup:
                continue
            rows.append(
                (
                    f"{setup['devices']:,} devices, {label}{raised}",
                    (
                        f"{setup[phase]:.2f} s, {setup['entities']:,} entities "
                        f"({setup['enabled_entities']:,} enabled)"
                    ),
                    target,
                    verdict(setup[phase] <= SETUP_TARGET_S) if judged else "info",
                )
            )
        if "ha_first_s" in setup:
            rows.append(
                (
                    f"  HA alone, {setup['devices']:,} devices",
                    (
                        f"first {setup['ha_first_s']:.2f} s, restart "
                        f"{setup['ha_restart_s']:.2f} s, {setup['ha_plain_sensors']:,} "
                        "plain sensors"
                    ),
                    "HA's own cost",
                    "info",
                )
            )
    if results.setup_skipped:
        rows.append(("10,000 devices", results.setup_skipped, "≤ 10 s", "not measured"))
    if results.catch_up:
        median = statistics.median(results.catch_up)
        rows.append(
            (
                "Catch-up of 1,000 stored uplinks",
                f"{median:.3f} s (runs {min(results.catch_up):.3f}-{max(results.catch_up):.3f})",
                f"≤ {CATCH_UP_TARGET_S:g} s",
                verdict(median <= CATCH_UP_TARGET_S),
            )
        )
    if results.memory:
        memory = results.memory
        rows.append(
            (
                "Memory per device beyond HA",
                (
                    f"{memory['beyond_ha_kb_per_device']:.1f} KB "
                    f"(ours {memory['ours_kb_per_device']:.1f} KB, HA's "
                    f"{memory['ha_entities_per_device']} sensors "
                    f"{memory['ha_kb_per_device']:.1f} KB)"
                ),
                f"≤ {MEMORY_TARGET_KB:g} KB",
                verdict(memory["beyond_ha_kb_per_device"] <= MEMORY_TARGET_KB),
            )
        )
    return rows


def print_report(results: Results) -> None:
    """Print the machine, the table and the details."""
    machine = results.machine
    print("LoRaWAN Hub benchmark")
    print(f"  machine: {machine['cpu']}, {machine['cpus']} CPUs, {machine['memory']} RAM")
    print(f"  system:  {machine['os']}, {machine['python']}")
    print(f"  Home Assistant {machine['home_assistant']} (phcc {machine['phcc']})")
    print(
        f"  load average (1, 5, 15 min) at start: {machine['load_average']}, at the end: "
        f"{machine.get('load_average_end')} (other processes share the machine when it is > 1)"
    )
    print(f"  {machine['ulid']} (one per state write and per event)")
    parameters = results.parameters
    print(
        f"  {parameters['runs']} batches x {parameters['uplinks']} uplinks after "
        f"{WARM_UP} warm-up, 5 Cayenne LPP fields per uplink; medians"
    )
    if written := parameters.get("pipeline_writes_per_uplink"):
        print(f"  states one uplink writes in the pipeline: {', '.join(written)}")
    print()
    rows = report_rows(results)
    headers = ("Measurement", "Result", "Target", "Verdict")
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(4)]
    line = "  ".join("-" * width for width in widths)
    print("  ".join(header.ljust(width) for header, width in zip(headers, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print()
    for setup in results.setup:
        if failure := setup.get("failure"):
            print(f"{setup['devices']:,} devices in one entry: {failure}.")
            for blocker in setup["blockers"]:
                print(f"  - {blocker}")
            if setup.get("limits_lifted"):
                print(
                    "  The set-up times marked '(limits lifted)' ran with both limits raised "
                    "in this process, to show what the set-up itself costs."
                )
            print()
    if complete(results):
        print("Per batch (µs per uplink):")
        for name, series in results.throughput.items():
            print(f"  {name:18} " + "  ".join(f"{value:7.1f}" for value in series.runs))
        pipeline = results.throughput["pipeline"].runs
        writes = results.throughput["entity_writes"].runs
        mqtt = results.throughput["mqtt"].runs
        ratios = [p / w for p, w in zip(pipeline, writes, strict=True)]
        mqtt_ratios = [m / p for m, p in zip(mqtt, pipeline, strict=True)]
        print(f"  {'pipeline/writes':18} " + "  ".join(f"{value:7.2f}" for value in ratios))
        adapter = adapter_cost(results)
        print(f"  {'linked-pipeline':18} " + "  ".join(f"{value:7.1f}" for value in adapter.runs))
        print(f"  {'mqtt/pipeline':18} " + "  ".join(f"{value:7.2f}" for value in mqtt_ratios))
        print("Per batch, CPU time of the event loop's thread (µs per uplink):")
        for name, series in results.throughput.items():
            print(f"  {name:18} " + "  ".join(f"{value:7.1f}" for value in series.cpu_runs))
        print(
            f"  {'linked-pipeline':18} " + "  ".join(f"{value:7.1f}" for value in adapter.cpu_runs)
        )
        throughput = results.throughput
        pipeline_cpu = throughput["pipeline"].cpu_median
        print(
            f"  medians: pipeline {pipeline_cpu:.1f} = "
            f"{pipeline_cpu / throughput['entity_writes'].cpu_median:.2f}x entity writes, "
            f"{pipeline_cpu / throughput['entity_writes_same'].cpu_median:.2f}x the same-entity "
            f"writes; MQTT {throughput['mqtt'].cpu_median / pipeline_cpu:.2f}x pipeline"
        )
        print()
    if results.latency:
        latency = results.latency
        print(
            f"Latency ({latency['uplinks']} uplinks): mean {latency['mean_ms']:.2f} ms, "
            f"p90 {latency['p90_ms']:.2f} ms. Split where the client's frame handler gets the "
            f"frame: wait (simulator → socket → aiohttp → loop) p50 {latency['wait_p50_ms']:.2f} "
            f"/ p99 {latency['wait_p99_ms']:.2f} ms; work (pipeline) p50 "
            f"{latency['work_p50_ms']:.2f} / p99 {latency['work_p99_ms']:.2f} / max "
            f"{latency['work_max_ms']:.2f} ms."
        )
        print(
            f"  The slowest 1 % ({latency['slowest_1pct']} uplinks): the process had the CPU "
            f"{latency['slowest_1pct_cpu_share']:.0%} of their span; "
            f"{latency['slowest_1pct_during_gc']} overlapped a garbage collection "
            f"({latency['gc_collections']} collections, {latency['gc_full_collections']} full, "
            f"longest {latency['gc_pause_max_ms']:.1f} ms)."
        )
        print()
    if results.memory:
        memory = results.memory
        print(
            f"Memory ({memory['devices']:,} devices; ours: "
            f"{memory['our_entities_per_device']['registered']} registry entries, "
            f"{memory['our_entities_per_device']['enabled']} enabled, per device), "
            "difference by allocating code, KB/device:"
        )
        for origin, value in memory["difference_by_origin_kb_per_device"].items():
            print(f"  {origin:16} {value:7.2f}")
        print("  largest differences by allocating line (ours minus HA's), KB/device:")
        for item in memory["largest_differences_by_line"]:
            print(f"    {item['kb_per_device']:6.2f}  {item['line']}")
        print()
    if results.profile:
        print_profile(results.profile, results)
    if results.checks:
        print("Checks:")
        for check in results.checks:
            print(f"  ✓ {check}")
    for error in results.errors:
        print(f"ERROR: {error}")


def print_profile(profile: dict[str, Any], results: Results) -> None:
    """Print where the pipeline's time goes, per uplink, beside Home Assistant's own writes."""
    pipeline = profile["pipeline"]
    writes = profile["entity_writes_same"]
    stages = profile["stages_us"]
    median = results.throughput["pipeline"].cpu_median if complete(results) else 0.0
    print("Pipeline stages without profiler (CPU µs/uplink, best of 3):")
    for name, value in stages.items():
        print(f"  {name:28} {value:7.1f}")
    rest = median - sum(stages.values())
    print(
        f"  {'coordinator, writes, events':28} {rest:7.1f}  (the pipeline's CPU-time median "
        "minus the above)"
    )
    if complete(results):
        print(
            f"  {'for comparison: same-entity writes':28} "
            f"{results.throughput['entity_writes_same'].cpu_median:7.1f}"
        )
    print()
    print(
        f"cProfile, {pipeline['units']} uplinks: pipeline {pipeline['wall_us_profiled']:.1f} "
        f"µs/uplink, same-entity writes {writes['wall_us_profiled']:.1f} µs/uplink with the "
        "profiler on (it inflates every call: compare shares, not absolute values)."
    )
    print("  self time by origin, µs/uplink:       pipeline  same-entity writes")
    for origin in pipeline["self_us_by_origin"]:
        print(
            f"    {origin:34} {pipeline['self_us_by_origin'][origin]:8.1f}  "
            f"{writes['self_us_by_origin'].get(origin, 0.0):8.1f}"
        )
    baseline_self = {item["function"]: item["self_us"] for item in writes["functions"]}
    print(
        "  top functions by self time, µs/uplink "
        "(self, inclusive, calls; self in the same-entity writes):"
    )
    for item in pipeline["functions"][:30]:
        print(
            f"    {item['self_us']:6.1f} {item['total_us']:7.1f} {item['calls']:5.1f}  "
            f"({baseline_self.get(item['function'], 0.0):5.1f})  "
            f"[{item['origin']}] {item['function']}"
        )
    ours = [item for item in pipeline["functions"] if item["origin"] == "LoRaWAN Hub"]
    print("  LoRaWAN Hub functions by inclusive time, µs/uplink (inclusive, self):")
    for item in sorted(ours, key=lambda item: -item["total_us"])[:16]:
        print(f"    {item['total_us']:7.1f} {item['self_us']:6.1f}  {item['function']}")
    print()
    if setup := profile.get("setup"):
        seconds = {origin: value / 1e6 for origin, value in setup["self_us_by_origin"].items()}
        print(
            f"cProfile of the restart set-up of {setup['devices']:,} devices "
            f"({setup['wall_s_profiled']:.2f} s with the profiler on); self time by origin: "
            + ", ".join(f"{origin} {value:.2f} s" for origin, value in seconds.items())
        )
        print("  top functions by self time, s (self, inclusive, calls):")
        for item in setup["functions"][:25]:
            print(
                f"    {item['self_us'] / 1e6:6.3f} {item['total_us'] / 1e6:7.3f} "
                f"{item['calls']:8.0f}  [{item['origin']}] {item['function']}"
            )
        ours = [item for item in setup["functions"] if item["origin"] == "LoRaWAN Hub"]
        print("  LoRaWAN Hub functions by inclusive time, s (inclusive, self, calls):")
        for item in sorted(ours, key=lambda item: -item["total_us"])[:12]:
            print(
                f"    {item['total_us'] / 1e6:7.3f} {item['self_us'] / 1e6:6.3f} "
                f"{item['calls']:8.0f}  {item['function']}"
            )
        print()


def results_json(results: Results) -> dict[str, Any]:
    """Everything measured, for ``--json``."""
    adapter = adapter_cost(results) if complete(results) else None
    return {
        "machine": results.machine,
        "parameters": results.parameters,
        "throughput_us": {
            name: {
                "median": series.median,
                "runs": series.runs,
                "cpu_median": series.cpu_median,
                "cpu_runs": series.cpu_runs,
            }
            for name, series in results.throughput.items()
        },
        "ratios": (
            {
                "pipeline_over_entity_writes": results.throughput["pipeline"].median
                / results.throughput["entity_writes"].median,
                "mqtt_over_pipeline": results.throughput["mqtt"].median
                / results.throughput["pipeline"].median,
                "framework_over_pipeline": results.throughput["framework"].median
                / results.throughput["pipeline"].median,
                "pipeline_linked_over_entity_writes": results.throughput["pipeline_linked"].median
                / results.throughput["entity_writes"].median,
                "pipeline_linked_over_pipeline": results.throughput["pipeline_linked"].median
                / results.throughput["pipeline"].median,
            }
            if complete(results)
            else {}
        ),
        "framework_connection_us": (
            {
                "median": adapter.median,
                "runs": adapter.runs,
                "cpu_median": adapter.cpu_median,
                "cpu_runs": adapter.cpu_runs,
            }
            if adapter is not None
            else {}
        ),
        "javascript_us": results.javascript,
        "latency": results.latency,
        "setup": results.setup,
        "setup_skipped": results.setup_skipped,
        "catch_up_s": results.catch_up,
        "memory": results.memory,
        "profile": results.profile,
        "table": [
            dict(zip(("measurement", "result", "target", "verdict"), row, strict=True))
            for row in report_rows(results)
        ],
        "checks": results.checks,
        "errors": results.errors,
    }
