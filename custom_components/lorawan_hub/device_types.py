"""
Device types: a JavaScript codec shared by the devices that use it (options of an entry).

A device type's codec is pasted into the options, read from a ``.js`` file under the
configuration directory, or fetched from the LoRaWAN Device Repository by vendor, model and
firmware (self-tested with its examples, then kept on disk). Devices choose a device type as their
payload decoder.
"""

from __future__ import annotations

from collections.abc import Mapping
import hashlib
import json
from pathlib import Path
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.storage import STORAGE_DIR

from .codecs import repository
from .codecs.javascript import MAX_SOURCE, CodecError, JsCodec, JsRunner
from .codecs.repository import async_fetch_codec, self_test

CONF_DEVICE_TYPES: Final = "device_types"
"""Options key: device type id → its definition."""
CONF_NAME: Final = "name"
CONF_SOURCE: Final = "source"
CONF_CODE: Final = "code"
CONF_PATH: Final = "path"
CONF_VENDOR_ID: Final = "vendor_id"
CONF_MODEL: Final = "model"
CONF_FIRMWARE: Final = "firmware"
SOURCE_PASTE: Final = "paste"
SOURCE_FILE: Final = "file"
SOURCE_REPOSITORY: Final = "repository"
SOURCES: Final = (SOURCE_PASTE, SOURCE_FILE, SOURCE_REPOSITORY)
CACHE_FOLDER: Final = "lorawan_hub_codecs"
"""Under ``.storage``: the codecs fetched from the repository."""

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


def _cache_path(hass: HomeAssistant, definition: Mapping[str, Any]) -> Path:
    key = "/".join(
        str(definition.get(name, "")) for name in (CONF_VENDOR_ID, CONF_MODEL, CONF_FIRMWARE)
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return Path(hass.config.path(STORAGE_DIR, CACHE_FOLDER, f"{digest}.json"))


def _read_cache(path: Path) -> str | None:
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
    except OSError, ValueError:
        return None
    source = cached.get("source") if isinstance(cached, dict) else None
    return source if isinstance(source, str) else None


def _write_cache(path: Path, definition: Mapping[str, Any], source: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {name: definition.get(name) for name in (CONF_VENDOR_ID, CONF_MODEL, CONF_FIRMWARE)}
    path.write_text(json.dumps({**record, "source": source}), encoding="utf-8")


async def async_fetch_tested_codec(
    hass: HomeAssistant, definition: Mapping[str, Any], runner: JsRunner
) -> tuple[JsCodec, int]:
    """
    Fetch a device's codec from the repository, run its examples, and keep it on disk.

    Returns the codec and how many examples it passed; CodecError when it cannot be used.
    """
    source, examples = await async_fetch_codec(
        async_get_clientsession(hass),
        repository.DEFAULT_REPOSITORY,
        str(definition.get(CONF_VENDOR_ID, "")).strip().lower(),
        str(definition.get(CONF_MODEL, "")).strip().lower(),
        str(definition.get(CONF_FIRMWARE, "")).strip(),
    )
    codec = JsCodec(source)
    passed = await runner.run(self_test, codec, examples)
    await hass.async_add_executor_job(
        _write_cache, _cache_path(hass, definition), definition, source
    )
    return codec, passed


async def async_load_codec(hass: HomeAssistant, definition: Mapping[str, Any]) -> JsCodec:
    """Return the codec of a device type (not compiled yet); CodecError when it has none."""
    if definition.get(CONF_SOURCE) == SOURCE_REPOSITORY:
        path = _cache_path(hass, definition)
        if (source := await hass.async_add_executor_job(_read_cache, path)) is not None:
            return JsCodec(source)
        async with JsRunner() as runner:
            tested, _passed = await async_fetch_tested_codec(hass, definition, runner)
        # A context never changes threads: the caller's thread compiles its own.
        return JsCodec(tested.source)
    if definition.get(CONF_SOURCE) == SOURCE_FILE:
        source = await hass.async_add_executor_job(
            read_codec_file, hass, str(definition.get(CONF_PATH, ""))
        )
    else:
        source = str(definition.get(CONF_CODE, ""))
    return JsCodec(source)
