"""The LoRaWAN Device Repository snapshot, partly unpacked, served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
import tarfile

from aiohttp import web

from .codecs.test_repository_conformance import Files, tarball

VENDORS = ("adeunis", "agriseen", "dragino", "seeed", "sensecap")
"""The vendors unpacked (with ``vendor/index.yaml``, which lists every vendor)."""


def unpack(folder: Path, vendors: Iterable[str] = VENDORS) -> Path:
    """Unpack the vendor index and the vendors' folders into ``folder``; return it."""
    wanted = set(vendors)
    with tarfile.open(tarball()) as archive:
        members = [
            member
            for member in archive.getmembers()
            if member.name == "vendor/index.yaml"
            or (member.name.count("/") >= 2 and member.name.split("/")[1] in wanted)
        ]
        archive.extractall(folder, members=members, filter="data")
    return folder


class RepositoryFiles(Files):
    """Serves the unpacked snapshot; records what is asked; fault knobs per path."""

    def __init__(self, folder: Path) -> None:
        """Serve ``folder``."""
        super().__init__(folder)
        self.requested: list[str] = []
        self.statuses: dict[str, int] = {}
        """Paths answered with an error status."""
        self.texts: dict[str, str] = {}
        """Paths answered with this text instead of the file."""

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        self.requested.append(path)
        if path in self.statuses:
            return web.Response(status=self.statuses[path])
        if path in self.texts:
            return web.Response(text=self.texts[path])
        return await super()._serve(request)

    def take_requests(self) -> list[str]:
        """Return the paths asked since the last call."""
        requested, self.requested = self.requested, []
        return requested
