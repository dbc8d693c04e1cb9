"""
Codecs from the LoRaWAN Device Repository, fetched for one device (vendor, model, firmware).

The device's file names its codec per firmware version and region; the codec's file names its
JavaScript files and carries examples (input bytes and port, expected output), run as a
self-test before the codec is used. Only that device's codec is fetched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import math
import re
from typing import Any, Final

import aiohttp

from homeassistant.exceptions import HomeAssistantError
from homeassistant.util.yaml import parse_yaml

from custom_components.lorawan_hub.lns.base import read_limited

from .javascript import MAX_SOURCE, CodecError, JsCodec

DEFAULT_REPOSITORY: Final = (
    "https://raw.githubusercontent.com/TheThingsNetwork/lorawan-devices/master"
)
MAX_FILE: Final = MAX_SOURCE
REQUEST_TIMEOUT: Final = 30.0
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}", re.IGNORECASE)


def _name(value: object, what: str) -> str:
    """Return a file or id name from the repository; nothing that leaves its folder."""
    if not isinstance(value, str) or _NAME.fullmatch(value) is None or ".." in value:
        raise CodecError(f"the repository gives no usable {what}")
    return value


async def _fetch(session: aiohttp.ClientSession, url: str) -> str:
    try:
        async with session.get(
            url, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT), allow_redirects=False
        ) as response:
            if response.status == 404:
                raise CodecError(f"the repository has no {url.rsplit('/', 1)[-1]}")
            if response.status != 200:
                raise CodecError(f"the repository answered HTTP {response.status}")
            body = await read_limited(response.content, MAX_FILE)
    except (aiohttp.ClientError, TimeoutError) as err:
        raise CodecError(f"the repository cannot be reached: {type(err).__name__}") from None
    if body is None:
        raise CodecError(f"{url.rsplit('/', 1)[-1]} is too large")
    return body.decode("utf-8", errors="replace")


def _yaml(text: str, what: str) -> Mapping[str, Any]:
    try:
        document = parse_yaml(text)
    except HomeAssistantError:
        raise CodecError(f"{what} is not valid YAML") from None
    if not isinstance(document, Mapping):
        raise CodecError(f"{what} is not a YAML mapping")
    return document


def codec_id(device: Mapping[str, Any], firmware: str) -> str:
    """Return the codec a device's file names for ``firmware`` (any region; they agree)."""
    versions = device.get("firmwareVersions")
    for version in versions if isinstance(versions, list) else []:
        if not isinstance(version, Mapping) or str(version.get("version")) != firmware:
            continue
        profiles = version.get("profiles")
        for profile in profiles.values() if isinstance(profiles, Mapping) else []:
            if isinstance(profile, Mapping) and profile.get("codec"):
                return _name(profile["codec"], "codec")
        raise CodecError(f"firmware {firmware} has no codec in the repository")
    raise CodecError(f"the repository lists no firmware {firmware} for this device")


async def async_fetch_codec(
    session: aiohttp.ClientSession, base_url: str, vendor: str, model: str, firmware: str
) -> tuple[str, list[Mapping[str, Any]]]:
    """Return the device's codec source and its uplink examples."""
    folder = f"{base_url.rstrip('/')}/vendor/{_name(vendor, 'vendor')}"
    # YAML of up to a megabyte is parsed in the executor.
    loop = asyncio.get_running_loop()
    text = await _fetch(session, f"{folder}/{_name(model, 'model')}.yaml")
    device = await loop.run_in_executor(None, _yaml, text, model)
    text = await _fetch(session, f"{folder}/{codec_id(device, firmware)}.yaml")
    codec = await loop.run_in_executor(None, _yaml, text, "the codec")
    files: list[str] = []
    examples: list[Mapping[str, Any]] = []
    for part in ("uplinkDecoder", "downlinkEncoder", "downlinkDecoder"):
        section = codec.get(part)
        if not isinstance(section, Mapping):
            continue
        name = _name(section.get("fileName"), f"{part} file")
        if name not in files:
            files.append(name)
        if part == "uplinkDecoder" and isinstance(section.get("examples"), list):
            examples = [item for item in section["examples"] if isinstance(item, Mapping)]
    if not files:
        raise CodecError("the repository's codec has no uplink decoder")
    sources = [await _fetch(session, f"{folder}/{name}") for name in files]
    source = "\n".join(sources)
    if len(source) > MAX_SOURCE:
        raise CodecError("the codec is too large")
    return source, examples


def _same(expected: object, actual: object) -> bool:
    """Compare an example's expected output with the codec's (numbers within rounding)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return expected.keys() == actual.keys() and all(
            _same(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            _same(a, b) for a, b in zip(expected, actual, strict=True)
        )
    return expected == actual


def self_test(codec: JsCodec, examples: list[Mapping[str, Any]]) -> int:
    """
    Run the uplink examples on the codec thread; return how many passed.

    Raises CodecError naming the first example the codec does not reproduce.
    """
    passed = 0
    for index, example in enumerate(examples, 1):
        given = example.get("input")
        expected = example.get("output")
        if not isinstance(given, Mapping) or not isinstance(expected, Mapping):
            continue
        label = str(example.get("description") or f"example {index}")
        argument = {"bytes": given.get("bytes", []), "fPort": given.get("fPort")}
        errors = expected.get("errors")
        try:
            result = codec.call("decodeUplink", argument)
        except CodecError as err:
            if errors and all(str(error) in str(err) for error in errors):
                passed += 1
                continue
            raise CodecError(f"the codec fails its example {label!r}: {err}") from None
        if errors or not _same(expected.get("data"), result.get("data")):
            raise CodecError(f"the codec does not reproduce its example {label!r}")
        passed += 1
    return passed
