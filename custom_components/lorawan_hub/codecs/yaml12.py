"""
YAML 1.2 (core schema) on top of PyYAML's safe loader.

PyYAML reads YAML 1.1: ``on``/``off``/``yes``/``no`` become booleans, ``1:20`` becomes 80 (base
60), ``012`` octal and ``2024-06-17`` a date. The LoRaWAN Device Repository is YAML 1.2 (its own
validator reads it so), where all of those are strings or decimal numbers. This loader keeps
PyYAML's parser (libyaml's when present) and swaps the 1.1 implicit types for the 1.2 core
schema's: null, true/false, decimal/0o/0x integers, floats, .inf and .nan. Nothing else (no
merge keys, no timestamps, no tags beyond the core schema's) is recognised implicitly.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

import yaml

_NULL: Final = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL: Final = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT: Final = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT: Final = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)

_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Yaml12Loader(_BASE):  # type: ignore[misc]
    """A safe loader whose implicit types are YAML 1.2's core schema."""

    yaml_implicit_resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}


def _int(loader: Any, node: Any) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _float(loader: Any, node: Any) -> float:
    text = str(loader.construct_scalar(node)).lower()
    if text.endswith(".inf"):
        return -math.inf if text.startswith("-") else math.inf
    if text == ".nan":
        return math.nan
    return float(text)


def _bool(loader: Any, node: Any) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", _BOOL, list("tTfF")),
    ("tag:yaml.org,2002:int", _INT, list("-+0123456789")),
    ("tag:yaml.org,2002:float", _FLOAT, list("-+.0123456789")),
):
    Yaml12Loader.add_implicit_resolver(_tag, _pattern, _first)
Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _int)
Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _float)
Yaml12Loader.add_constructor("tag:yaml.org,2002:bool", _bool)


def load(text: str) -> Any:
    """
    Parse one YAML 1.2 document; ``yaml.YAMLError`` when it is not valid YAML.

    A value that an explicit tag cannot hold (``!!int abc``) is a ``yaml.YAMLError`` too.
    """
    try:
        return yaml.load(text, Loader=Yaml12Loader)  # noqa: S506 - a safe loader
    except (ValueError, TypeError, RecursionError) as err:
        raise yaml.YAMLError(f"{type(err).__name__}: {err}") from None
