"""The repository's lists of vendors and devices, from the snapshot served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from custom_components.lorawan_hub.codecs.catalog import (
    Catalog,
    Device,
    designation,
    match_device,
    match_vendor,
    name_key,
    parse_device,
    version_key,
)
from custom_components.lorawan_hub.codecs.javascript import CodecError
from custom_components.lorawan_hub.codecs.repository import (
    RepositoryUnreachable,
    codec_id,
    load_yaml,
)
from tests.repository_server import RepositoryFiles, unpack

ANALOG = "vendor/adeunis/analog.yaml"
DAY = 24 * 3600.0


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Some vendors of the snapshot, unpacked."""
    return unpack(tmp_path_factory.mktemp("repository"))


@pytest.fixture
async def files(snapshot: Path) -> AsyncIterator[RepositoryFiles]:
    """The snapshot as the repository."""
    async with RepositoryFiles(snapshot) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        """Start at some time."""
        self.now = 1_000_000.0

    def __call__(self) -> float:
        """Return the time."""
        return self.now


def vendor_device_files(snapshot: Path, vendor: str) -> list[str]:
    """Return the paths of a vendor's device files its index lists (each once)."""
    index = load_yaml((snapshot / "vendor" / vendor / "index.yaml").read_text(), "index")
    return [f"vendor/{vendor}/{device}.yaml" for device in dict.fromkeys(index["endDevices"])]


async def test_vendors_devices_and_choices(
    session: aiohttp.ClientSession, files: RepositoryFiles, snapshot: Path
) -> None:
    """Vendors by name; a vendor's devices with names, hardware, firmware and bands."""
    catalog = Catalog(session, files.base_url)
    vendors = await catalog.async_vendors()
    assert files.take_requests() == ["vendor/index.yaml"]
    assert vendors["dragino"] == "Dragino Technology Co., Limited"
    assert vendors["sensecap"] == "SenseCAP"
    assert "example" not in vendors  # a draft
    names = list(vendors.values())
    assert names == sorted(names, key=str.casefold)
    assert len(vendors) == 463

    devices = await catalog.async_devices("adeunis")
    requested = files.take_requests()
    assert requested[0] == "vendor/adeunis/index.yaml"
    assert sorted(requested[1:]) == sorted(vendor_device_files(snapshot, "adeunis"))
    names = [device.name for device in devices.values()]
    assert names == sorted(names, key=str.casefold)
    analog = devices["analog"]
    assert analog.name == "Analog - Sensor Interface"
    assert analog.description.startswith("The Adeunis Analog has 2 inputs")
    assert analog.hardware_choices() == ["1.04", "8180BA", "8200AA"]
    assert analog.firmware_versions("8200AA") == ["2.1.X", "1.3.X"]
    assert analog.firmware_versions("1.04") == ["1.03"]
    assert analog.bands("2.1.X", "8200AA") == ["EU863-870"]
    assert analog.codecs("2.1.X", "EU863-870", "8200AA") == {"analog2-codec"}
    assert await catalog.async_device("adeunis", "analog") == analog

    # Dragino's index lists some devices twice: each is fetched once, listed once.
    dragino = await catalog.async_devices("dragino")
    requested = files.take_requests()
    assert len(requested) == len(set(requested)) == len(dragino) + 1
    lht65 = dragino["lht65"]
    assert lht65.hardware_choices() == []
    assert lht65.firmware_versions() == ["1.9.1", "1.8", "lht65 abp"]
    assert lht65.bands("1.8") == [
        "AS923",
        "AU915-928",
        "CN470-510",
        "EU433",
        "EU863-870",
        "IN865-867",
        "KR920-923",
        "RU864-870",
        "US902-928",
    ]
    # A device whose file names no codec has none to offer.
    agriseen = await catalog.async_devices("agriseen")
    assert not agriseen["ga5067"].has_codec
    with pytest.raises(CodecError, match="no device pump of adeunis"):
        await catalog.async_device("adeunis", "pump")
    assert await catalog.async_devices("../adeunis") == {}


async def test_lists_are_fetched_once_and_kept(
    session: aiohttp.ClientSession, files: RepositoryFiles, tmp_path: Path
) -> None:
    """In memory, then on disk for a day; another repository's copy is not used."""
    clock = Clock()
    catalog = Catalog(session, files.base_url, tmp_path, clock=clock)
    vendors = await catalog.async_vendors()
    devices = await catalog.async_devices("sensecap")
    assert files.take_requests()
    # The same lists again: not one request.
    assert await catalog.async_vendors() == vendors
    assert await catalog.async_devices("sensecap") == devices
    assert files.take_requests() == []
    kept = json.loads((tmp_path / "vendor-sensecap.json").read_text())
    assert kept["repository"] == files.base_url
    assert set(kept["devices"]) == set(devices)
    # Home Assistant restarted: the copy on disk, not one request.
    clock.now += DAY - 1
    again = Catalog(session, files.base_url, tmp_path, clock=clock)
    assert await again.async_vendors() == vendors
    assert await again.async_devices("sensecap") == devices
    assert files.take_requests() == []
    # A day old: fetched again.
    clock.now += 2
    assert await again.async_vendors() == vendors
    assert await again.async_devices("sensecap") == devices
    assert files.take_requests()[:2] == ["vendor/index.yaml", "vendor/sensecap/index.yaml"]
    fresh = Catalog(session, files.base_url, tmp_path, clock=clock)
    await fresh.async_vendors()
    assert files.take_requests() == []
    # A copy of another repository's lists is not this one's.
    other = Catalog(session, files.base_url + "/", tmp_path, clock=clock)
    await other.async_vendors()
    assert files.take_requests() == []  # the same repository, written another way
    elsewhere = Catalog(session, files.base_url + "/mirror", tmp_path, clock=clock)
    with pytest.raises(CodecError, match=r"has no index\.yaml"):
        await elsewhere.async_vendors()


async def test_an_old_copy_when_the_repository_cannot_be_reached(
    session: aiohttp.ClientSession, files: RepositoryFiles, tmp_path: Path
) -> None:
    """Lists older than a day are still used while the repository cannot be reached."""
    clock = Clock()
    catalog = Catalog(session, files.base_url, tmp_path, clock=clock)
    vendors = await catalog.async_vendors()
    devices = await catalog.async_devices("dragino")
    await files.stop()
    clock.now += 2 * DAY
    assert await catalog.async_vendors() == vendors
    assert await catalog.async_devices("dragino") == devices
    restarted = Catalog(session, files.base_url, tmp_path, clock=clock)
    assert await restarted.async_vendors() == vendors
    assert await restarted.async_devices("dragino") == devices
    # Without a copy, the reason.
    with pytest.raises(RepositoryUnreachable, match="cannot be reached"):
        await restarted.async_devices("sensecap")
    with pytest.raises(RepositoryUnreachable, match="cannot be reached"):
        await Catalog(session, files.base_url).async_vendors()


async def test_a_vendor_without_devices_is_offered_no_more(
    session: aiohttp.ClientSession, files: RepositoryFiles, tmp_path: Path
) -> None:
    """Most vendors of the index have no folder: once found so, they leave the list."""
    catalog = Catalog(session, files.base_url, tmp_path)
    assert "1m2m" in await catalog.async_vendors()
    assert await catalog.async_devices("1m2m") == {}
    assert "vendor/1m2m/index.yaml" in files.take_requests()
    assert "1m2m" not in await catalog.async_vendors()
    assert "1m2m" not in await Catalog(session, files.base_url, tmp_path).async_vendors()
    assert files.take_requests() == []
    # It has devices after all (a copy on disk from before, the repository changed since).
    (tmp_path / "vendor-1m2m.json").unlink()
    files.texts["vendor/1m2m/index.yaml"] = "endDevices: [lht65]"
    files.texts["vendor/1m2m/lht65.yaml"] = "name: Tracker"
    again = Catalog(session, files.base_url, tmp_path)
    assert list(await again.async_devices("1m2m")) == ["lht65"]
    assert "1m2m" in await again.async_vendors()


async def test_device_files_that_fail(
    session: aiohttp.ClientSession, files: RepositoryFiles, tmp_path: Path
) -> None:
    """A missing or malformed device file is left out; a repository that fails keeps nothing."""
    files.statuses["vendor/adeunis/modbus.yaml"] = 404
    files.texts[ANALOG] = "name: [unclosed"
    catalog = Catalog(session, files.base_url, tmp_path)
    devices = await catalog.async_devices("adeunis")
    assert "modbus" not in devices
    assert "analog" not in devices
    assert "pulse" in devices
    files.statuses["vendor/dragino/lht65.yaml"] = 503
    with pytest.raises(RepositoryUnreachable, match="HTTP 503"):
        await catalog.async_devices("dragino")
    assert not (tmp_path / "vendor-dragino.json").exists()
    del files.statuses["vendor/dragino/lht65.yaml"]
    assert "lht65" in await catalog.async_devices("dragino")
    files.texts["vendor/index.yaml"] = "vendors: []"
    with pytest.raises(CodecError, match="lists no vendors"):
        await Catalog(session, files.base_url).async_vendors()


async def test_copies_that_cannot_be_used(
    session: aiohttp.ClientSession, files: RepositoryFiles, tmp_path: Path
) -> None:
    """A malformed or foreign copy on disk is fetched again; one that cannot be written is lost."""
    (tmp_path / "vendors.json").write_text("{not json")
    base = {"version": 1, "repository": files.base_url, "fetched_at": 1e12}
    (tmp_path / "vendor-adeunis.json").write_text(json.dumps({**base, "devices": {"x": {}}}))
    catalog = Catalog(session, files.base_url, tmp_path)
    assert "adeunis" in await catalog.async_vendors()
    assert "analog" in await catalog.async_devices("adeunis")
    assert files.take_requests()[:2] == ["vendor/index.yaml", "vendor/adeunis/index.yaml"]
    (tmp_path / "vendors.json").write_text(json.dumps({**base, "vendors": {"a": 1}, "empty": []}))
    (tmp_path / "vendor-adeunis.json").write_text(json.dumps({**base, "version": 0}))
    again = Catalog(session, files.base_url, tmp_path)
    assert "adeunis" in await again.async_vendors()
    assert "analog" in await again.async_devices("adeunis")
    assert files.take_requests()[:2] == ["vendor/index.yaml", "vendor/adeunis/index.yaml"]
    # Nowhere to keep the lists: they are still given, and nothing is left half written.
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder would be")
    assert "analog" in await Catalog(session, files.base_url, blocked).async_devices("adeunis")
    taken = tmp_path / "taken"
    (taken / "vendor-adeunis.json").mkdir(parents=True)
    (taken / "vendor-adeunis.json" / "x").write_text("a folder where the file would be")
    assert "analog" in await Catalog(session, files.base_url, taken).async_devices("adeunis")
    assert [path.name for path in taken.iterdir()] == ["vendor-adeunis.json"]


def devices_of(snapshot: Path, vendor: str) -> dict[str, tuple[Device, Any]]:
    """Return each device of a vendor's index with its file."""
    found = {}
    for path in vendor_device_files(snapshot, vendor):
        document = load_yaml((snapshot / path).read_text(encoding="utf-8"), path)
        device_id = Path(path).stem
        found[device_id] = (parse_device(device_id, document), document)
    return found


def test_every_choice_offered_names_one_codec(snapshot: Path) -> None:
    """Every hardware, firmware and band offered leads the codec fetch to one codec."""
    checked = 0
    for vendor in ("adeunis", "dragino", "sensecap", "seeed"):
        for device, document in devices_of(snapshot, vendor).values():
            hardwares: list[str | None] = [*device.hardware_choices()] or [None]
            for hardware in hardwares:
                for firmware in device.firmware_versions(hardware):
                    for band in device.bands(firmware, hardware):
                        (expected,) = device.codecs(firmware, band, hardware)
                        assert codec_id(document, firmware, band, hardware) == expected
                        checked += 1
    assert checked > 300


def test_choices_of_a_device_file() -> None:
    """A codec per band or per hardware version; what leads nowhere is not offered."""
    document = load_yaml(
        """
name: '  '
description: "Two\n  lines"
hardwareVersions:
  - version: '2.0'
  - numeric: 1
firmwareVersions:
  - version: '1.0'
    hardwareVersions: ['2.0']
    profiles:
      EU863-870: {codec: old-codec}
  - version: '1.0'
    hardwareVersions: ['3.0']
    profiles:
      EU863-870: {codec: new-codec}
      KR920-923: {codec: ../../secrets}
  - version: 1.10
    profiles:
      EU863-870: {codec: eu-codec}
      KR920-923: {codec: kr-codec}
      US902-928: {id: no-codec}
  - version: 1.9
    profiles: none
  - not a firmware
""",
        "device",
    )
    device = parse_device("thing", document)
    assert (device.name, device.description) == ("thing", "Two lines")
    assert device.hardware_versions == ("2.0", "3.0")
    assert device.hardware_choices() == ["2.0", "3.0"]
    assert device.firmware_versions("3.0") == ["1.1", "1.0"]
    # Without a hardware version, firmware 1.0 names two codecs in EU863-870: not offered.
    assert device.firmware_versions() == ["1.1"]
    assert device.bands("1.1") == ["EU863-870", "KR920-923"]
    assert device.bands("1.0", "2.0") == ["EU863-870"]
    assert device.bands("1.0") == []
    assert device.has_codec
    assert Device.from_json("thing", device.to_json()) == device
    with pytest.raises(TypeError):
        Device.from_json("thing", {**device.to_json(), "name": 1})
    with pytest.raises(TypeError):
        Device.from_json("thing", {**device.to_json(), "hardware_versions": "2.0"})
    assert version_key("1.10") > version_key("1.9") > version_key("1.3.X") > version_key("1.3")
    assert version_key("0.1") > version_key("v2")


def test_a_default_choice_for_a_device_that_does_not_tell() -> None:
    """The codec all profiles share; else the newest firmware's first band (and hardware)."""
    shared = parse_device(
        "shared",
        load_yaml(
            "firmwareVersions:\n"
            "  - version: '1.0'\n    profiles: {EU863-870: {codec: c}, US902-928: {codec: c}}\n"
            "  - version: '2.0'\n    profiles: {EU863-870: {codec: c}}\n",
            "shared",
        ),
    )
    choice = shared.default_choice()
    assert (choice.firmware, choice.band, choice.hardware) == ("2.0", None, None)
    assert choice.why == "the codec all its profiles share"
    per_band = parse_device(
        "per-band",
        load_yaml(
            "firmwareVersions:\n"
            "  - version: '1.10'\n    profiles: {US902-928: {codec: us}, EU863-870: {codec: eu}}\n"
            "  - version: '1.9'\n    profiles: {AS923: {codec: as}}\n",
            "per-band",
        ),
    )
    choice = per_band.default_choice()
    assert (choice.firmware, choice.band, choice.hardware) == ("1.10", "EU863-870", None)
    assert choice.why == "the newest firmware (1.10), band EU863-870"
    per_hardware = parse_device(
        "per-hardware",
        load_yaml(
            "firmwareVersions:\n"
            "  - version: '1.0'\n    hardwareVersions: ['1']\n"
            "    profiles: {EU863-870: {codec: one}}\n"
            "  - version: '1.0'\n    hardwareVersions: ['2']\n"
            "    profiles: {EU863-870: {codec: two}}\n",
            "per-hardware",
        ),
    )
    choice = per_hardware.default_choice()
    assert (choice.firmware, choice.band, choice.hardware) == ("1.0", "EU863-870", "1")
    assert choice.why == "the newest firmware (1.0), band EU863-870, hardware 1"
    nothing = parse_device("nothing", load_yaml("firmwareVersions: []\n", "nothing"))
    with pytest.raises(CodecError, match="no firmware and band of nothing"):
        nothing.default_choice()


def test_default_choices_of_the_snapshot_name_one_codec(snapshot: Path) -> None:
    """Every device of the snapshot with a codec gets a choice the codec fetch can follow."""
    chosen = 0
    for vendor in ("adeunis", "dragino", "sensecap", "seeed"):
        for device, document in devices_of(snapshot, vendor).values():
            if not device.has_codec:
                continue
            choice = device.default_choice()
            codec = codec_id(document, choice.firmware, choice.band, choice.hardware)
            assert {codec} == device.codecs(choice.firmware, choice.band, choice.hardware)
            chosen += 1
    assert chosen > 50


def test_matching_names() -> None:
    """Exact on ids and names (case, spaces, punctuation aside), then on the designation."""
    assert name_key(" Dragino Technology Co., Limited ") == "draginotechnologycolimited"
    assert name_key("Ñandú®") == "nandu"
    assert designation("S2101- LoRaWAN® Air Temperature") == "S2101"
    assert designation("LHT65 - Temperature & Humidity Sensor") == "LHT65"
    assert designation("S2105-LoRaWAN® Soil Moisture") == ""
    vendors = {"acme": "Acme Corp.", "acme-labs": "ACME Labs", "twin": "Same", "twin2": "Same"}
    assert match_vendor(vendors, "ACME") == "acme"
    assert match_vendor(vendors, "acme corp") == "acme"
    assert match_vendor(vendors, "Acme-Labs") == "acme-labs"
    assert match_vendor(vendors, "Same") is None
    assert match_vendor(vendors, "Acme Corporation") is None
    assert match_vendor(vendors, " - ") is None

    def device(device_id: str, name: str) -> Device:
        return Device(device_id, name, "", (), ())

    devices = {
        "t1": device("t1", "T1 - Tracker"),
        "t1-pro": device("t1-pro", "T1 - Tracker Pro"),
        "th": device("th", "TH - Climate"),
        "th2": device("th2", "TH"),
    }
    assert match_device(devices, "T1-Pro") == "t1-pro"
    assert match_device(devices, "t1") == "t1"  # the id, before two designations
    assert match_device(devices, "TH") is None  # th2's name, th's id: two devices
    assert match_device(devices, "T1 Tracker") == "t1"
    del devices["t1"]
    assert match_device(devices, "T1") == "t1-pro"  # the only one so designated
    devices["t1-lite"] = device("t1-lite", "T1 - Tracker Lite")
    assert match_device(devices, "T1") is None  # two so designated
    assert match_device(devices, "Tracker") is None
    assert match_device(devices, "") is None


async def test_identify_from_another_catalogs_names(
    session: aiohttp.ClientSession, files: RepositoryFiles, tmp_path: Path
) -> None:
    """ChirpStack's vendor and model names find the repository's device, or nothing."""
    catalog = Catalog(session, files.base_url, tmp_path)
    s2101 = ("sensecap", "sensecaps2101-temp-humid")
    for vendor, model, expected in (
        ("Dragino", "LHT65", ("dragino", "lht65")),
        (
            "Dragino Technology Co., Limited",
            "LHT65 - Temperature & Humidity Sensor",
            ("dragino", "lht65"),
        ),
        ("dragino", "LSN50-V2", ("dragino", "lsn50-v2")),
        ("SenseCAP", "S2101", s2101),
        ("SenseCAP", "S2101- LoRaWAN® Air Temperature and Humidity Sensor", s2101),
        ("SenseCAP", "sensecaps2101-temp-humid", s2101),
        # The repository files the S2101 under SenseCAP, not under Seeed: not guessed.
        ("Seeed Technology Co., Ltd", "S2101- LoRaWAN® Air Temperature and Humidity Sensor", None),
        ("Dragino", "LHT", None),
        ("Dragino", "LHT65N", None),
        ("Dragin", "LHT65", None),
        ("1M2M", "LHT65", None),  # listed, without devices
        ("", "LHT65", None),
    ):
        assert await catalog.async_identify(vendor, model) == expected, (vendor, model)
    # Everything it needed is kept: again, without a request.
    files.take_requests()
    assert await catalog.async_identify("SenseCAP", "S2101") == s2101
    assert files.take_requests() == []
