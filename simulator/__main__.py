"""
Run a vendor simulator from the command line: ``python -m simulator <vendor> [options]``.

Each vendor is a subcommand that adds its options and names the coroutine
that runs it until interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
import contextlib
from dataclasses import dataclass
from typing import Any

from .chirpstack import (
    DEFAULT_API_KEY as CHIRPSTACK_API_KEY,
    S2101_CATALOG_ID,
    S2101_NAME,
    SEEED_VENDOR_ID,
    SEEED_VENDOR_NAME,
    ChirpStackSimulator,
)
from .iotsquare import DEFAULT_TOKEN as IOTSQUARE_TOKEN, IotSquareSimulator
from .netemera import (
    DEFAULT_APPLICATION,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    NetemeraSimulator,
)
from .orbiwise import DEFAULT_PASSWORD, DEFAULT_USERNAME, OrbiWiseSimulator
from .orion import DEFAULT_APP_ID, DEFAULT_TOKEN, OrionSimulator
from .senra import DEFAULT_API_KEY, DEFAULT_APP_EUI, SenraSimulator


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


def add_demo_devices(simulator: OrionSimulator, count: int) -> None:
    """Register ``count`` demo devices with the simulator."""
    for index in range(count):
        dev_eui, dev_addr, demo = demo_device(index)
        simulator.add_device(
            dev_eui,
            dev_addr=dev_addr,
            description=demo.description,
            kind=demo.kind,
            lat=demo.lat,
            lon=demo.lon,
        )


async def _generate_until(stop: asyncio.Event | None, generator: Awaitable[None]) -> None:
    """Run a simulator's uplink generator until ``stop`` is set (or forever)."""
    task = asyncio.ensure_future(generator)
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run_orion(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Serve an OrionM2M simulator with demo devices until ``stop`` is set (or forever)."""
    simulator = OrionSimulator(app_id=args.app_id, token=args.token, port=args.port)
    add_demo_devices(simulator, args.devices)
    async with simulator:
        print(
            f"OrionM2M simulator: {simulator.url}?app_id={args.app_id}&token={args.token}"
            f" ({args.devices} devices, an uplink each every {args.interval:g} s)",
            flush=True,
        )
        await _generate_until(stop, simulator.run_generator(args.interval, seed=args.seed))


async def run_netemera(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Serve a Netemera simulator with demo devices until ``stop`` is set (or forever)."""
    simulator = NetemeraSimulator(
        client_id=args.client_id, client_secret=args.client_secret, port=args.port
    )
    simulator.add_application(args.application, "Demo application")
    for index in range(args.devices):
        dev_eui, dev_addr, demo = demo_device(index)
        simulator.add_device(
            dev_eui, args.application, name=demo.description, dev_addr=dev_addr, kind=demo.kind
        )
    async with simulator:
        print(
            f"Netemera simulator: API {simulator.api_url}, token endpoint {simulator.token_url},"
            f" client {args.client_id} / {args.client_secret}, application {args.application}"
            f" ({args.devices} devices, an uplink each every {args.interval:g} s)",
            flush=True,
        )
        await _generate_until(stop, simulator.run_generator(args.interval, seed=args.seed))


async def run_orbiwise(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Serve an OrbiWAN simulator with demo devices until ``stop`` is set (or forever)."""
    simulator = OrbiWiseSimulator(username=args.username, password=args.password, port=args.port)
    for index in range(args.devices):
        dev_eui, _dev_addr, demo = demo_device(index)
        simulator.add_node(dev_eui, comment=demo.description, kind=demo.kind)
    async with simulator:
        print(
            f"OrbiWise OrbiWAN simulator: {simulator.url}, user {args.username} /"
            f" {args.password} ({args.devices} devices, an uplink each every {args.interval:g} s)",
            flush=True,
        )
        await _generate_until(stop, simulator.run_generator(args.interval, seed=args.seed))


async def run_senra(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Serve a SenRa simulator, pushing demo uplinks to ``--push-url``, until ``stop`` is set."""
    simulator = SenraSimulator(api_key=args.api_key, app_eui=args.app_eui, port=args.port)
    for index in range(args.devices):
        dev_eui, dev_addr, demo = demo_device(index)
        simulator.add_device(dev_eui, metadata=demo.description, dev_addr=dev_addr, kind=demo.kind)
    if args.push_url:
        name, _, value = args.push_header.partition(":")
        simulator.notify_to(args.push_url, {name.strip(): value.strip()} if value else {})
    async with simulator:
        print(
            f"SenRa simulator: API {simulator.url}, key {args.api_key}, application"
            f" {args.app_eui} ({args.devices} devices, an uplink each every {args.interval:g} s"
            f" pushed to {args.push_url or 'nowhere yet: give --push-url'})",
            flush=True,
        )
        await _generate_until(stop, simulator.run_generator(args.interval, seed=args.seed))


async def run_iotsquare(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Serve an IoTSquare simulator pushing demo uplinks to ``--push-url`` until ``stop``."""
    simulator = IotSquareSimulator(token=args.token, port=args.port)
    name, _, value = args.push_header.partition(":")
    app = simulator.add_app(
        "demo_app",
        push_url=args.push_url,
        headers={name.strip(): value.strip()} if value else {},
    )
    for index in range(args.devices):
        dev_eui, dev_addr, demo = demo_device(index)
        simulator.add_device(
            app.app_id,
            dev_eui,
            demo.description,
            dev_addr=dev_addr.lower(),
            kind=demo.kind,
            support_class_c=demo.kind == "door",
        )
    async with simulator:
        print(
            f"IoTSquare simulator: API {simulator.url}, token {args.token}, application"
            f" {app.app_id} ({args.devices} devices, an uplink each every {args.interval:g} s"
            f" pushed to {args.push_url or 'nowhere yet: give --push-url'})",
            flush=True,
        )
        await _generate_until(stop, simulator.run_generator(args.interval, seed=args.seed))


S2101_DEV_EUI = "2CF7F1C04430004B"
"""The demo SenseCAP S2101 of the ChirpStack simulator."""


async def run_chirpstack(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Serve a ChirpStack simulator with demo devices and a SenseCAP S2101 until ``stop``."""
    simulator = ChirpStackSimulator(api_key=args.api_key, port=args.port)
    tenant = simulator.add_tenant(args.tenant)
    application = simulator.add_application(tenant.id, "Demo application")
    profile = simulator.add_device_profile(tenant.id, "Cayenne LPP")
    s2101 = simulator.add_device_profile(
        tenant.id,
        "SenseCAP S2101",
        vendor_id=SEEED_VENDOR_ID,
        vendor_name=SEEED_VENDOR_NAME,
        model_name=S2101_NAME,
        catalog_device_id=S2101_CATALOG_ID,
    )
    for index in range(args.devices):
        dev_eui, dev_addr, demo = demo_device(index)
        simulator.add_device(
            dev_eui,
            application.id,
            profile.id,
            name=demo.description,
            dev_addr=dev_addr,
            kind=demo.kind,
        )
    simulator.add_device(S2101_DEV_EUI, application.id, s2101.id, name="Office S2101", kind="s2101")
    async with simulator:
        print(
            f"ChirpStack simulator: {simulator.endpoint} (gRPC), API key {args.api_key}, tenant"
            f" {tenant.id}, application {application.id} ({args.devices} devices and a SenseCAP"
            f" S2101, an uplink each every {args.interval:g} s)",
            flush=True,
        )
        await _generate_until(stop, simulator.run_generator(args.interval, seed=args.seed))


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _add_common_arguments(parser: argparse.ArgumentParser, *, port: int) -> None:
    """Add the options every vendor's simulator takes: port, devices, interval and seed."""
    parser.add_argument("--port", type=int, default=port, help="TCP port (0: any free port)")
    parser.add_argument("--devices", type=int, default=5, help="number of demo devices")
    parser.add_argument(
        "--interval", type=_positive_float, default=5.0, help="seconds between a device's uplinks"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated readings")


def _add_orion(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "orion",
        help="OrionM2M network server (WebSocket API v2)",
        description="Serve a fake OrionM2M network server on 127.0.0.1 with demo devices.",
    )
    _add_common_arguments(parser, port=8765)
    parser.add_argument("--app-id", default=DEFAULT_APP_ID, help="the application id clients use")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the token clients use")
    parser.set_defaults(run=run_orion)


def _add_netemera(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "netemera",
        help="Netemera network server (OAuth 2.0, API v4, SSE uplinks)",
        description="Serve a fake Netemera network server on 127.0.0.1 with demo devices.",
    )
    _add_common_arguments(parser, port=8766)
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help="the OAuth 2.0 client id")
    parser.add_argument(
        "--client-secret", default=DEFAULT_CLIENT_SECRET, help="the OAuth 2.0 client secret"
    )
    parser.add_argument("--application", default=DEFAULT_APPLICATION, help="the application id")
    parser.set_defaults(run=run_netemera)


def _add_orbiwise(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "orbiwise",
        help="OrbiWise OrbiWAN network server (REST API, WebSocket and REST push)",
        description="Serve a fake OrbiWAN network server on 127.0.0.1 with demo devices.",
    )
    _add_common_arguments(parser, port=8767)
    parser.add_argument("--username", default=DEFAULT_USERNAME, help="the account's user name")
    parser.add_argument("--password", default=DEFAULT_PASSWORD, help="the account's password")
    parser.set_defaults(run=run_orbiwise)


def _add_senra(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "senra",
        help="SenRa / Senet network server (REST API and HTTP notifications)",
        description="Serve a fake SenRa network server on 127.0.0.1 that pushes demo uplinks.",
    )
    _add_common_arguments(parser, port=8768)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the API key clients use")
    parser.add_argument("--app-eui", default=DEFAULT_APP_EUI, help="the application's EUI")
    parser.add_argument("--push-url", default="", help="where to push (the flow shows it)")
    parser.add_argument(
        "--push-header", default="", help='the header to send, e.g. "Authorization: Bearer ..."'
    )
    parser.set_defaults(run=run_senra)


def _add_iotsquare(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "iotsquare",
        help="IoTSquare / RisingHF network server (OpenAPI and HTTP push)",
        description="Serve a fake IoTSquare network server on 127.0.0.1 that pushes demo uplinks.",
    )
    _add_common_arguments(parser, port=8769)
    parser.add_argument("--token", default=IOTSQUARE_TOKEN, help="the API token clients use")
    parser.add_argument("--push-url", default="", help="where to push (the flow shows it)")
    parser.add_argument(
        "--push-header", default="", help='the header to send, e.g. "Authorization: Bearer ..."'
    )
    parser.set_defaults(run=run_iotsquare)


def _add_chirpstack(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "chirpstack",
        help="ChirpStack v4 network server (gRPC API, for Home Assistant's chirpstack)",
        description="Serve a fake ChirpStack v4 gRPC API on 127.0.0.1 with demo devices.",
    )
    _add_common_arguments(parser, port=8770)
    parser.add_argument(
        "--api-key", default=CHIRPSTACK_API_KEY, help="the (admin) API key clients use"
    )
    parser.add_argument("--tenant", default="Demo tenant", help="the tenant's name")
    parser.set_defaults(run=run_chirpstack)


type Runner = Callable[[argparse.Namespace], Coroutine[Any, Any, None]]

VENDORS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    _add_orion,
    _add_netemera,
    _add_orbiwise,
    _add_senra,
    _add_iotsquare,
    _add_chirpstack,
)
"""Each adds one vendor's subcommand; its ``run`` default is a ``Runner``."""


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser, one subcommand per vendor."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description="Fake LoRaWAN network servers."
    )
    subparsers = parser.add_subparsers(dest="vendor", required=True, metavar="vendor")
    for add_vendor in VENDORS:
        add_vendor(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen simulator until Ctrl-C; return the exit status."""
    args = build_parser().parse_args(argv)
    run: Runner = args.run
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
