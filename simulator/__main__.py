"""
Run a simulator from the command line: ``python -m simulator <name> [options]``.

The subcommands are the ``COMMAND`` of every module of this package that declares one
(``simulator.command.Command``); each runs until interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import contextlib
import importlib
import pkgutil

import simulator

from .command import Command, Runner


def discover() -> dict[str, Command]:
    """Return the command each module of the package declares, by name."""
    commands: dict[str, Command] = {}
    owners: dict[str, str] = {}
    for module_info in pkgutil.iter_modules(simulator.__path__):
        if module_info.name.startswith("_"):
            continue
        name = f"{simulator.__name__}.{module_info.name}"
        command = getattr(importlib.import_module(name), "COMMAND", None)
        if not isinstance(command, Command):
            continue
        if command.name in commands:
            raise ValueError(f"{owners[command.name]} and {name} both declare {command.name!r}")
        commands[command.name], owners[command.name] = command, name
    return dict(sorted(commands.items()))


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser, one subcommand per simulator."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description="Fake LoRaWAN network servers."
    )
    subparsers = parser.add_subparsers(dest="vendor", required=True, metavar="vendor")
    for command in discover().values():
        command.add_to(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen simulator until Ctrl-C; return the exit status."""
    args = build_parser().parse_args(argv)
    run: Runner = args.run
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args, None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
