"""The LoRaWAN Device Repository for a Home Assistant process that reaches no network."""

from __future__ import annotations

from collections.abc import Iterable
import json
from pathlib import Path

import aiohttp

from custom_components.lorawan_hub.codecs.catalog import Catalog
from custom_components.lorawan_hub.codecs.repository import DEFAULT_REPOSITORY, async_fetch_codec
from custom_components.lorawan_hub.device_types import (
    CACHE_FOLDER,
    CATALOG_FOLDER,
    CONF_BAND,
    CONF_FIRMWARE,
    CONF_HARDWARE_VERSION,
    CONF_MODEL,
    CONF_VENDOR_ID,
    codec_cache_file,
    write_codec_cache,
)
from tests.repository_server import RepositoryFiles, unpack


async def keep_repository(
    config: Path,
    work: Path,
    vendors: Iterable[str],
    discovered: Iterable[tuple[str, str]] = (),
) -> None:
    """
    Keep the repository's lists, and codecs, in the instance's storage as if it had fetched them.

    The lists of ``vendors``; the codecs chosen for the ``discovered`` devices (vendor and
    device ids) whose firmware and band are not known. They are made from the snapshot, served
    on 127.0.0.1: what the instance keeps of the repository it uses, the public one.
    """
    vendors = list(vendors)
    kept = work / "kept"
    async with (
        RepositoryFiles(unpack(work / "repository", vendors)) as files,
        aiohttp.ClientSession() as session,
    ):
        catalog = Catalog(session, files.base_url, kept)
        await catalog.async_vendors()
        for vendor in vendors:
            await catalog.async_devices(vendor)
        for vendor, device in discovered:
            choice = (await catalog.async_device(vendor, device)).default_choice()
            definition = {
                CONF_VENDOR_ID: vendor,
                CONF_MODEL: device,
                CONF_FIRMWARE: choice.firmware,
                CONF_BAND: choice.band or "",
                CONF_HARDWARE_VERSION: choice.hardware or "",
            }
            fetched = await async_fetch_codec(
                session,
                files.base_url,
                definition[CONF_VENDOR_ID],
                definition[CONF_MODEL],
                definition[CONF_FIRMWARE],
                band=definition.get(CONF_BAND) or None,
                hardware=definition.get(CONF_HARDWARE_VERSION) or None,
            )
            write_codec_cache(
                config / ".storage" / CACHE_FOLDER / codec_cache_file(definition),
                definition,
                fetched.sources,
            )
    storage = config / ".storage" / CATALOG_FOLDER
    storage.mkdir(parents=True, exist_ok=True)
    for path in kept.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        (storage / path.name).write_text(
            json.dumps({**data, "repository": DEFAULT_REPOSITORY}), encoding="utf-8"
        )
