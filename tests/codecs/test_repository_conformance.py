"""
Every example of the real LoRaWAN Device Repository, end to end.

The shared snapshot (``lorawan-devices-96abc53.tar.gz``, the repository's ``vendor/`` folder) is
unpacked into a temporary folder and served on 127.0.0.1 as the repository. Each codec is then
reached the way the integration reaches it: the device's file by vendor and model, its codec by
firmware, band and hardware version, the codec's files, the self-test, and finally the codec
thread runs each example. An example passes when the routine's result, as The Things Stack
keeps it (``data``/``warnings``/``errors``; ``bytes``/``fPort`` for the encoder), is the
expected output (numbers within 1e-9). Examples whose expected output is wrong in the repository
itself count as failures here too.

The snapshot is never part of this project (the repository's licence covers single codecs, not
the collection): the test reads it from ``LORAWAN_DEVICES_TARBALL``, else from
``../shared/data`` beside the project, else from ``/work/shared/data``. Without it the test
fails: CI has it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
import os
from pathlib import Path
import sys
import tarfile
import time
from typing import Any, Final

import aiohttp
from aiohttp import web
import pytest

from custom_components.lorawan_hub.codecs.cayenne import decode_cayenne_lpp
from custom_components.lorawan_hub.codecs.decode import AUTO, CAYENNE_LPP, decode
from custom_components.lorawan_hub.codecs.javascript import (
    DOWNLINK_ENCODER,
    ROUTINES,
    CodecError,
    JsCodec,
    JsRunner,
    Routine,
)
from custom_components.lorawan_hub.codecs.repository import (
    async_fetch_codec,
    example_argument,
    load_yaml,
    routine_output,
    same,
    self_test,
)
from custom_components.lorawan_hub.codecs.result import DecodeError
from simulator.server import SimulatorServer

TARBALL: Final = "lorawan-devices-96abc53.tar.gz"
ROOT: Final = Path(__file__).resolve().parents[2]
TARGET: Final = 0.93
EXAMPLES: Final = 2918
KEPT: Final = {
    "uplinkDecoder": ("data", "warnings", "errors"),
    "downlinkEncoder": ("bytes", "fPort", "warnings", "errors"),
    "downlinkDecoder": ("data", "warnings", "errors"),
}
"""What The Things Stack keeps of each routine's result."""


def tarball() -> Path:
    """Return the snapshot's path; fail (not skip) when it is nowhere."""
    candidates = [
        *(
            [Path(os.environ["LORAWAN_DEVICES_TARBALL"])]
            if "LORAWAN_DEVICES_TARBALL" in os.environ
            else []
        ),
        ROOT.parent / "shared" / "data" / TARBALL,
        Path("/work/shared/data") / TARBALL,
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    pytest.fail(
        f"The Device Repository snapshot {TARBALL} is missing: set LORAWAN_DEVICES_TARBALL or "
        f"put it in {ROOT.parent / 'shared' / 'data'} (looked at: "
        + ", ".join(str(candidate) for candidate in candidates)
        + ")"
    )


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The snapshot unpacked: ``<folder>/vendor/...``."""
    folder = tmp_path_factory.mktemp("lorawan-devices")
    with tarfile.open(tarball()) as archive:
        archive.extractall(folder, filter="data")
    return folder


class Files(SimulatorServer):
    """Serves a folder's files at their relative paths."""

    def __init__(self, folder: Path) -> None:
        """Serve ``folder``."""
        app = web.Application()
        app.router.add_get("/{path:.*}", self._serve)
        super().__init__(app)
        self.folder = folder.resolve()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        path = (self.folder / request.match_info["path"]).resolve()
        if not path.is_relative_to(self.folder) or not path.is_file():
            return web.Response(status=404)
        return web.FileResponse(path)


@pytest.fixture
async def served(snapshot: Path) -> AsyncIterator[str]:
    """The snapshot as the repository: its base URL."""
    async with Files(snapshot) as server:
        yield server.base_url


@dataclass(frozen=True, slots=True)
class Device:
    """One way to reach a codec: a device's model, firmware, band and hardware version."""

    model: str
    firmware: str
    band: str
    hardware: str | None


def index(vendor_folder: Path) -> tuple[dict[str, Device], dict[str, Mapping[str, Any]]]:
    """Return the first device (in name order) that names each codec, and the codec files."""
    reached: dict[str, Device] = {}
    codecs: dict[str, Mapping[str, Any]] = {}
    for path in sorted(vendor_folder.glob("*.yaml")):
        try:
            document = load_yaml(path.read_text(encoding="utf-8"), path.name)
        except CodecError:
            continue
        if any(routine in document for routine in ROUTINES):
            codecs[path.stem] = document
        versions = document.get("firmwareVersions")
        for version in versions if isinstance(versions, list) else []:
            if not isinstance(version, Mapping) or not isinstance(version.get("profiles"), Mapping):
                continue
            hardware: list[str | None] = [
                str(item) for item in version.get("hardwareVersions") or []
            ] or [None]
            for band, profile in version["profiles"].items():
                if isinstance(profile, Mapping) and isinstance(profile.get("codec"), str):
                    device = Device(path.stem, str(version.get("version")), str(band), hardware[0])
                    reached.setdefault(profile["codec"], device)
    return reached, codecs


def tts_output(
    routine: Routine, result: Mapping[str, Any], given: Mapping[str, Any]
) -> dict[str, Any]:
    """Return what The Things Stack keeps of a routine's result."""
    shaped = routine_output(routine, result)
    kept = {key: shaped[key] for key in KEPT[routine] if key in shaped}
    if routine == DOWNLINK_ENCODER and kept.get("fPort") is None and "fPort" in given:
        kept["fPort"] = given["fPort"]
    return kept


def matches(routine: Routine, expected: Mapping[str, Any], actual: Mapping[str, Any]) -> str:
    """Return why an example fails ("" when the output is the expected one), strictly."""
    if actual.get("errors") and not expected.get("errors"):
        return "the codec reports errors"
    for key, value in expected.items():
        if key not in KEPT[routine]:
            return f"expects {key!r}, which The Things Stack does not keep"
        empty: object = [] if key in ("warnings", "errors") else None
        if not same(value, actual.get(key, empty), null_is_missing=False):
            return f"other {key}"
    return ""


def run_examples(codec: JsCodec, examples: Mapping[Routine, list[Mapping[str, Any]]]) -> list[str]:
    """Run every example on the codec thread; return why each fails ("" for a pass)."""
    reasons = []
    for routine, listed in examples.items():
        for example in listed:
            given, expected = example.get("input"), example.get("output")
            if not isinstance(given, Mapping) or not isinstance(expected, Mapping):
                reasons.append("malformed example")
                continue
            try:
                result = codec.invoke(routine, example_argument(routine, given))
            except CodecError as err:
                reasons.append(f"the codec throws: {str(err)[:60]}")
                continue
            reasons.append(matches(routine, expected, tts_output(routine, result, given)))
    return reasons


def count(document: Mapping[str, Any]) -> int:
    """Return how many examples a codec file has."""
    return sum(
        len(section.get("examples") or [])
        for routine in ROUTINES
        if isinstance(section := document.get(routine), Mapping)
    )


async def test_device_repository_end_to_end(
    snapshot: Path, served: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """At least 93 % of the repository's examples decode correctly through the integration."""
    started = time.monotonic()
    passed = 0
    total = 0
    failures: dict[str, list[str]] = defaultdict(list)
    async with aiohttp.ClientSession() as session, JsRunner() as runner:
        for vendor_folder in sorted(
            path for path in (snapshot / "vendor").iterdir() if path.is_dir()
        ):
            vendor = vendor_folder.name
            reached, codecs = await asyncio.get_running_loop().run_in_executor(
                None, index, vendor_folder
            )
            for identifier, document in codecs.items():
                examples = count(document)
                if not examples:
                    continue
                total += examples
                where = f"{vendor}/{identifier}"

                def fail(cause: str, number: int = examples, where: str = where) -> None:
                    failures[cause].extend([where] * number)

                device = reached.get(identifier)
                if device is None:
                    fail("no device names the codec")
                    continue
                try:
                    fetched = await async_fetch_codec(
                        session,
                        served,
                        vendor,
                        device.model,
                        device.firmware,
                        band=device.band,
                        hardware=device.hardware,
                    )
                except CodecError as err:
                    fail(f"not fetched: {str(err)[:60]}")
                    continue
                if fetched.codec_id != identifier:
                    fail("the device leads to another codec")
                    continue
                codec = JsCodec(fetched.sources)
                try:
                    await runner.run(self_test, codec, fetched.examples)
                except CodecError as err:
                    fail(f"self-test refuses the codec: {str(err)[:50]}")
                    continue
                reasons = await runner.run(run_examples, codec, fetched.examples)
                for reason in reasons:
                    if reason:
                        fail(reason, 1)
                    else:
                        passed += 1
    elapsed = time.monotonic() - started
    rate = passed / total
    lines = [
        (
            f"Device Repository end to end: {passed} of {total} examples = {rate:.1%}"
            f" in {elapsed:.1f} s"
        ),
        f"Failures by cause ({total - passed}):",
    ]
    for cause, places in sorted(failures.items(), key=lambda item: -len(item[1])):
        named = sorted(set(places))
        more = ", ..." if len(named) > 4 else ""
        lines.append(f"  {len(places):4}  {cause}  [{', '.join(named[:4])}{more}]")
    with capsys.disabled():
        sys.stdout.write("\n" + "\n".join(lines) + "\n")
    assert total == EXAMPLES
    assert rate >= TARGET


def uplink_payloads(vendor: Path) -> set[tuple[int | None, bytes]]:
    """Return the distinct (fPort, payload) of a vendor's uplink examples."""
    found: set[tuple[int | None, bytes]] = set()
    for path in vendor.glob("*.yaml"):
        try:
            document = load_yaml(path.read_text(encoding="utf-8"), path.name)
        except CodecError:
            continue
        section = document.get("uplinkDecoder")
        for example in section.get("examples") or [] if isinstance(section, Mapping) else []:
            given = example.get("input") if isinstance(example, Mapping) else None
            payload = given.get("bytes") if isinstance(given, Mapping) else None
            if isinstance(payload, list) and all(
                isinstance(byte, int) and 0 <= byte <= 255 for byte in payload
            ):
                found.add((given.get("fPort"), bytes(payload)))  # type: ignore[union-attr]
    return found


def test_auto_cayenne_false_positives(snapshot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """
    Auto takes at most 0.5 % of the repository's uplink payloads for Cayenne LPP.

    None of the repository's codecs is Cayenne LPP, so every payload auto decodes as Cayenne
    would be entities made from nothing (or, for Tektelic's LPP-like frames, from luck).
    """
    payloads: set[tuple[int | None, bytes]] = set()
    for vendor in sorted(path for path in (snapshot / "vendor").iterdir() if path.is_dir()):
        payloads |= uplink_payloads(vendor)
    parsed = []
    for _port, payload in payloads:
        try:
            decode_cayenne_lpp(payload)
        except DecodeError:
            continue
        parsed.append(payload)
    taken = sorted(
        (port, payload.hex())
        for port, payload in payloads
        if decode(payload, None, AUTO, port).codec == CAYENNE_LPP
    )
    with capsys.disabled():
        sys.stdout.write(
            f"\nAuto Cayenne LPP on {len(payloads)} distinct uplink payloads: "
            f"{len(parsed)} parse ({len(parsed) / len(payloads):.2%}), "
            f"{len(taken)} taken ({len(taken) / len(payloads):.2%}): {taken}\n"
        )
    assert len(parsed) / len(payloads) > 0.03
    assert len(taken) / len(payloads) <= 0.005
