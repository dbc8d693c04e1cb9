"""
The sample messages of the Netemera API document, as fixture files, and readers for them.

Each sample request is a ``curl`` command (``<name>.request.sh``), each sample response an HTTP
message (``<name>.response.http``), copied from the document (``tests/fixtures/netemera``; its
README lists where each comes from and the repairs made).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import json
from pathlib import Path
import shlex
from typing import Any, Final

from yarl import URL

FIXTURES: Final = Path(__file__).parents[2] / "fixtures" / "netemera"
DOCUMENT_API: Final = "https://eu868.lorawan.netemera.com/api/v4"
DEV_EUI: Final = "70b3d5ca40000031"
"""What the tests put where a sample says ``DEV_EUI`` (no EUI: a placeholder to replace)."""


@dataclass(slots=True)
class SampleRequest:
    """A sample request: a curl command's method, URL, headers, body and user."""

    method: str
    url: URL
    headers: dict[str, str] = field(default_factory=dict)
    data: str | None = None
    user: str | None = None

    def json(self) -> Any:
        """The body as JSON."""
        assert self.data is not None
        return json.loads(self.data)

    def form(self) -> dict[str, str]:
        """The body as a form (``a=b&c=d``, as curl ``--data`` sends it)."""
        assert self.data is not None
        return dict(pair.split("=", 1) for pair in self.data.split("&"))


@dataclass(slots=True)
class SampleResponse:
    """A sample response: status, headers and body."""

    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def names() -> list[str]:
    """The name of every sample (a request and its response)."""
    return sorted({path.name.split(".")[0] for path in FIXTURES.glob("*.*.*")})


def _text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8").replace("DEV_EUI", DEV_EUI)


def request(name: str) -> SampleRequest:
    """Read ``<name>.request.sh``, with ``DEV_EUI`` replaced."""
    words = shlex.split(_text(f"{name}.request.sh").replace("\\\n", " "))
    assert words[0] == "curl"
    options: list[tuple[str, str]] = list(zip(words[1::2], words[2::2], strict=True))
    sample = SampleRequest(method="GET", url=URL())
    for option, value in options:
        if option == "--request":
            sample.method = value
        elif option == "--url":
            sample.url = URL(value)
        elif option == "--header":
            key, _colon, header = value.partition(":")
            sample.headers[key.strip()] = header.strip()
        elif option == "--data":
            sample.data = value
        elif option == "--user":
            sample.user = value
        else:
            raise AssertionError(f"{name}: unknown curl option {option}")
    return sample


def response(name: str) -> SampleResponse:
    """Read ``<name>.response.http``, with ``DEV_EUI`` replaced."""
    head, _blank, body = _text(f"{name}.response.http").partition("\n\n")
    status_line, *lines = head.splitlines()
    headers = {}
    for line in lines:
        key, _colon, value = line.partition(":")
        headers[key.strip()] = value.strip()
    return SampleResponse(int(status_line.split()[1]), headers, body)


def shape(value: Any) -> Any:
    """What a JSON value looks like: keys and types (numbers as one type, lists by item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def same_shape(actual: Any, sample: Any, path: str = "") -> list[str]:
    """
    Return how ``actual`` differs from the sample's shape (nothing: the same).

    The same keys, and the same type where both are given (``null``, an optional value left
    out, matches anything).
    """
    if isinstance(sample, dict) and isinstance(actual, dict):
        differences = []
        if actual.keys() != sample.keys():
            differences.append(f"{path}: keys {sorted(actual)} instead of {sorted(sample)}")
        for key in actual.keys() & sample.keys():
            differences += same_shape(actual[key], sample[key], f"{path}.{key}")
        return differences
    if isinstance(sample, list) and isinstance(actual, list):
        if not sample or not actual:
            return []
        return same_shape(actual[0], sample[0], f"{path}[0]")
    if actual is None or sample is None or shape(actual) == shape(sample):
        return []
    return [f"{path}: {shape(actual)} instead of {shape(sample)}"]
