"""
The vendors: one module each, holding what Home Assistant needs to know about one network server.

Each module registers a ``VendorSpec`` (its client, config-flow steps, reauthentication fields,
secrets, push kinds, identity). This package imports them all: a module added here is a vendor
the user menu, reauthentication, reconfiguration, diagnostics and the simulators offer.
"""

from __future__ import annotations

from collections.abc import Mapping
import importlib
import pkgutil
from typing import Any

from ..const import CONF_VENDOR
from .flow import create_client
from .spec import REGISTRY, VendorSpec

_SHARED = frozenset({"flow", "spec"})

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _SHARED:
        importlib.import_module(f"{__name__}.{_module.name}")

VENDORS: Mapping[str, VendorSpec] = dict(sorted(REGISTRY.items(), key=lambda item: item[1].name))
"""Every vendor by id, by name."""


def spec_of(data: Mapping[str, Any]) -> VendorSpec | None:
    """Return the vendor of an entry's data, None for one this version does not know."""
    return VENDORS.get(data.get(CONF_VENDOR, ""))


__all__ = ["VENDORS", "VendorSpec", "create_client", "spec_of"]
