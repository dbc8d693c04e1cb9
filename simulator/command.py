"""
How a simulator appears on the command line: ``python -m simulator <name> [options]``.

A simulator module declares its subcommand as a module-level ``COMMAND`` (a ``Command``): its
name, help, default port, its own options and the coroutine that serves it, with demo devices,
until stopped. ``python -m simulator`` finds every module of this package that declares one, so
a new simulator is one new module.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterator
import contextlib
from dataclasses import dataclass
from typing import Any

type Runner = Callable[[argparse.Namespace, asyncio.Event | None], Coroutine[Any, Any, None]]
"""Serve a simulator as the parsed options say until the event is set (``None``: forever)."""


@dataclass(frozen=True, slots=True)
class Option:
    """A text option of one simulator's subcommand (``--app-id``) and its default."""

    flag: str
    default: str
    help: str


PUSH_URL = Option("--push-url", "", "where to push (the flow shows it)")
PUSH_HEADER = Option("--push-header", "", 'the header to send, e.g. "Authorization: Bearer ..."')


@dataclass(frozen=True, slots=True)
class Command:
    """
    One simulator's subcommand.

    Every subcommand takes ``--port`` (default ``port``), ``--devices``, ``--interval`` and
    ``--seed``, then its ``options``; the parsed options carry ``run``.
    """

    name: str
    help: str
    description: str
    port: int
    run: Runner
    options: tuple[Option, ...] = ()

    def add_to(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Add this subcommand and its options to ``subparsers``."""
        parser = subparsers.add_parser(self.name, help=self.help, description=self.description)
        parser.add_argument(
            "--port", type=int, default=self.port, help="TCP port (0: any free port)"
        )
        parser.add_argument("--devices", type=int, default=5, help="number of demo devices")
        parser.add_argument(
            "--interval",
            type=positive_float,
            default=5.0,
            help="seconds between a device's uplinks",
        )
        parser.add_argument("--seed", type=int, default=1, help="seed of the generated readings")
        for option in self.options:
            parser.add_argument(option.flag, default=option.default, help=option.help)
        parser.set_defaults(run=self.run)


def positive_float(text: str) -> float:
    """Read a number above zero (an option's value)."""
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


@dataclass(frozen=True, slots=True)
class DemoDevice:
    """A demo device: how it is described, what it simulates and where it is."""

    description: str
    kind: str
    lat: float | None = None
    lon: float | None = None


DEMO_DEVICES = (
    DemoDevice("Living room climate", "sensor", 52.0907, 5.1214),
    DemoDevice("Front door", "door"),
    DemoDevice("Garden tracker", "tracker", 52.0912, 5.1230),
    DemoDevice("Greenhouse climate", "sensor"),
    DemoDevice("Cellar climate", "sensor"),
)


def demo_device(index: int) -> tuple[str, str, DemoDevice]:
    """Return the stable DevEUI, DevAddr and description of demo device ``index``."""
    if index < len(DEMO_DEVICES):
        demo = DEMO_DEVICES[index]
    else:
        kind = ("sensor", "door", "tracker")[(index - len(DEMO_DEVICES)) % 3]
        label = {"sensor": "climate", "door": "door", "tracker": "tracker"}[kind]
        demo = DemoDevice(f"Room {index + 1} {label}", kind)
    return f"70B3D57ED005{index:04X}", f"260B{index:04X}", demo


def demo_devices(count: int) -> Iterator[tuple[str, str, DemoDevice]]:
    """Yield the DevEUI, DevAddr and description of the first ``count`` demo devices."""
    return map(demo_device, range(count))


def push_headers(header: str) -> dict[str, str]:
    """Read ``--push-header`` (``"Name: value"``; empty: no header) as headers."""
    name, _, value = header.partition(":")
    return {name.strip(): value.strip()} if value else {}


async def generate_until(stop: asyncio.Event | None, generator: Awaitable[None]) -> None:
    """Run a simulator's uplink generator until ``stop`` is set (or forever)."""
    task = asyncio.ensure_future(generator)
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
