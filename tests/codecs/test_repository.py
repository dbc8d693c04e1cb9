"""Codecs fetched from a LoRaWAN Device Repository (a local copy served for the tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web
import pytest

from custom_components.lorawan_hub.codecs.javascript import CodecError, JsCodec, JsRunner
from custom_components.lorawan_hub.codecs.repository import (
    async_fetch_codec,
    codec_id,
    self_test,
)
from simulator.server import SimulatorServer

CODECS = Path(__file__).parent / "js"

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
    """Only the device's files are fetched; its examples pass, a changed one fails."""
    source, examples = await async_fetch_codec(
        session, repository.base_url, "acme", "climate-sensor", "1.0"
    )
    assert "function decodeUplink" in source
    assert repository.requested == [
        "vendor/acme/climate-sensor.yaml",
        "vendor/acme/climate-codec.yaml",
        "vendor/acme/climate.js",
    ]
    async with JsRunner() as runner:
        assert await runner.run(self_test, JsCodec(source), examples) == 2
        wrong = [{**examples[0], "output": {"data": {"temperature": 22}}}]
        with pytest.raises(CodecError, match="does not reproduce its example 'Open door'"):
            await runner.run(self_test, JsCodec(source), wrong)
        failing = [{**examples[1], "output": {"errors": ["another error"]}}]
        with pytest.raises(CodecError, match="fails its example 'Wrong port'"):
            await runner.run(self_test, JsCodec(source), failing)
        expected_error = [{**examples[0], "output": {"errors": ["x"]}}]
        with pytest.raises(CodecError, match="does not reproduce"):
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
    """Decoder and encoder files are joined (each once); examples compare lists and text."""
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
    source, examples = await async_fetch_codec(
        session, repository.base_url, "acme", "climate-sensor", "1.0"
    )
    assert repository.requested.count("vendor/acme/list.js") == 1
    assert "decodeDownlink" in source
    async with JsRunner() as runner:
        assert await runner.run(self_test, JsCodec(source), examples) == 1
        shorter = [{"input": {"fPort": 1, "bytes": [1]}, "output": examples[0]["output"]}]
        with pytest.raises(CodecError, match="does not reproduce"):
            await runner.run(self_test, JsCodec(source), shorter)
    repository.files["vendor/acme/valve.js"] = "//" + "x" * (1024 * 1024 - 10)
    repository.files["vendor/acme/list.js"] = "//" + "y" * 100
    with pytest.raises(CodecError, match="the codec is too large"):
        await async_fetch_codec(session, repository.base_url, "acme", "climate-sensor", "1.0")
