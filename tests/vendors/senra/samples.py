"""The SenRa document's samples (tests/fixtures/senra/): loading them, and comparing shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
import json
from pathlib import Path
import shlex
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FIXTURES = Path(__file__).parents[2] / "fixtures" / "senra"
API_PREFIX = "/rest/integration/"


def text(name: str) -> str:
    """Return a fixture's text."""
    return (FIXTURES / name).read_text(encoding="utf-8")


def load(name: str) -> Any:
    """Return a JSON fixture."""
    return json.loads(text(name))


@dataclass
class CurlRequest:
    """One request of a curl example: method, endpoint (under /rest/integration/), query..."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    """The JSON of ``-d``."""
    form: dict[str, str] = field(default_factory=dict)
    """The multipart fields of ``-F`` (name → value as written)."""


def curl_requests(name: str) -> list[CurlRequest]:
    """Return the requests of a fixture holding one or more curl commands."""
    commands: list[list[str]] = []
    for token in shlex.split(text(name)):
        if token == "curl":
            commands.append([])
        else:
            commands[-1].append(token)
    return [_curl(arguments) for arguments in commands]


def _curl(arguments: list[str]) -> CurlRequest:
    method: str | None = None
    request = CurlRequest(method="", path="", query={})
    words = iter(arguments)
    for word in words:
        if word == "-H":
            header, _, value = next(words).partition(":")
            request.headers[header.strip().lower()] = value.strip()
        elif word == "-X":
            method = next(words)
        elif word == "-d":
            request.body = json.loads(next(words))
        elif word == "-F":
            key, _, value = next(words).partition("=")
            request.form[key] = value
        elif word.startswith("https://"):
            url = urlsplit(word)
            assert url.path.startswith(API_PREFIX), word
            request.path = url.path.removeprefix(API_PREFIX)
            request.query = dict(parse_qsl(url.query, keep_blank_values=True))
        elif word == ">":
            next(words)  # the shell's redirection of the answer to a file
        else:
            assert word == "--insecure", word
    request.method = method or ("POST" if request.body is not None or request.form else "GET")
    return request


def shape_differences(sample: Any, actual: Any, where: str = "$") -> list[str]:
    """
    Return where ``actual`` is not shaped like ``sample``: other keys, or other value types.

    An integer where the sample has a decimal number is the same shape (JSON has one number
    type; the document writes 903 and 913.3 for the same field). Each element of a list is
    compared with the sample's first.
    """
    if isinstance(sample, dict):
        if not isinstance(actual, dict):
            return [f"{where}: an object was expected"]
        differences = []
        if set(sample) != set(actual):
            differences.append(f"{where}: keys {sorted(set(sample) ^ set(actual))} differ")
        for key in set(sample) & set(actual):
            differences += shape_differences(sample[key], actual[key], f"{where}.{key}")
        return differences
    if isinstance(sample, list):
        if not isinstance(actual, list):
            return [f"{where}: a list was expected"]
        if not sample:
            return []
        differences = []
        for index, item in enumerate(actual):
            differences += shape_differences(sample[0], item, f"{where}[{index}]")
        return differences
    if isinstance(sample, bool) or isinstance(actual, bool):
        same = isinstance(sample, bool) and isinstance(actual, bool)
    elif isinstance(sample, float):
        same = isinstance(actual, int | float)
    else:
        same = type(sample) is type(actual)
    return [] if same else [f"{where}: {type(actual).__name__} for {type(sample).__name__}"]
