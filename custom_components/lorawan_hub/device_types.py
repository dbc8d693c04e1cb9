"""
Device types: a JavaScript codec shared by the devices that use it (options of an entry).

A device type's codec is pasted into the options, read from a ``.js`` file under the
configuration directory, or fetched from the LoRaWAN Device Repository by vendor, model, firmware
and (where the repository's profiles differ by them) band and hardware version: self-tested with
its examples, then kept on disk, one source per routine. Devices choose a device type as their
payload decoder.
"""

from __future__ import annotations

from collections.abc import Mapping
import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.storage import STORAGE_DIR
from homeassistant.util.hass_dict import HassKey

from .codecs import repository
from .codecs.catalog import Catalog
from .codecs.javascript import MAX_SOURCE, ROUTINES, CodecError, JsCodec, JsRunner, Routine
from .codecs.repository import SelfTest, async_fetch_codec, self_test

_LOGGER = logging.getLogger(__name__)

CONF_DEVICE_TYPES: Final = "device_types"
"""Options key: device type id → its definition."""
CONF_NAME: Final = "name"
CONF_SOURCE: Final = "source"
CONF_CODE: Final = "code"
CONF_PATH: Final = "path"
CONF_VENDOR_ID: Final = "vendor_id"
CONF_MODEL: Final = "model"
CONF_FIRMWARE: Final = "firmware"
CONF_BAND: Final = "band"
"""Optional: the repository's band of the device's profile (``EU863-870``, ``KR920-923``...)."""
CONF_HARDWARE_VERSION: Final = "hardware_version"
"""Optional: the device's hardware version, where one firmware version names several codecs."""
CONF_CHOSEN: Final = "chosen"
"""Optional: how firmware and band were chosen when the device did not tell them (diagnostics)."""
_IDENTITY: Final = (CONF_VENDOR_ID, CONF_MODEL, CONF_FIRMWARE, CONF_BAND, CONF_HARDWARE_VERSION)
SOURCE_PASTE: Final = "paste"
SOURCE_FILE: Final = "file"
SOURCE_REPOSITORY: Final = "repository"
SOURCES: Final = (SOURCE_PASTE, SOURCE_FILE, SOURCE_REPOSITORY)
CACHE_FOLDER: Final = "lorawan_hub_codecs"
"""Under ``.storage``: the codecs fetched from the repository."""
CATALOG_FOLDER: Final = "lorawan_hub_catalog"
"""Under ``.storage``: the repository's lists of vendors and devices."""
_CATALOG: HassKey[Catalog] = HassKey("lorawan_hub_catalog")

JS_PREFIX: Final = "js:"
"""A device's codec choice naming a device type: ``js:<device type id>``."""


def codec_choice(type_id: str) -> str:
    """Return the codec choice of a device that uses device type ``type_id``."""
    return f"{JS_PREFIX}{type_id}"


_PRIVATE_SUFFIXES: Final = frozenset({".yaml", ".yml", ".db", ".db-shm", ".db-wal", ".log"})
"""Files of the configuration directory that hold secrets or history: never read for sending."""


def config_path(hass: HomeAssistant, name: str) -> Path | None:
    """
    Return ``name`` resolved under the configuration directory, None when it is elsewhere.

    Hidden places (``.storage`` holds credentials) do not count as under it, nor do the files
    that hold secrets or history (``secrets.yaml`` and other YAML, the database, logs).
    """
    config = Path(hass.config.config_dir).resolve()
    try:
        path = Path(hass.config.path(name)).resolve()
    except ValueError, OSError:  # a NUL in the name, a loop of links...
        return None
    if not path.is_relative_to(config) or any(
        part.startswith(".") for part in path.relative_to(config).parts
    ):
        return None
    if path.suffix.lower() in _PRIVATE_SUFFIXES or ".log." in path.name.lower():
        return None
    return path


def read_codec_file(hass: HomeAssistant, name: str) -> str:
    """Read a codec file under the configuration directory (in the executor)."""
    path = config_path(hass, name)
    if path is None or path.suffix != ".js":
        raise CodecError(f"{name} is not a .js file inside the configuration directory")
    try:
        with path.open(encoding="utf-8") as file:
            source = file.read(MAX_SOURCE + 1)
    except (OSError, UnicodeDecodeError) as err:
        raise CodecError(f"{name} cannot be read: {type(err).__name__}") from None
    return source


def repository_catalog(hass: HomeAssistant) -> Catalog:
    """Return the LoRaWAN Device Repository's lists, kept for as long as Home Assistant runs."""
    catalog = hass.data.get(_CATALOG)
    if catalog is None or catalog.base_url != repository.DEFAULT_REPOSITORY.rstrip("/"):
        catalog = hass.data[_CATALOG] = Catalog(
            async_get_clientsession(hass),
            repository.DEFAULT_REPOSITORY,
            Path(hass.config.path(STORAGE_DIR, CATALOG_FOLDER)),
        )
    return catalog


def codec_cache_file(definition: Mapping[str, Any]) -> str:
    """Return the name of the file (in ``CACHE_FOLDER`` of the storage) that keeps a codec."""
    names = (CONF_VENDOR_ID, CONF_MODEL, CONF_FIRMWARE)
    key = "/".join(str(definition.get(name, "")) for name in names)
    extra = [str(definition.get(name) or "") for name in (CONF_BAND, CONF_HARDWARE_VERSION)]
    if any(extra):
        key += "/" + "/".join(extra)
    return f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def _cache_path(hass: HomeAssistant, definition: Mapping[str, Any]) -> Path:
    return Path(hass.config.path(STORAGE_DIR, CACHE_FOLDER, codec_cache_file(definition)))


def _read_cache(path: Path) -> dict[Routine, str] | str | None:
    """
    Return the kept sources, one per routine; a single joined source from before that.

    Earlier versions kept the routines' files joined into one script, where a later file could
    replace another's functions: such a copy is fetched again (and used only if that fails).
    """
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
    except OSError, ValueError:
        return None
    if not isinstance(cached, dict):
        return None
    sources = cached.get("sources")
    if isinstance(sources, dict) and all(isinstance(text, str) for text in sources.values()):
        return {routine: sources[routine] for routine in ROUTINES if routine in sources}
    source = cached.get("source")
    return source if isinstance(source, str) else None


def write_codec_cache(
    path: Path, definition: Mapping[str, Any], sources: Mapping[Routine, str]
) -> None:
    """Keep a fetched codec's sources on disk (blocking: in the executor)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {name: definition.get(name) for name in _IDENTITY}
    path.write_text(json.dumps({**record, "sources": dict(sources)}), encoding="utf-8")


def _optional(definition: Mapping[str, Any], name: str) -> str | None:
    value = str(definition.get(name) or "").strip()
    return value or None


async def async_fetch_tested_codec(
    hass: HomeAssistant, definition: Mapping[str, Any], runner: JsRunner
) -> tuple[JsCodec, SelfTest]:
    """
    Fetch a device's codec from the repository, run its examples, and keep it on disk.

    Returns the codec and the outcome of each example (examples of the repository's own that
    fail are logged; the codec is kept unless its uplink decoder fails them all); CodecError
    when it cannot be used.
    """
    fetched = await async_fetch_codec(
        async_get_clientsession(hass),
        repository.DEFAULT_REPOSITORY,
        str(definition.get(CONF_VENDOR_ID, "")).strip().lower(),
        str(definition.get(CONF_MODEL, "")).strip().lower(),
        str(definition.get(CONF_FIRMWARE, "")).strip(),
        band=_optional(definition, CONF_BAND),
        hardware=_optional(definition, CONF_HARDWARE_VERSION),
    )
    codec = JsCodec(fetched.sources)
    report = await runner.run(self_test, codec, fetched.examples)
    for outcome in report.failed:
        _LOGGER.info(
            "Codec %s fails its %s example %r: %s",
            fetched.codec_id,
            outcome.routine,
            outcome.label,
            outcome.reason,
        )
    await hass.async_add_executor_job(
        write_codec_cache, _cache_path(hass, definition), definition, fetched.sources
    )
    return codec, report


async def async_load_codec(hass: HomeAssistant, definition: Mapping[str, Any]) -> JsCodec:
    """Return the codec of a device type (not compiled yet); CodecError when it has none."""
    if definition.get(CONF_SOURCE) == SOURCE_REPOSITORY:
        path = _cache_path(hass, definition)
        cached = await hass.async_add_executor_job(_read_cache, path)
        if isinstance(cached, dict):
            return JsCodec(cached)
        try:
            async with JsRunner() as runner:
                tested, _report = await async_fetch_tested_codec(hass, definition, runner)
        except CodecError:
            if cached is None:
                raise
            return JsCodec(cached)
        # A context never changes threads: the caller's thread compiles its own.
        return JsCodec(tested.sources)
    if definition.get(CONF_SOURCE) == SOURCE_FILE:
        source = await hass.async_add_executor_job(
            read_codec_file, hass, str(definition.get(CONF_PATH, ""))
        )
    else:
        source = str(definition.get(CONF_CODE, ""))
    return JsCodec(source)
