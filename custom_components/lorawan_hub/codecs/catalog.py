"""
The LoRaWAN Device Repository's lists: vendors, their devices, and what each device offers.

Read from the repository's index files, the way The Things Stack's console offers them: the
vendors (``vendor/index.yaml``), a vendor's devices (``vendor/<vendor>/index.yaml`` and each
device's file, fetched when the vendor is chosen, a few at a time), and from a device's file its
hardware versions, firmware versions and the bands of their profiles. Only the choices that lead
to exactly one codec are offered, so a device type chosen from these lists always names a codec.

The lists are kept in memory and, as small JSON files, on disk (read and written in the
executor) for a day: a vendor's devices are fetched once, not at every form. When the
repository cannot be reached, an older copy is used if there is one.

``match_vendor``/``match_device`` (and ``Catalog.async_identify``) find a device from the names
another catalog gives it (ChirpStack's vendor and model names): exact on the names with case,
spaces and punctuation ignored, never a guess that could pick another device's codec.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
import json
import logging
import os
from pathlib import Path
import re
import tempfile
import time
from typing import Any, Final
import unicodedata

import aiohttp

from .javascript import CodecError
from .repository import (
    DEFAULT_REPOSITORY,
    NotInRepository,
    RepositoryUnreachable,
    fetch,
    load_yaml,
    usable_name,
)

_LOGGER = logging.getLogger(__name__)

MAX_AGE: Final = 24 * 3600.0
"""Seconds a list is kept before it is fetched again."""
CONCURRENCY: Final = 6
"""Device files fetched at the same time."""
MAX_DEVICES: Final = 500
"""Devices read from one vendor's index at most."""
CACHE_VERSION: Final = 1
_VENDORS_FILE: Final = "vendors.json"
_VENDORS_LOCK: Final = ""
_DESIGNATION: Final = re.compile(r"\s+[-\u2013\u2014]\s*|\s*[-\u2013\u2014]\s+")
"""What separates a device's model designation from the rest of its name (``LHT65 - ...``)."""
_VERSION_PART: Final = re.compile(r"(\d+)")


@dataclass(frozen=True, slots=True)
class Firmware:
    """A firmware entry of a device's file: its version, hardware versions, codec per band."""

    version: str
    hardware_versions: tuple[str, ...]
    """The hardware versions it is listed for; empty: any."""
    codecs: Mapping[str, str]
    """Band (``EU863-870``) → the codec its profile names."""

    def serves(self, hardware: str | None) -> bool:
        """Tell whether this entry counts for a hardware version (None: any entry counts)."""
        return hardware is None or not self.hardware_versions or hardware in self.hardware_versions


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Order versions naturally: ``1.10`` after ``1.9``, ``2.1.X`` after ``2.0``, names first."""
    return tuple(
        (1, int(part)) if part.isdigit() else (0, part.lower())
        for part in _VERSION_PART.split(version)
        if part
    )


@dataclass(frozen=True, slots=True)
class ProfileChoice:
    """The firmware, band and hardware version chosen for a device that did not tell them."""

    firmware: str
    band: str | None
    """None: every band of the firmware names the same codec."""
    hardware: str | None
    why: str
    """How it was chosen, in words (diagnostics show it)."""


@dataclass(frozen=True, slots=True)
class Device:
    """A device of a vendor, as its file in the repository describes it."""

    device_id: str
    name: str
    description: str
    hardware_versions: tuple[str, ...]
    """Every hardware version the file names (its list, then those its firmware entries name)."""
    firmware: tuple[Firmware, ...]

    def codecs(self, firmware: str, band: str | None, hardware: str | None) -> set[str]:
        """Return the codecs a choice leads to, as the codec fetch reads the file."""
        return {
            codec
            for entry in self.firmware
            if entry.version == firmware and entry.serves(hardware)
            for region, codec in entry.codecs.items()
            if band is None or region.lower() == band.lower()
        }

    def hardware_choices(self) -> list[str]:
        """
        Return the hardware versions to choose from: none when the device has at most one.

        Only those with a firmware version that leads to a codec, in the file's order.
        """
        if len(self.hardware_versions) < 2:
            return []
        return [version for version in self.hardware_versions if self.firmware_versions(version)]

    def firmware_versions(self, hardware: str | None = None) -> list[str]:
        """Return the firmware versions with a codec for the hardware version, newest first."""
        versions = {
            entry.version
            for entry in self.firmware
            if entry.serves(hardware)
            and any(len(self.codecs(entry.version, band, hardware)) == 1 for band in entry.codecs)
        }
        return sorted(versions, key=version_key, reverse=True)

    def bands(self, firmware: str, hardware: str | None = None) -> list[str]:
        """Return the bands whose profile names one codec for the firmware, in name order."""
        found = {
            band
            for entry in self.firmware
            if entry.version == firmware and entry.serves(hardware)
            for band in entry.codecs
            if len(self.codecs(firmware, band, hardware)) == 1
        }
        return sorted(found, key=str.lower)

    def default_choice(self) -> ProfileChoice:
        """
        Choose a codec for a device whose firmware, band and hardware version are not known.

        The codec every profile names, when they all name one; else the newest firmware's, for
        the first band (in name order) whose profile names one codec, on the first hardware
        version that needs choosing. CodecError when no choice leads to one codec.
        """
        every = {codec for entry in self.firmware for codec in entry.codecs.values()}
        newest = self.firmware_versions()
        if len(every) == 1 and newest:
            return ProfileChoice(newest[0], None, None, "the codec all its profiles share")
        for hardware in (None, *self.hardware_choices()):
            versions = self.firmware_versions(hardware)
            bands = self.bands(versions[0], hardware) if versions else []
            if bands:
                why = f"the newest firmware ({versions[0]}), band {bands[0]}"
                if hardware is not None:
                    why += f", hardware {hardware}"
                return ProfileChoice(versions[0], bands[0], hardware, why)
        raise CodecError(f"no firmware and band of {self.device_id} name one codec")

    @property
    def has_codec(self) -> bool:
        """Tell whether some choice of this device leads to a codec."""
        return bool(self.hardware_choices() or self.firmware_versions())

    def to_json(self) -> dict[str, Any]:
        """Return what the disk cache keeps of the device."""
        return {
            "name": self.name,
            "description": self.description,
            "hardware_versions": list(self.hardware_versions),
            "firmware": [
                {
                    "version": entry.version,
                    "hardware_versions": list(entry.hardware_versions),
                    "codecs": dict(entry.codecs),
                }
                for entry in self.firmware
            ],
        }

    @classmethod
    def from_json(cls, device_id: str, data: Mapping[str, Any]) -> Device:
        """Return a device the disk cache kept; KeyError, TypeError or ValueError if malformed."""
        firmware = tuple(
            Firmware(
                _text(entry["version"]),
                _texts(entry["hardware_versions"]),
                {_text(band): _text(codec) for band, codec in entry["codecs"].items()},
            )
            for entry in data["firmware"]
        )
        return cls(
            device_id,
            _text(data["name"]),
            _text(data["description"]),
            _texts(data["hardware_versions"]),
            firmware,
        )


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _texts(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise TypeError("not a list")
    return tuple(_text(item) for item in value)


def _listed(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def parse_vendors(document: Mapping[str, Any]) -> dict[str, str]:
    """Return the vendors of ``vendor/index.yaml``: id → name (drafts and bad ids left out)."""
    vendors: dict[str, str] = {}
    listed = document.get("vendors")
    for vendor in listed if isinstance(listed, list) else []:
        if not isinstance(vendor, Mapping) or vendor.get("draft") is True:
            continue
        vendor_id = vendor.get("id")
        if usable_name(vendor_id):
            name = str(vendor.get("name") or "").strip()
            vendors[str(vendor_id)] = name or str(vendor_id)
    return vendors


def parse_device_ids(document: Mapping[str, Any]) -> list[str]:
    """Return the device ids of a vendor's ``index.yaml``, each once, in its order."""
    ids = [item for item in _listed(document.get("endDevices")) if usable_name(item)]
    return list(dict.fromkeys(ids))[:MAX_DEVICES]


def parse_device(device_id: str, document: Mapping[str, Any]) -> Device:
    """Return what a device's file offers: names, hardware versions, codecs per firmware/band."""
    listed = document.get("hardwareVersions")
    hardware = [
        str(item["version"])
        for item in (listed if isinstance(listed, list) else [])
        if isinstance(item, Mapping) and item.get("version") is not None
    ]
    firmware: list[Firmware] = []
    versions = document.get("firmwareVersions")
    for entry in versions if isinstance(versions, list) else []:
        if not isinstance(entry, Mapping) or entry.get("version") is None:
            continue
        entry_hardware = tuple(_listed(entry.get("hardwareVersions")))
        hardware.extend(entry_hardware)
        profiles = entry.get("profiles")
        codecs = {
            str(band): str(profile["codec"])
            for band, profile in (profiles.items() if isinstance(profiles, Mapping) else [])
            if isinstance(profile, Mapping) and usable_name(profile.get("codec"))
        }
        firmware.append(Firmware(str(entry["version"]), entry_hardware, codecs))
    name = str(document.get("name") or "").strip() or device_id
    description = " ".join(str(document.get("description") or "").split())
    return Device(device_id, name, description, tuple(dict.fromkeys(hardware)), tuple(firmware))


def name_key(text: str) -> str:
    """Return a name as compared: case, spaces, punctuation and accents ignored."""
    folded = unicodedata.normalize("NFKD", text).casefold()
    return "".join(character for character in folded if character.isalnum())


def _only(found: Iterable[str]) -> str | None:
    distinct = set(found)
    return distinct.pop() if len(distinct) == 1 else None


def match_vendor(vendors: Mapping[str, str], name: str) -> str | None:
    """Return the vendor whose id or name is ``name`` (case and punctuation aside), else None."""
    key = name_key(name)
    if not key:
        return None
    return _only(
        vendor_id
        for vendor_id, vendor_name in vendors.items()
        if key in (name_key(vendor_id), name_key(vendor_name))
    )


def designation(name: str) -> str:
    """Return the model designation a device's name begins with (``S2101- LoRaWAN®...``)."""
    parts = _DESIGNATION.split(name, maxsplit=1)
    return parts[0] if len(parts) == 2 else ""


def match_device(devices: Mapping[str, Device], name: str) -> str | None:
    """
    Return the device whose id or name is ``name`` (case and punctuation aside), else None.

    Failing that, the device whose name begins with ``name`` as its model designation (``LHT65``
    for ``LHT65 - Temperature & Humidity Sensor``). Two devices that fit equally: None.
    """
    key = name_key(name)
    if not key:
        return None
    exact = {
        device_id
        for device_id, device in devices.items()
        if key in (name_key(device_id), name_key(device.name))
    }
    if exact:
        return _only(exact)
    return _only(
        device_id
        for device_id, device in devices.items()
        if name_key(designation(device.name)) == key
    )


@dataclass(slots=True)
class _Kept[T]:
    value: T
    fetched_at: float


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError, ValueError:
        return None


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write a file whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(data, file)
        Path(name).replace(path)
    except OSError:
        Path(name).unlink(missing_ok=True)
        raise


class Catalog:
    """The repository's vendors and devices, fetched once and kept in memory and on disk."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str = DEFAULT_REPOSITORY,
        cache_dir: Path | None = None,
        *,
        max_age: float = MAX_AGE,
        clock: Callable[[], float] = time.time,
        concurrency: int = CONCURRENCY,
    ) -> None:
        """Read the repository at ``base_url``; keep the lists in ``cache_dir`` (if given)."""
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._cache_dir = cache_dir
        self._max_age = max_age
        self._clock = clock
        self._concurrency = concurrency
        self._vendors: _Kept[dict[str, str]] | None = None
        self._empty: dict[str, float] = {}
        """Vendors found without devices, and when."""
        self._copy_read = False
        self._devices: dict[str, _Kept[dict[str, Device]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _fresh(self, kept: _Kept[Any]) -> bool:
        return 0 <= self._clock() - kept.fetched_at <= self._max_age

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def _run[T](self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, function, *args)

    async def _yaml(self, path: str) -> Mapping[str, Any]:
        text = await fetch(self._session, f"{self.base_url}/{path}")
        # Index files reach tens of kilobytes: parsed in the executor.
        return await self._run(load_yaml, text, path.rsplit("/", 1)[-1])

    def _cache_file(self, name: str) -> Path | None:
        return None if self._cache_dir is None else self._cache_dir / name

    async def _load(self, name: str) -> tuple[Mapping[str, Any], float] | None:
        """Return a cache file's content and age stamp, None when absent or not this cache's."""
        path = self._cache_file(name)
        if path is None:
            return None
        data = await self._run(_read_json, path)
        if (
            not isinstance(data, dict)
            or data.get("version") != CACHE_VERSION
            or data.get("repository") != self.base_url
            or not isinstance(data.get("fetched_at"), int | float)
        ):
            return None
        return data, float(data["fetched_at"])

    async def _save(self, name: str, fetched_at: float, content: Mapping[str, Any]) -> None:
        path = self._cache_file(name)
        if path is None:
            return
        record = {
            "version": CACHE_VERSION,
            "repository": self.base_url,
            "fetched_at": fetched_at,
            **content,
        }
        try:
            await self._run(_write_json, path, record)
        except OSError as err:
            _LOGGER.warning("The device list cannot be kept in %s: %s", path, err)

    async def _save_vendors(self) -> None:
        if self._vendors is not None:
            await self._save(
                _VENDORS_FILE,
                self._vendors.fetched_at,
                {"vendors": self._vendors.value, "empty": self._empty},
            )

    def _found_empty(self, vendor: str) -> bool:
        """Tell whether the vendor was found without devices, less than a day ago."""
        found = self._empty.get(vendor)
        return found is not None and self._fresh(_Kept(None, found))

    async def async_vendors(self) -> dict[str, str]:
        """
        Return the vendors (id → name) by name, without those found to have no devices.

        CodecError (RepositoryUnreachable when it cannot be reached) when there is no list.
        """
        async with self._lock(_VENDORS_LOCK):
            kept = await self._refresh_vendors()
        return {
            vendor_id: name
            for vendor_id, name in sorted(
                kept.value.items(), key=lambda item: (item[1].casefold(), item[0])
            )
            if not self._found_empty(vendor_id)
        }

    async def _read_vendors_copy(self) -> None:
        """Read the vendors kept on disk, once (what is in memory is newer)."""
        if self._copy_read:
            return
        self._copy_read = True
        if (loaded := await self._load(_VENDORS_FILE)) is None:
            return
        data, fetched_at = loaded
        try:
            vendors = {_text(key): _text(value) for key, value in data["vendors"].items()}
            empty = {_text(key): float(value) for key, value in data["empty"].items()}
        except KeyError, TypeError, ValueError, AttributeError:
            return
        if self._vendors is None:
            self._vendors = _Kept(vendors, fetched_at)
        self._empty = {**empty, **self._empty}

    async def _refresh_vendors(self) -> _Kept[dict[str, str]]:
        await self._read_vendors_copy()
        if self._vendors is not None and self._fresh(self._vendors):
            return self._vendors
        try:
            document = await self._yaml("vendor/index.yaml")
        except RepositoryUnreachable:
            if self._vendors is None:
                raise
            _LOGGER.debug("The repository cannot be reached: its vendors as kept before")
            return self._vendors
        vendors = parse_vendors(document)
        if not vendors:
            raise CodecError("the repository lists no vendors")
        kept = self._vendors = _Kept(vendors, self._clock())
        await self._save_vendors()
        return kept

    async def async_vendor_name(self, vendor: str) -> str:
        """Return a vendor's name (its id when the repository names no such vendor)."""
        return (await self.async_vendors()).get(vendor, vendor)

    async def async_devices(self, vendor: str) -> dict[str, Device]:
        """
        Return a vendor's devices (id → device) by name; empty when it has none.

        The device files are fetched a few at a time; one that is missing or malformed is left
        out. RepositoryUnreachable when the list cannot be had (and none was kept).
        """
        if not usable_name(vendor):
            return {}
        async with self._lock(vendor):
            kept = self._devices.get(vendor)
            if kept is None or not self._fresh(kept):
                kept = await self._refresh_devices(vendor, kept)
        return kept.value

    async def _refresh_devices(
        self, vendor: str, kept: _Kept[dict[str, Device]] | None
    ) -> _Kept[dict[str, Device]]:
        name = f"vendor-{vendor}.json"
        if kept is None and (loaded := await self._load(name)) is not None:
            data, fetched_at = loaded
            try:
                devices = {
                    _text(device_id): Device.from_json(device_id, device)
                    for device_id, device in data["devices"].items()
                }
            except KeyError, TypeError, ValueError, AttributeError:
                pass
            else:
                kept = self._devices[vendor] = _Kept(devices, fetched_at)
                if self._fresh(kept):
                    return kept
        try:
            devices = await self._fetch_devices(vendor)
        except RepositoryUnreachable:
            if kept is None:
                raise
            _LOGGER.debug("The repository cannot be reached: %s's devices as kept before", vendor)
            return kept
        ordered = dict(sorted(devices.items(), key=lambda item: (item[1].name.casefold(), item[0])))
        kept = self._devices[vendor] = _Kept(ordered, self._clock())
        await self._save(
            name,
            kept.fetched_at,
            {"devices": {device_id: device.to_json() for device_id, device in ordered.items()}},
        )
        async with self._lock(_VENDORS_LOCK):
            await self._read_vendors_copy()
            if ordered:
                changed = self._empty.pop(vendor, None) is not None
            else:
                self._empty[vendor] = kept.fetched_at
                changed = True
            if changed:
                await self._save_vendors()
        return kept

    async def _fetch_devices(self, vendor: str) -> dict[str, Device]:
        try:
            index = await self._yaml(f"vendor/{vendor}/index.yaml")
        except NotInRepository:
            return {}
        semaphore = asyncio.Semaphore(self._concurrency)

        async def one(device_id: str) -> Device | None:
            async with semaphore:
                try:
                    document = await self._yaml(f"vendor/{vendor}/{device_id}.yaml")
                except RepositoryUnreachable:
                    raise
                except CodecError as err:
                    _LOGGER.debug("Device %s/%s left out: %s", vendor, device_id, err)
                    return None
            return parse_device(device_id, document)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(device_id)) for device_id in parse_device_ids(index)]
        except* RepositoryUnreachable as failures:
            raise failures.exceptions[0] from None
        return {device.device_id: device for task in tasks if (device := task.result()) is not None}

    async def async_device(self, vendor: str, device: str) -> Device:
        """Return one device of a vendor; NotInRepository when the vendor has no such device."""
        found = (await self.async_devices(vendor)).get(device)
        if found is None:
            raise NotInRepository(f"the repository lists no device {device} of {vendor}")
        return found

    async def async_identify(self, vendor_name: str, model_name: str) -> tuple[str, str] | None:
        """
        Return the (vendor id, device id) that another catalog's names give, None if unsure.

        Exact on the vendor's id or name, then on the device's id, name or model designation
        (``match_vendor``, ``match_device``). RepositoryUnreachable when the lists cannot be had.
        """
        vendor = match_vendor(await self.async_vendors(), vendor_name)
        if vendor is None:
            return None
        device = match_device(await self.async_devices(vendor), model_name)
        return None if device is None else (vendor, device)
