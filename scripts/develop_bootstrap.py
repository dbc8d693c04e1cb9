"""
Prepare the local demo instance that scripts/develop starts.

Everything goes through Home Assistant's own HTTP and WebSocket APIs, the way the web UI does it
(``tests/e2e/home_assistant.py``, shared with the end-to-end tests), so the demo ends in the same
state a person clicking through the UI would reach. Runs with the demo venv's interpreter.

Subcommands:

``seed-http``
    Write ``.storage/http`` with the HTTP server settings already confirmed, unless it exists.
``setup``
    Wait for Home Assistant, onboard the demo user (or log in as it on later runs), check the
    WebSocket API answers, and add the LoRaWAN Hub config entry unless one exists.
"""

import argparse
import asyncio
from collections.abc import Mapping, Sequence
import os
from pathlib import Path
import re
import sys
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.home_assistant import (
    DOMAIN,
    Api,
    HomeAssistantError,
    JSONObject,
    seed_http_store,
)


def say(message: str) -> None:
    """Print a progress line at once (stdout may be a file or a pipe)."""
    print(message, flush=True)


def guess_country() -> str:
    """Return the locale's territory as the home country (the UI asks; the demo guesses)."""
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if match := re.match(r"[a-z]{2,3}_([A-Z]{2})\b", os.environ.get(variable, "")):
            return match.group(1)
    return "US"


def process_alive(pid: int) -> bool:
    """Return whether ``pid`` runs (a zombie that its parent has not reaped yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def exited(watched: Mapping[str, int]) -> str | None:
    """Say which of the processes the demo depends on has exited, if one has."""
    for name, pid in watched.items():
        if not process_alive(pid):
            return f"{name} exited (see its log)"
    return None


async def wait_for_entry(api: Api, entry_id: str, seconds: float) -> JSONObject:
    """Wait until the entry leaves the not-loaded/setting-up states; return it."""

    async def settled() -> JSONObject | None:
        entry = next((item for item in await api.entries() if item["entry_id"] == entry_id), None)
        if entry is None:
            raise HomeAssistantError(f"The new {DOMAIN} entry {entry_id} disappeared")
        return None if entry.get("state") in {"not_loaded", "setup_in_progress"} else entry

    try:
        entry: JSONObject = await api.wait_for(settled, f"the {DOMAIN} entry", seconds)
    except HomeAssistantError:
        return next(item for item in await api.entries() if item["entry_id"] == entry_id)
    return entry


async def setup(args: argparse.Namespace, watched: Mapping[str, int]) -> None:
    """Bring the running instance to a logged-in, onboarded state with a LoRaWAN Hub entry."""
    async with aiohttp.ClientSession() as session:
        api = Api(args.url, session)
        started = asyncio.get_running_loop().time()
        done = await api.wait_until_answering(args.timeout, lambda: exited(watched))
        say(f"Home Assistant answers after {asyncio.get_running_loop().time() - started:.0f} s")
        finished = await api.onboard(args.username, args.password, done, guess_country())
        if finished:
            say(f"Onboarding: finished {', '.join(finished)}")
        async with api.websocket() as ws:
            # The UI's first calls after login; if these answer, it will not hang on "Loading...".
            services = await ws.call("get_services")
            http_config = await ws.call("http/config")
        if not isinstance(services, dict) or "homeassistant" not in services:
            raise HomeAssistantError(f"get_services returned no core services: {services!r}")
        if isinstance(http_config, dict) and http_config.get("pending"):
            say("Warning: Home Assistant has unconfirmed HTTP settings (see Settings > System)")

        if entries := await api.entries():
            # Home Assistant answers before it sets up integrations; wait for the entry to load.
            entry = await wait_for_entry(api, str(entries[0]["entry_id"]), 120)
            how = "kept"
        else:
            result = await api.config_flow(
                DOMAIN,
                {
                    "user": {"vendor": "orion"},
                    "orion": {"url": args.lns_url, "app_id": args.app_id, "token": args.token},
                },
            )
            if result.get("type") != "create_entry":
                raise HomeAssistantError(f"The {DOMAIN} config flow ended with {result}")
            entry = await wait_for_entry(api, str(result["result"]["entry_id"]), 120)
            how = "created"
    state = entry.get("state")
    say(f"LoRaWAN Hub: {how} entry {entry.get('title')!r} ({state})")
    if state != "loaded":
        raise HomeAssistantError(
            f"The {DOMAIN} entry did not load: {state} {entry.get('reason') or ''}".rstrip()
            + " (see config/home-assistant.log)"
        )


def _watch_pair(value: str) -> tuple[str, int]:
    """Parse one ``NAME=PID`` argument."""
    name, _, pid = value.rpartition("=")
    if not name or not pid.isdigit():
        raise argparse.ArgumentTypeError(f"wants NAME=PID, not {value!r}")
    return name, int(pid)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)

    seed = commands.add_parser("seed-http", help="pre-confirm the HTTP server settings")
    seed.add_argument("--config", type=Path, required=True, help="Home Assistant config dir")
    seed.add_argument("--host", default="127.0.0.1")
    seed.add_argument("--port", type=int, default=8123)

    run = commands.add_parser("setup", help="onboard or log in, then add the LoRaWAN Hub entry")
    run.add_argument("--url", default="http://127.0.0.1:8123", help="Home Assistant base URL")
    run.add_argument("--username", default="demo")
    run.add_argument("--password", default="demo-password")
    run.add_argument("--lns-url", default="ws://127.0.0.1:8765/ws/v2/")
    run.add_argument("--app-id", default="demo-app")
    run.add_argument("--token", default="demo-token")
    run.add_argument("--timeout", type=float, default=600, help="seconds to wait for startup")
    run.add_argument(
        "--watch",
        action="append",
        default=[],
        type=_watch_pair,
        metavar="NAME=PID",
        help="stop waiting and fail if PID exits",
    )

    args: Any = parser.parse_args(argv)
    try:
        if args.command == "seed-http":
            if seed_http_store(args.config, args.host, args.port):
                say(f"Wrote {args.config / '.storage' / 'http'} ({args.host}:{args.port})")
            return 0
        asyncio.run(setup(args, dict(args.watch)))
    except HomeAssistantError as err:
        print(f"scripts/develop: {err}", file=sys.stderr)
        return 1
    except (OSError, aiohttp.ClientError) as err:
        print(f"scripts/develop: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
