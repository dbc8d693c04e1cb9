"""The command line of the simulators: one subcommand per module that declares one."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
import importlib
from pathlib import Path
import sys

import pytest

import simulator
from simulator import __main__ as cli
from simulator.command import Command

DEFAULTS: dict[str, tuple[int, dict[str, str]]] = {
    "chirpstack": (8770, {"api_key": "demo-api-key", "tenant": "Demo tenant"}),
    "iotsquare": (
        8769,
        {"token": "demo-iotsquare-token-0123456789abcdef", "push_url": "", "push_header": ""},
    ),
    "netemera": (
        8766,
        {
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "application": "demo-application",
        },
    ),
    "orbiwise": (8767, {"username": "demo-user", "password": "demo-password"}),
    "orion": (8765, {"app_id": "demo-app", "token": "demo-token"}),
    "senra": (
        8768,
        {
            "api_key": "AK2:demo0123456789demo0123456789demo012345678",
            "app_eui": "70B3D57ED0FFFF01",
            "push_url": "",
            "push_header": "",
        },
    ),
}
"""Each subcommand's default port and the defaults of its own options."""


def subcommands(parser: argparse.ArgumentParser) -> list[str]:
    """The subcommand names ``parser`` accepts, in the order its help lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    raise AssertionError("no subcommands")


@pytest.fixture
def extra_simulators(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder whose modules count as modules of the ``simulator`` package."""
    monkeypatch.setattr(simulator, "__path__", [*simulator.__path__, str(tmp_path)])
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]
    importlib.invalidate_caches()


def write_simulator(folder: Path, module: str, name: str) -> None:
    """Write a simulator module named ``module`` whose subcommand is ``name``."""
    (folder / f"{module}.py").write_text(
        "import argparse\n"
        "import asyncio\n\n"
        "from simulator.command import Command, Option\n\n\n"
        "async def run(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:\n"
        "    print('served', args.colour)\n\n\n"
        f"COMMAND = Command({name!r}, 'a new server', 'Serve it.', 9000, run,"
        " (Option('--colour', 'blue', 'its colour'),))\n"
    )
    importlib.invalidate_caches()


def test_cli_lists_exactly_the_registered_simulators(capsys: pytest.CaptureFixture[str]) -> None:
    """Every vendor module's command is a subcommand, and nothing else is."""
    commands = cli.discover()
    assert list(commands) == sorted(DEFAULTS)
    assert subcommands(cli.build_parser()) == list(commands)
    for name, command in commands.items():
        module = importlib.import_module(f"simulator.{name}")
        assert module.COMMAND is command
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args(["--help"])
    assert exited.value.code == 0
    listed = " ".join(capsys.readouterr().out.split())
    assert all(command.help in listed for command in commands.values())


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_cli_subcommand_parses_its_defaults(name: str) -> None:
    """A subcommand alone gives the common defaults, its port and its own options' defaults."""
    command = cli.discover()[name]
    args = cli.build_parser().parse_args([name])
    port, options = DEFAULTS[name]
    assert (args.vendor, args.port, args.devices, args.interval, args.seed) == (
        name,
        port,
        5,
        5.0,
        1,
    )
    assert {key: vars(args)[key] for key in options} == options
    assert {option.flag for option in command.options} == {
        "--" + key.replace("_", "-") for key in options
    }
    assert args.run is command.run


def test_cli_new_module_is_a_new_subcommand(
    extra_simulators: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A module declaring a ``COMMAND`` is all a new simulator needs to be on the command line."""
    write_simulator(extra_simulators, "newserver", "newserver")
    assert "newserver" in subcommands(cli.build_parser())
    assert cli.main(["newserver", "--colour", "green"]) == 0
    assert capsys.readouterr().out == "served green\n"
    command = cli.discover()["newserver"]
    assert isinstance(command, Command)
    assert command.port == 9000


def test_cli_refuses_two_simulators_of_one_name(extra_simulators: Path) -> None:
    """Two modules declaring the same subcommand name are an error naming both."""
    write_simulator(extra_simulators, "second_orion", "orion")
    with pytest.raises(ValueError, match=r"simulator\.orion and simulator\.second_orion"):
        cli.discover()
