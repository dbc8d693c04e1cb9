"""Codecs fetched from a LoRaWAN Device Repository (a local copy served for the tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web
import pytest

from custom_components.lorawan_hub.codecs.javascript import CodecError, JsCodec, JsRunner
from custom_components.lorawan_hub.codecs.repository import (
    async_fetch_codec,
    codec_id,
    load_yaml,
    self_test,
)
from simulator.server import SimulatorServer

CODECS = Path(__file__).parent / "js"
WHEN = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)

DEVICE = """
name: Climate sensor
firmwareVersions:
  - version: '1.0'
    numeric: 1
    profiles:
      EU863-870:
        id: eu868-profile
        lorawanCertified: true
        codec: climate-codec
  - version: '2.0'
    profiles:
      EU863-870:
        id: eu868-profile
  - version: '3.0'
    profiles:
      EU863-870:
        id: eu868-profile
        codec: ../../secrets
"""
CODEC = """
uplinkDecoder:
  fileName: climate.js
  examples:
    - description: Open door
      input:
        fPort: 2
        bytes: [0x08, 0x66, 0x6E, 0x0C, 0xE4, 0x01]
      output:
        data: {temperature: 21.5, humidity: 55, battery: 3.3, door: {open: true}}
        warnings: []
    - description: Wrong port
      input:
        fPort: 9
        bytes: [0x00]
      output:
        errors:
          - unknown port 9
    - not an example
"""


class Repository(SimulatorServer):
    """Serves files at repository paths; anything else is 404."""

    def __init__(self) -> None:
        """Start with the climate sensor of vendor acme."""
        app = web.Application()
        app.router.add_get("/{path:.*}", self._serve)
        super().__init__(app)
        self.files = {
            "vendor/index.yaml": "vendors:\n  - id: acme\n    name: Acme\n",
            "vendor/acme/index.yaml": "endDevices: [climate-sensor]\n",
            "vendor/acme/climate-sensor.yaml": DEVICE,
            "vendor/acme/climate-codec.yaml": CODEC,
            "vendor/acme/climate.js": (CODECS / "climate.js").read_text(encoding="utf-8"),
        }
        self.requested: list[str] = []
        self.statuses: dict[str, int] = {}
        """Paths answered with an error status."""

    async def _serve(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.requested.append(path)
        if path in self.statuses:
            return web.Response(status=self.statuses[path])
        if path not in self.files:
            return web.Response(status=404)
        return web.Response(text=self.files[path])


@pytest.fixture
async def repository() -> AsyncIterator[Repository]:
    """A running repository."""
    async with Repository() as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def test_fetch_and_self_test(session: aiohttp.ClientSession, repository: Repository) -> None:
    """Only the device's files are fetched; its examples pass, a codec failing all fails."""
    fetched = await async_fetch_codec(session, repository.base_url, "acme", "climate-sensor", "1.0")
    source = fetched.sources["uplinkDecoder"]
    examples = fetched.examples["uplinkDecoder"]
    assert "function decodeUplink" in source
    assert repository.requested == [
        "vendor/acme/climate-sensor.yaml",
        "vendor/acme/climate-codec.yaml",
        "vendor/acme/climate.js",
    ]
    async with JsRunner() as runner:
        assert (await runner.run(self_test, JsCodec(source), fetched.examples)).passed == 2
        wrong = {"uplinkDecoder": [{**examples[0], "output": {"data": {"temperature": 22}}}]}
        with pytest.raises(CodecError, match="fails its example 'Open door': other data"):
            await runner.run(self_test, JsCodec(source), wrong)
        failing = {"uplinkDecoder": [{**examples[1], "output": {"errors": ["another error"]}}]}
        with pytest.raises(CodecError, match="fails its example 'Wrong port'"):
            await runner.run(self_test, JsCodec(source), failing)
        expected_error = {"uplinkDecoder": [{**examples[0], "output": {"errors": ["x"]}}]}
        with pytest.raises(CodecError, match="no such errors"):
            await runner.run(self_test, JsCodec(source), expected_error)


@pytest.mark.parametrize(
    ("vendor", "model", "firmware", "reason"),
    [
        ("acme", "climate-sensor", "9.9", "no firmware 9.9"),
        ("acme", "climate-sensor", "2.0", "firmware 2.0 has no codec"),
        ("acme", "climate-sensor", "3.0", "no usable codec"),
        ("acme", "pump", "1.0", "has no pump.yaml"),
        ("../acme", "climate-sensor", "1.0", "no usable vendor"),
    ],
)
async def test_what_cannot_be_fetched(
    session: aiohttp.ClientSession,
    repository: Repository,
    vendor: str,
    model: str,
    firmware: str,
    reason: str,
) -> None:
    """Unknown devices and firmwares, and names that would leave the folder, are refused."""
    with pytest.raises(CodecError, match=reason):
        await async_fetch_codec(session, repository.base_url, vendor, model, firmware)


@pytest.mark.parametrize(
    ("codec", "reason"),
    [
        ("uplinkDecoder: [", "not valid YAML"),
        ("- a list", "not a YAML mapping"),
        ("downlinkEncoder: 5", "no uplink decoder"),
        ("uplinkDecoder: {fileName: missing.js}", "has no missing.js"),
        ("uplinkDecoder: {fileName: ../climate.js}", "no usable uplinkDecoder file"),
        ("uplinkDecoder: {fileName: payload/../../x.js}", "no usable uplinkDecoder file"),
        ("uplinkDecoder: {fileName: /etc/passwd}", "no usable uplinkDecoder file"),
        ("uplinkDecoder: {fileName: payload//x.js}", "no usable uplinkDecoder file"),
        ("uplinkDecoder: {fileName: a/b/c/d/e.js}", "no usable uplinkDecoder file"),
        ("uplinkDecoder: {fileName: 5}", "no usable uplinkDecoder file"),
    ],
)
async def test_broken_codec_files(
    session: aiohttp.ClientSession, repository: Repository, codec: str, reason: str
) -> None:
    """A codec file that is not what the repository's format says is refused."""
    repository.files["vendor/acme/climate-codec.yaml"] = codec
    with pytest.raises(CodecError, match=reason):
        await async_fetch_codec(session, repository.base_url, "acme", "climate-sensor", "1.0")


async def test_repository_failures(session: aiohttp.ClientSession) -> None:
    """A server error, an oversized file, an unreachable repository, an odd device file."""
    async with Repository() as server:
        server.statuses["vendor/acme/climate-codec.yaml"] = 500
        with pytest.raises(CodecError, match="HTTP 500"):
            await async_fetch_codec(session, server.base_url, "acme", "climate-sensor", "1.0")
        server.statuses.clear()
        server.files["vendor/acme/climate.js"] = "x" * (1024 * 1024 + 1)
        with pytest.raises(CodecError, match="too large"):
            await async_fetch_codec(session, server.base_url, "acme", "climate-sensor", "1.0")
        base = server.base_url
    with pytest.raises(CodecError, match="cannot be reached"):
        await async_fetch_codec(session, base, "acme", "climate-sensor", "1.0")
    with pytest.raises(CodecError, match=r"no firmware 1\.0"):
        codec_id({"firmwareVersions": "none"}, "1.0")


async def test_codec_in_several_files(
    session: aiohttp.ClientSession, repository: Repository
) -> None:
    """A file shared by routines is fetched once; examples compare lists and text."""
    repository.files["vendor/acme/climate-codec.yaml"] = """
uplinkDecoder:
  fileName: list.js
  examples:
    - input: {fPort: 1, bytes: [1, 2]}
      output: {data: {values: [1, 2], label: 'two'}}
    - input: 'not an example'
      output: {data: {}}
downlinkEncoder:
  fileName: list.js
downlinkDecoder:
  fileName: valve.js
"""
    repository.files["vendor/acme/list.js"] = (
        "function decodeUplink(i) { return {data: {values: i.bytes, label: 'two'}}; }"
    )
    repository.files["vendor/acme/valve.js"] = "function decodeDownlink(i) { return {data: {}}; }"
    fetched = await async_fetch_codec(session, repository.base_url, "acme", "climate-sensor", "1.0")
    examples = fetched.examples["uplinkDecoder"]
    assert repository.requested.count("vendor/acme/list.js") == 1
    assert "decodeDownlink" in fetched.sources["downlinkDecoder"]
    async with JsRunner() as runner:
        assert (await runner.run(self_test, JsCodec(fetched.sources), fetched.examples)).passed == 1
        shorter = {
            "uplinkDecoder": [
                {"input": {"fPort": 1, "bytes": [1]}, "output": examples[0]["output"]}
            ]
        }
        with pytest.raises(CodecError, match="other data"):
            await runner.run(self_test, JsCodec(fetched.sources), shorter)
    repository.files["vendor/acme/valve.js"] = "//" + "x" * (1024 * 1024 - 10)
    repository.files["vendor/acme/list.js"] = "//" + "y" * 100
    with pytest.raises(CodecError, match="the codec is too large"):
        await async_fetch_codec(session, repository.base_url, "acme", "climate-sensor", "1.0")


NETVOX_STYLE = """
uplinkDecoder:
  fileName: payload/relay.js
  examples:
    - description: Relay on for 1:20
      input: {fPort: 6, bytes: [1, 80]}
      output:
        data: {state: on, duration: 1:20, enabled: yes, count: 012, mask: 0x1F}
downlinkEncoder:
  fileName: payload/relay-encoder.js
  examples:
    - description: Switch on
      input: {data: {state: on}, fPort: 7}
      output: {bytes: [1], fPort: 7}
"""
RELAY = """
function decodeUplink(input) {
  var minutes = Math.floor(input.bytes[1] / 60), seconds = input.bytes[1] % 60;
  return {data: {state: input.bytes[0] ? 'on' : 'off', duration: minutes + ':' + seconds,
                 enabled: 'yes', count: 12, mask: 31}};
}
"""
# Like the ELV codecs' encoder files: a decodeUplink of its own, wrong for uplinks.
RELAY_ENCODER = """
function decodeUplink(input) { return {data: {state: 'wrong'}}; }
function encodeDownlink(input) { return {bytes: [input.data.state === 'on' ? 1 : 0], fPort: 7}; }
"""


async def test_subfolders_yaml_1_2_and_routines_in_their_own_files(
    session: aiohttp.ClientSession, repository: Repository
) -> None:
    """
    Netvox's ``payload/...`` files are fetched; ``on``/``yes``/``1:20`` stay text (YAML 1.2).

    Each routine runs its own file: the encoder file's decodeUplink never replaces the
    uplink decoder's.
    """
    repository.files["vendor/acme/climate-codec.yaml"] = NETVOX_STYLE
    repository.files["vendor/acme/payload/relay.js"] = RELAY
    repository.files["vendor/acme/payload/relay-encoder.js"] = RELAY_ENCODER
    fetched = await async_fetch_codec(session, repository.base_url, "acme", "climate-sensor", "1.0")
    assert "vendor/acme/payload/relay.js" in repository.requested
    assert fetched.examples["uplinkDecoder"][0]["output"]["data"] == {
        "state": "on",
        "duration": "1:20",
        "enabled": "yes",
        "count": 12,
        "mask": 31,
    }
    async with JsRunner() as runner:
        codec = JsCodec(fetched.sources)
        report = await runner.run(self_test, codec, fetched.examples)
        assert (report.passed, report.failed) == (2, [])
        decoded = await runner.run(codec.decode_uplink, bytes([1, 80]), 6, WHEN)
        assert decoded.fields["state"] == "on"
        assert await runner.run(codec.encode_downlink, {"state": "on"}, None) == (b"\x01", 7)


def test_yaml_1_2_core_schema() -> None:
    """The core schema's types, and nothing of YAML 1.1's."""
    document = load_yaml(
        "a: [on, off, yes, no, 1:20, 2024-06-17, 0b11, 1_000, '12']\n"
        "b: [true, False, ~, null, 12, -3, 0o17, 0x1f, 1.5, -.5e1, .inf, -.Inf]\n"
        "c: !!int 0x10\n"
        "d: !!float 2\n",
        "test",
    )
    assert document["a"] == ["on", "off", "yes", "no", "1:20", "2024-06-17", "0b11", "1_000", "12"]
    assert document["b"][:9] == [True, False, None, None, 12, -3, 15, 31, 1.5]
    assert document["b"][9:] == [-5.0, float("inf"), float("-inf")]
    assert (document["c"], document["d"]) == (16, 2.0)
    nan = load_yaml("x: .NaN\ny: !!bool yes", "test")
    assert nan["x"] != nan["x"]
    assert nan["y"] is False
    with pytest.raises(CodecError, match="not valid YAML"):
        load_yaml("x: !!int abc", "test")


PROFILES = {
    "firmwareVersions": [
        {
            "version": "1.x",
            "hardwareVersions": ["2.x"],
            "profiles": {
                "EU863-870": {"codec": "zld-codec"},
                "KR920-923": {"codec": "zld-codec"},
            },
        },
        {
            "version": "1.x",
            "hardwareVersions": ["3.x"],
            "profiles": {"EU863-870": {"codec": "sld-codec"}, "KR920-923": {"codec": "sld-codec"}},
        },
        {
            "version": "2.0",
            "profiles": {
                "EU863-870": {"codec": "eu-codec"},
                "KR920-923": {"codec": "kr-codec"},
                "US902-928": {"id": "no-codec"},
            },
        },
    ]
}


def test_profile_by_band_and_hardware() -> None:
    """Band and hardware version pick the profile; without them, no guess between codecs."""
    assert codec_id(PROFILES, "1.x", hardware="3.x") == "sld-codec"
    assert codec_id(PROFILES, "1.x", "KR920-923", "2.x") == "zld-codec"
    assert codec_id(PROFILES, "2.0", "KR920-923") == "kr-codec"
    assert codec_id(PROFILES, "2.0", "eu863-870") == "eu-codec"
    with pytest.raises(CodecError, match=r"different codec per band: give the band \(EU863"):
        codec_id(PROFILES, "2.0")
    with pytest.raises(CodecError, match="per hardware version"):
        codec_id(PROFILES, "1.x", "EU863-870")
    with pytest.raises(CodecError, match="no codec in the repository in band US902-928"):
        codec_id(PROFILES, "2.0", "US902-928")
    with pytest.raises(CodecError, match="not listed for hardware version 9"):
        codec_id(PROFILES, "1.x", hardware="9")


async def test_band_and_hardware_reach_the_fetch(
    session: aiohttp.ClientSession, repository: Repository
) -> None:
    """The band given picks that band's codec file."""
    repository.files["vendor/acme/climate-sensor.yaml"] = DEVICE.replace(
        "        codec: climate-codec",
        "        codec: climate-codec\n      KR920-923:\n        id: kr\n        codec: kr-codec",
    )
    repository.files["vendor/acme/kr-codec.yaml"] = "uplinkDecoder: {fileName: climate.js}"
    fetched = await async_fetch_codec(
        session, repository.base_url, "acme", "climate-sensor", "1.0", band="KR920-923"
    )
    assert fetched.codec_id == "kr-codec"
    with pytest.raises(CodecError, match="give the band"):
        await async_fetch_codec(session, repository.base_url, "acme", "climate-sensor", "1.0")


async def test_self_test_reports_each_example() -> None:
    """A stale example does not throw a good codec away; an expected null is a missing key."""
    codec = JsCodec(
        "function decodeUplink(i) { return {data: {lat: i.bytes[0], accuracy: undefined}}; }"
        " function encodeDownlink(i) { return {bytes: [i.data.x], fPort: 3}; }"
    )
    examples = {
        "uplinkDecoder": [
            {"description": "good", "input": {"bytes": [5]}, "output": {"data": {"lat": 5}}},
            {
                "description": "null",
                "input": {"bytes": [6]},
                "output": {"data": {"lat": 6, "accuracy": None}},
            },
            {"description": "stale", "input": {"bytes": [7]}, "output": {"data": {"lat": 8}}},
        ],
        "downlinkEncoder": [
            {"input": {"data": {"x": 2}}, "output": {"bytes": [2], "fPort": 3}},
            {"input": {"data": {"x": 2}}, "output": {"bytes": [2], "fPort": 4}},
        ],
    }
    async with JsRunner() as runner:
        report = await runner.run(self_test, codec, examples)
    assert report.passed == 3
    assert [(o.routine, o.label, o.reason) for o in report.failed] == [
        ("uplinkDecoder", "stale", "other data"),
        ("downlinkEncoder", "example 2", "other bytes"),
    ]
    without = JsCodec("function encodeDownlink(i) { return {bytes: [], fPort: 1}; }")
    async with JsRunner() as runner:
        with pytest.raises(CodecError, match="defines no decodeUplink"):
            await runner.run(self_test, without, {})
