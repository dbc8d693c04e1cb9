"""
Codecs from the LoRaWAN Device Repository, fetched for one device.

The device's file names a codec per firmware version, hardware version and band (its profiles);
the codec's file names a JavaScript file per routine (uplink decoder, downlink encoder, downlink
decoder; file names may sit in subfolders such as ``payload/r718pe.js``) and carries examples
(input and expected output), run as a self-test before the codec is used. Only that device's
files are fetched. The repository is YAML 1.2 (``yaml12``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
import math
import re
from typing import Any, Final

import aiohttp
import yaml

from ..lns.http import read_limited
from . import yaml12
from .javascript import (
    DOWNLINK_DECODER,
    DOWNLINK_ENCODER,
    MAX_SOURCE,
    ROUTINES,
    UPLINK_DECODER,
    CodecError,
    JsCodec,
    Routine,
)

DEFAULT_REPOSITORY: Final = (
    "https://raw.githubusercontent.com/TheThingsNetwork/lorawan-devices/master"
)
MAX_FILE: Final = MAX_SOURCE
REQUEST_TIMEOUT: Final = 30.0
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}", re.IGNORECASE)
_MAX_DEPTH: Final = 4


class RepositoryUnreachable(CodecError):
    """The repository cannot be reached, or answered with an error status other than 404."""


class NotInRepository(CodecError):
    """The repository has no such file (it answered 404)."""


def usable_name(value: object) -> bool:
    """Tell whether a repository id or file name stays in its folder (and fits the pattern)."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None and ".." not in value


def _name(value: object, what: str) -> str:
    """Return a file or id name from the repository; nothing that leaves its folder."""
    if not usable_name(value):
        raise CodecError(f"the repository gives no usable {what}")
    return str(value)


def _path(value: object, what: str) -> str:
    """Return a file path under the vendor's folder: each segment a name, never ``..``."""
    if not isinstance(value, str):
        raise CodecError(f"the repository gives no usable {what}")
    segments = value.split("/")
    if len(segments) > _MAX_DEPTH:
        raise CodecError(f"the repository gives no usable {what}")
    return "/".join(_name(segment, what) for segment in segments)


async def _fetch(session: aiohttp.ClientSession, url: str) -> str:
    try:
        async with session.get(
            url, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT), allow_redirects=False
        ) as response:
            if response.status == 404:
                raise NotInRepository(f"the repository has no {url.rsplit('/', 1)[-1]}")
            if response.status != 200:
                raise RepositoryUnreachable(f"the repository answered HTTP {response.status}")
            body = await read_limited(response.content, MAX_FILE)
    except (aiohttp.ClientError, TimeoutError) as err:
        raise RepositoryUnreachable(
            f"the repository cannot be reached: {type(err).__name__}"
        ) from None
    if body is None:
        raise CodecError(f"{url.rsplit('/', 1)[-1]} is too large")
    return body.decode("utf-8", errors="replace")


async def fetch(session: aiohttp.ClientSession, url: str) -> str:
    """Fetch one file of the repository (size-capped, no redirects); CodecError when it fails."""
    return await _fetch(session, url)


def load_yaml(text: str, what: str) -> Mapping[str, Any]:
    """Parse a repository file (YAML 1.2: ``on`` is a string, ``1:20`` too)."""
    try:
        document = yaml12.load(text)
    except yaml.YAMLError:
        raise CodecError(f"{what} is not valid YAML") from None
    if not isinstance(document, Mapping):
        raise CodecError(f"{what} is not a YAML mapping")
    return document


def _listed(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def codec_id(
    device: Mapping[str, Any],
    firmware: str,
    band: str | None = None,
    hardware: str | None = None,
) -> str:
    """
    Return the codec a device's file names for a firmware, band and hardware version.

    Several entries may list one firmware version for different hardware versions (Milesight
    EM300-ZLD), and profiles of different bands may name different codecs (Tektelic KR920).
    Without a band or hardware version, the choice must not depend on them: when it does, the
    error says which to give.
    """
    versions = device.get("firmwareVersions")
    entries = [
        version
        for version in (versions if isinstance(versions, list) else [])
        if isinstance(version, Mapping) and str(version.get("version")) == firmware
    ]
    if not entries:
        raise CodecError(f"the repository lists no firmware {firmware} for this device")
    if hardware is not None:
        entries = [
            entry
            for entry in entries
            if not entry.get("hardwareVersions") or hardware in _listed(entry["hardwareVersions"])
        ]
        if not entries:
            raise CodecError(f"firmware {firmware} is not listed for hardware version {hardware}")
    codecs: dict[str, list[str]] = {}
    for entry in entries:
        profiles = entry.get("profiles")
        for region, profile in profiles.items() if isinstance(profiles, Mapping) else []:
            if band is not None and str(region).lower() != band.lower():
                continue
            if isinstance(profile, Mapping) and profile.get("codec"):
                codecs.setdefault(_name(profile["codec"], "codec"), []).append(str(region))
    if not codecs:
        where = f" in band {band}" if band is not None else ""
        raise CodecError(f"firmware {firmware} has no codec in the repository{where}")
    if len(codecs) > 1:
        if band is None:
            bands = sorted({region for regions in codecs.values() for region in regions})
            raise CodecError(
                f"firmware {firmware} has a different codec per band: give the band "
                f"({', '.join(bands)})"
            )
        raise CodecError(
            f"firmware {firmware} has a different codec per hardware version: give the "
            "hardware version"
        )
    return next(iter(codecs))


@dataclass(slots=True)
class RepositoryCodec:
    """A device's codec from the repository: its routines' sources and examples."""

    codec_id: str
    sources: dict[Routine, str]
    examples: dict[Routine, list[Mapping[str, Any]]] = field(default_factory=dict)


async def async_fetch_codec(
    session: aiohttp.ClientSession,
    base_url: str,
    vendor: str,
    model: str,
    firmware: str,
    *,
    band: str | None = None,
    hardware: str | None = None,
) -> RepositoryCodec:
    """Fetch the device's codec: each routine's own file (each file once) and its examples."""
    folder = f"{base_url.rstrip('/')}/vendor/{_name(vendor, 'vendor')}"
    # YAML of up to a megabyte is parsed in the executor.
    loop = asyncio.get_running_loop()
    text = await _fetch(session, f"{folder}/{_name(model, 'model')}.yaml")
    device = await loop.run_in_executor(None, load_yaml, text, model)
    identifier = codec_id(device, firmware, band, hardware)
    text = await _fetch(session, f"{folder}/{identifier}.yaml")
    codec = await loop.run_in_executor(None, load_yaml, text, "the codec")
    files: dict[Routine, str] = {}
    examples: dict[Routine, list[Mapping[str, Any]]] = {}
    for routine in ROUTINES:
        section = codec.get(routine)
        if not isinstance(section, Mapping):
            continue
        files[routine] = _path(section.get("fileName"), f"{routine} file")
        if isinstance(section.get("examples"), list):
            examples[routine] = [item for item in section["examples"] if isinstance(item, Mapping)]
    if UPLINK_DECODER not in files:
        raise CodecError("the repository's codec has no uplink decoder")
    texts: dict[str, str] = {}
    for name in dict.fromkeys(files.values()):
        texts[name] = await _fetch(session, f"{folder}/{name}")
    if sum(len(text) for text in texts.values()) > MAX_SOURCE:
        raise CodecError("the codec is too large")
    return RepositoryCodec(
        identifier, {routine: texts[name] for routine, name in files.items()}, examples
    )


def same(expected: object, actual: object, *, null_is_missing: bool = True) -> bool:
    """
    Compare an example's expected output with the codec's (numbers within rounding).

    An expected ``null`` matches a missing key by default: the codec's ``undefined`` is
    dropped on the way through JSON.
    """
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        keys = set(expected) | set(actual)
        return all(
            (null_is_missing and key not in actual and expected[key] is None)
            or (
                key in expected
                and key in actual
                and same(expected[key], actual[key], null_is_missing=null_is_missing)
            )
            for key in keys
        )
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            same(a, b, null_is_missing=null_is_missing)
            for a, b in zip(expected, actual, strict=True)
        )
    return expected == actual


def example_argument(routine: Routine, given: Mapping[str, Any]) -> dict[str, Any]:
    """Return what The Things Stack gives the routine for an example's input (nothing else)."""
    if routine == DOWNLINK_ENCODER:
        argument = {"data": given.get("data")}
        if given.get("fPort") is not None:
            argument["fPort"] = given["fPort"]
        return argument
    return {"bytes": given.get("bytes", []), "fPort": given.get("fPort")}


def routine_output(routine: Routine, result: Mapping[str, Any]) -> dict[str, Any]:
    """Return a routine's result in the shape of the repository's expected outputs."""
    if routine == UPLINK_DECODER:
        decoded = result.get("decoded")
        return dict(decoded) if isinstance(decoded, Mapping) else {}
    return dict(result)


@dataclass(slots=True)
class ExampleOutcome:
    """How the codec did on one example."""

    routine: Routine
    label: str
    passed: bool
    reason: str = ""


@dataclass(slots=True)
class SelfTest:
    """The outcome of each repository example."""

    outcomes: list[ExampleOutcome] = field(default_factory=list)

    @property
    def passed(self) -> int:
        """Return how many examples passed."""
        return sum(outcome.passed for outcome in self.outcomes)

    @property
    def failed(self) -> list[ExampleOutcome]:
        """Return the examples that failed."""
        return [outcome for outcome in self.outcomes if not outcome.passed]


def _check(routine: Routine, codec: JsCodec, example: Mapping[str, Any]) -> str:
    """Run one example; return why it fails ("" when it passes)."""
    given, expected = example["input"], example["output"]
    errors = _listed(expected.get("errors"))
    try:
        actual = routine_output(routine, codec.invoke(routine, example_argument(routine, given)))
    except CodecError as err:
        if errors and all(error in str(err) for error in errors):
            return ""
        return str(err)
    reported = _listed(actual.get("errors"))
    if errors:
        joined = "; ".join(reported)
        return "" if reported and all(error in joined for error in errors) else "no such errors"
    if reported:
        return "; ".join(reported)
    if routine == DOWNLINK_ENCODER:
        port = actual.get("fPort", given.get("fPort"))
        if not same(expected.get("bytes"), actual.get("bytes")) or (
            "fPort" in expected and not same(expected["fPort"], port)
        ):
            return "other bytes"
        return ""
    return "" if same(expected.get("data"), actual.get("data")) else "other data"


def self_test(codec: JsCodec, examples: Mapping[Routine, list[Mapping[str, Any]]]) -> SelfTest:
    """
    Run the repository's examples on the codec thread and report each one.

    One wrong example of the repository's own does not throw a good codec away: CodecError only
    when the uplink decoder fails every one of its examples (or does not load at all).
    """
    report = SelfTest()
    for routine in (UPLINK_DECODER, DOWNLINK_ENCODER, DOWNLINK_DECODER):
        for index, example in enumerate(examples.get(routine, []), 1):
            if not isinstance(example.get("input"), Mapping) or not isinstance(
                example.get("output"), Mapping
            ):
                continue
            label = str(example.get("description") or f"example {index}")
            reason = _check(routine, codec, example)
            report.outcomes.append(ExampleOutcome(routine, label, not reason, reason))
    uplinks = [outcome for outcome in report.outcomes if outcome.routine == UPLINK_DECODER]
    if uplinks and not any(outcome.passed for outcome in uplinks):
        first = uplinks[0]
        raise CodecError(f"the codec fails its example {first.label!r}: {first.reason}")
    if not codec.defines("decodeUplink"):
        raise CodecError("the codec defines no decodeUplink function")
    return report
