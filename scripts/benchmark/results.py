"""What a run gathers: targets, per-batch series, the results, the machine measured on."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
import importlib.metadata
import os
from pathlib import Path
import platform
import statistics
import sys
import sysconfig
import time
from typing import Any

from homeassistant.const import __version__ as ha_version
from homeassistant.util.ulid import ulid_now

# --- targets (DESIGN.md, "Quality bar" → Performance) ---------------------------------------------

PIPELINE_RATIO_TARGET = 1.5
"""Pipeline ÷ entity writes, at most."""
PIPELINE_RATIO_STRETCH = 1.2
"""Pipeline ÷ entity writes, the stretch target."""
MQTT_RATIO_TARGET = 3.0
"""MQTT + templates ÷ pipeline, at least."""
MQTT_RATIO_STRETCH = 4.0
LATENCY_P99_TARGET_MS = 5.0
SETUP_TARGET_S = 10.0
SETUP_TARGET_DEVICES = 10_000
CATCH_UP_TARGET_S = 2.0
CATCH_UP_UPLINKS = 1_000
MEMORY_TARGET_KB = 10.0

JS_RATIO_TARGET = 2.0
"""Pipeline with a JavaScript codec ÷ entity writes, at most."""

# --- results --------------------------------------------------------------------------------------


class BenchError(Exception):
    """A measurement could not be made or its result is wrong."""


@dataclass(slots=True)
class Series:
    """The per-batch results of one throughput measurement, in µs per item."""

    runs: list[float] = field(default_factory=list)
    """Wall-clock time."""
    cpu_runs: list[float] = field(default_factory=list)
    """CPU time of the event loop's thread: what is left when the machine is shared."""

    @property
    def median(self) -> float:
        """Median over the batches."""
        return statistics.median(self.runs)

    @property
    def cpu_median(self) -> float:
        """Median over the batches of the CPU time."""
        return statistics.median(self.cpu_runs)

    def span(self) -> str:
        """Return the lowest and highest batch."""
        return f"{min(self.runs):.1f}-{max(self.runs):.1f}"


@dataclass(slots=True)
class Results:
    """Everything measured, for the table and ``--json``."""

    machine: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    throughput: dict[str, Series] = field(default_factory=dict)
    latency: dict[str, float] = field(default_factory=dict)
    setup: list[dict[str, Any]] = field(default_factory=list)
    setup_skipped: str | None = None
    catch_up: list[float] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] | None = None
    javascript: dict[str, Any] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def progress(message: str) -> None:
    """Say what runs now (stderr, so that stdout holds only the report)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def machine_info() -> dict[str, Any]:
    """Describe the machine and the software measured."""
    cpu = platform.processor() or platform.machine()
    memory = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    gil = "free-threaded" if sysconfig.get_config_var("Py_GIL_DISABLED") else "with GIL"
    virtual = ""
    with contextlib.suppress(OSError):
        if "hypervisor" in Path("/proc/cpuinfo").read_text():
            virtual = " (virtual machine)"
    return {
        "cpu": f"{cpu}{virtual}",
        "cpus": os.cpu_count(),
        "memory": memory,
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()} ({gil})",
        "home_assistant": ha_version,
        "phcc": importlib.metadata.version("pytest-homeassistant-custom-component"),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "ulid": ulid_cost(),
    }


def ulid_cost() -> str:
    """Say which ULID implementation Home Assistant uses here: every state write makes one."""
    start = time.perf_counter_ns()
    for _ in range(20_000):
        ulid_now()
    each = (time.perf_counter_ns() - start) / 20_000 / 1000
    compiled = "_py_" not in ulid_now.__module__
    kind = "C extension" if compiled else "pure-Python fallback"
    return f"ulid_transform {kind}, {each:.2f} µs per ULID"
