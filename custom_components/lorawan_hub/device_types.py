"""
Device types: a JavaScript codec shared by the devices that use it (options of an entry).

A device type's codec is pasted into the options, or read from a ``.js`` file under the
configuration directory. Devices choose a device type as their payload decoder.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from homeassistant.core import HomeAssistant

from .codecs.javascript import MAX_SOURCE, CodecError, JsCodec

CONF_DEVICE_TYPES: Final = "device_types"
"""Options key: device type id → its definition."""
CONF_NAME: Final = "name"
CONF_SOURCE: Final = "source"
CONF_CODE: Final = "code"
CONF_PATH: Final = "path"
SOURCE_PASTE: Final = "paste"
SOURCE_FILE: Final = "file"
SOURCES: Final = (SOURCE_PASTE, SOURCE_FILE)

JS_PREFIX: Final = "js:"
"""A device's codec choice naming a device type: ``js:<device type id>``."""


def codec_choice(type_id: str) -> str:
    """Return the codec choice of a device that uses device type ``type_id``."""
    return f"{JS_PREFIX}{type_id}"


def config_path(hass: HomeAssistant, name: str) -> Path | None:
    """
    Return ``name`` resolved under the configuration directory, None when it is elsewhere.

    Hidden places (``.storage`` holds credentials) do not count as under it.
    """
    config = Path(hass.config.config_dir).resolve()
    path = Path(hass.config.path(name)).resolve()
    if not path.is_relative_to(config) or any(
        part.startswith(".") for part in path.relative_to(config).parts
    ):
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


async def async_load_codec(hass: HomeAssistant, definition: Mapping[str, Any]) -> JsCodec:
    """Return the codec of a device type (not compiled yet); CodecError when it has none."""
    if definition.get(CONF_SOURCE) == SOURCE_FILE:
        source = await hass.async_add_executor_job(
            read_codec_file, hass, str(definition.get(CONF_PATH, ""))
        )
    else:
        source = str(definition.get(CONF_CODE, ""))
    return JsCodec(source)
