"""
Cost of a Device Repository codec call: LoRaWAN Hub's QuickJS beside node running the same.

Every example of the Device Repository snapshot (``lorawan-devices-96abc53.tar.gz``: the
``LORAWAN_DEVICES_TARBALL`` variable, else ``../shared/data`` beside the project) is run
``--rounds`` times on the codec thread, as the integration calls a codec (``JsCodec.invoke``:
JSON in, a fresh run of the codec's function in its routine's context, JSON out, the time-limit
watchdog around it). ``repository_codecs.js`` beside this file runs the very same scripts in
node, one context per routine and a fresh run per call, and also The Things Stack's way, a new
context per call. The first round (compilation, JIT warm-up) is left out of the means.

    python -m scripts.benchmark.repository_codecs [--rounds 5] [--json PATH]

(from the repository's folder); ``scripts/bench`` measures the same as one row of its table.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
import contextlib
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from typing import Any, Final

from custom_components.lorawan_hub.codecs.javascript import (
    ROUTINES,
    CodecError,
    JsCodec,
    JsRunner,
    Routine,
    declared_globals,
    factory,
    runtime_scripts,
)
from custom_components.lorawan_hub.codecs.repository import (
    example_argument,
    load_yaml,
)

ROOT: Final = Path(__file__).resolve().parents[2]
TARBALL: Final = "lorawan-devices-96abc53.tar.gz"
HARNESS: Final = Path(__file__).with_name("repository_codecs.js")
TARGET: Final = 1.5
"""QuickJS's mean call at most 1.5 times node's (the same scripts, the same isolation)."""


def tarball() -> Path | None:
    """Return the snapshot's path, None when it is nowhere."""
    candidates = [ROOT.parent / "shared" / "data" / TARBALL, Path("/work/shared/data") / TARBALL]
    if "LORAWAN_DEVICES_TARBALL" in os.environ:
        candidates.insert(0, Path(os.environ["LORAWAN_DEVICES_TARBALL"]))
    return next((path for path in candidates if path.is_file()), None)


def load_cases(folder: Path) -> dict[str, Any]:
    """Return every example with its routine's source: {sources, examples}."""
    sources: dict[str, str] = {}
    examples: list[dict[str, Any]] = []
    for path in sorted((folder / "vendor").glob("*/*.yaml")):
        try:
            document = load_yaml(path.read_text(encoding="utf-8"), path.name)
        except CodecError:
            continue
        for routine in ROUTINES:
            section = document.get(routine)
            if not isinstance(section, Mapping) or not section.get("examples"):
                continue
            file = path.parent / str(section.get("fileName"))
            if not file.is_file():
                continue
            key = str(file.relative_to(folder))
            sources[key] = file.read_text(encoding="utf-8")
            for example in section["examples"]:
                given = example.get("input") if isinstance(example, Mapping) else None
                if isinstance(given, Mapping):
                    argument = example_argument(routine, given)
                    examples.append({"source": key, "routine": routine, "input": argument})
    return {"sources": sources, "examples": examples}


def quickjs_mean(cases: Mapping[str, Any], rounds: int) -> dict[str, Any]:
    """Run the examples on the codec thread; the mean µs per call after the first round."""

    def run() -> dict[str, Any]:
        codecs: dict[str, JsCodec] = {}
        total = 0.0
        calls = 0
        for round_ in range(rounds):
            for example in cases["examples"]:
                key = example["source"]
                codec = codecs.setdefault(key, JsCodec(cases["sources"][key]))
                routine: Routine = example["routine"]
                started = time.perf_counter()
                with contextlib.suppress(CodecError):
                    codec.invoke(routine, example["input"])
                if round_ > 0:
                    total += time.perf_counter() - started
                    calls += 1
        return {"mean_us": total / calls * 1e6, "calls": calls}

    async def on_codec_thread() -> dict[str, Any]:
        async with JsRunner() as runner:
            return await runner.run(run)

    return asyncio.run(on_codec_thread())


def node_means(cases: Mapping[str, Any], rounds: int) -> dict[str, Any]:
    """Run the same examples in node (see ``repository_codecs.js``)."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed")
    routines: dict[str, dict[str, str]] = {}
    for example in cases["examples"]:
        key = f"{example['routine']} {example['source']}"
        if key not in routines:
            source = cases["sources"][example["source"]]
            runtime, entry = runtime_scripts(example["routine"])
            routines[key] = {
                "runtime": runtime,
                "factory": factory(source, example["routine"], declared_globals(source)),
                "entry": entry,
            }
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as file:
        json.dump({**cases, "routines": routines}, file)
        file.flush()
        finished = subprocess.run(
            [node, str(HARNESS), file.name, str(rounds)],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
    result: dict[str, Any] = json.loads(finished.stdout)
    return result


def measure(rounds: int = 5) -> dict[str, Any]:
    """Return QuickJS's and node's mean µs per codec call over the snapshot's examples."""
    path = tarball()
    if path is None:
        raise RuntimeError(f"the Device Repository snapshot {TARBALL} is missing")
    with tempfile.TemporaryDirectory(prefix="lorawan-devices-") as folder:
        with tarfile.open(path) as archive:
            archive.extractall(folder, filter="data")
        cases = load_cases(Path(folder))
    quickjs = quickjs_mean(cases, rounds)
    node = node_means(cases, rounds)
    return {
        "examples": len(cases["examples"]),
        "rounds": rounds,
        "quickjs_us": quickjs["mean_us"],
        "node_us": node["same"]["mean_us"],
        "node_fresh_context_us": node["fresh_context"]["mean_us"],
        "node_version": node["node"],
        "ratio": quickjs["mean_us"] / node["same"]["mean_us"],
        "target": TARGET,
    }


def main() -> int:
    """Measure and print (and write ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="rounds over all examples (5)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    args = parser.parse_args()
    result = measure(max(args.rounds, 2))
    sys.stdout.write(
        f"Device Repository codec call ({result['examples']} examples x {result['rounds'] - 1}):"
        f" QuickJS {result['quickjs_us']:.1f} µs, node {result['node_us']:.1f} µs"
        f" = {result['ratio']:.2f}x (target ≤ {TARGET:g}x); node with a new context per call"
        f" (The Things Stack's way) {result['node_fresh_context_us']:.1f} µs\n"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
