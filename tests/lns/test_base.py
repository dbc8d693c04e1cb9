"""What every client shares: defaults for missing features, backoff and throttled logging."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from custom_components.lorawan_hub.lns import base
from custom_components.lorawan_hub.lns.base import (
    Backoff,
    NetworkServer,
    Sink,
    ThrottledLog,
    check_multicast_setup,
    no_gateways,
    reconnect_forever,
)
from custom_components.lorawan_hub.lns.errors import (
    AuthError,
    CannotConnect,
    InvalidRequest,
    Unsupported,
)
from custom_components.lorawan_hub.lns.models import (
    Downlink,
    LoRaClass,
    MulticastKeys,
    MulticastSetup,
    ServerDevice,
)


class MinimalServer(NetworkServer):
    """A vendor that only delivers uplinks."""

    vendor = "minimal"
    name = "Minimal"

    async def validate(self) -> None:
        """Accept anything."""

    async def list_devices(self) -> list[ServerDevice]:
        """List nothing."""
        return []

    async def run(self, sink: Sink) -> None:
        """Deliver nothing."""

    async def close(self) -> None:
        """Hold nothing."""


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("send_downlink", (Downlink(dev_eui="70B3D57ED0000001", f_port=1, payload=b""),)),
        ("set_device_class", ("70B3D57ED0000001", LoRaClass.C)),
        ("clear_downlink_queue", ("70B3D57ED0000001",)),
        ("request_device_status", ("70B3D57ED0000001",)),
        ("create_multicast_group", (MulticastSetup(name="valves"),)),
        ("delete_multicast_group", ("g",)),
        ("add_to_multicast_group", ("g", ["70B3D57ED0000001"])),
        ("remove_from_multicast_group", ("g", ["70B3D57ED0000001"])),
        ("send_multicast", ("g", 1, b"\x01")),
        ("multicast_group_status", ("g",)),
        ("rename_multicast_group", ("g", "valves")),
    ],
)
async def test_missing_features_are_unsupported(method: str, args: tuple[Any, ...]) -> None:
    """A feature a vendor lacks raises Unsupported naming the vendor, never a silent no-op."""
    server = MinimalServer()
    with pytest.raises(Unsupported, match="Minimal"):
        await getattr(server, method)(*args)
    assert await server.max_downlink_size("70B3D57ED0000001") is None


def test_backoff_doubles_with_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """1 s doubling to 5 min, each delay within ±20 %, back to 1 s after a reset."""
    monkeypatch.setattr(base, "RECONNECT_INITIAL", 1.0)
    backoff = Backoff()
    delays = [backoff.next_delay() for _ in range(12)]
    nominal = [min(2**index, 300) for index in range(12)]
    for delay, expected in zip(delays, nominal, strict=True):
        assert expected * 0.8 <= delay <= expected * 1.2
    backoff.reset()
    assert 0.8 <= backoff.next_delay() <= 1.2


def test_backoff_resets_only_after_a_connection_proved_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Opening is not enough: the delay keeps growing until data came or the link lasted."""
    monkeypatch.setattr(base, "RECONNECT_INITIAL", 1.0)
    now = [0.0]
    monkeypatch.setattr(base, "time", SimpleNamespace(monotonic=lambda: now[0]))
    backoff = Backoff()
    backoff.next_delay()
    for expected in (2, 4, 8):
        backoff.opened()  # accepted, then closed at once
        now[0] += 1.0
        assert expected * 0.8 <= backoff.next_delay() <= expected * 1.2
    backoff.opened()
    now[0] += base.STABLE_AFTER  # up for a while: it worked
    assert 0.8 <= backoff.next_delay() <= 1.2
    backoff.next_delay()
    backoff.opened()
    backoff.proven()  # data arrived
    assert 0.8 <= backoff.next_delay() <= 1.2


async def test_reconnect_forever(caplog: pytest.LogCaptureFixture) -> None:
    """Each end is a lost connection with its reason, a bug too; refused credentials end it."""
    outcomes: list[str | Exception] = [
        "closed by the server",
        CannotConnect("no route to host"),
        CannotConnect(),  # no reason given: its key
        KeyError("a bug"),
        AuthError("token refused"),
        "never reached",
    ]

    async def attempt() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    lost: list[tuple[bool, str | None]] = []
    sink = SimpleNamespace(connection_changed=lambda up, reason: lost.append((up, reason)))
    backoff = Backoff(initial=0.0)
    with pytest.raises(AuthError):
        await reconnect_forever(
            attempt, sink, backoff, logging.getLogger("test"), "connection to example.net"
        )
    assert lost == [
        (False, "closed by the server"),
        (False, "no route to host"),
        (False, "cannot_connect"),
        (False, "unexpected error"),
    ]
    assert outcomes == ["never reached"]
    assert "Unexpected error in the connection to example.net" in caplog.text


def test_throttled_log(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Repeats within the interval are counted and reported with the next message."""
    clock = iter([0.0, 1.0, 2.0, 100.0])
    monkeypatch.setattr(base, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    log = ThrottledLog(logging.getLogger("test.throttle"), interval=60)
    for index in range(4):
        log.warning("frame", "bad frame %d", index)  # noqa: PLE1205 - key, then the message
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["bad frame 0", "bad frame 3 (2 more since the last report)"]


def test_gateways_refused_where_the_vendor_chooses() -> None:
    """Gateways given to a vendor that picks its own are refused with their own message."""
    no_gateways("Minimal", ())
    with pytest.raises(InvalidRequest) as err:
        no_gateways("Minimal", ["00800000A0001234"])
    assert err.value.key == "multicast_gateways_unsupported"


@pytest.mark.parametrize(
    ("setup", "options", "key"),
    [
        (MulticastSetup(), {"names": True}, "multicast_name_required"),
        (MulticastSetup(name="g"), {"names": False}, "multicast_name_unsupported"),
        (MulticastSetup(name="g", tags=("t",)), {"names": True}, "multicast_tags_unsupported"),
        (
            MulticastSetup(tags=("t",), dev_euis=("70B3D57ED0000001",)),
            {"names": False, "tags": True},
            "multicast_members_twice",
        ),
        (
            MulticastSetup(name="g", keys=MulticastKeys.generate()),
            {"names": True, "given_keys": False},
            "multicast_keys_unsupported",
        ),
        (
            MulticastSetup(name="g", ping_slot_periodicity=3),
            {"names": True, "ping_slots": True},
            "multicast_ping_slot_class_b",
        ),
        (
            MulticastSetup(name="g", device_class=LoRaClass.B, ping_slot_periodicity=3),
            {"names": True},
            "multicast_ping_slot_unsupported",
        ),
    ],
)
def test_multicast_setup_refused_in_words(
    setup: MulticastSetup, options: dict[str, bool], key: str
) -> None:
    """What a vendor cannot use in a multicast setup is refused with its own message."""
    with pytest.raises(InvalidRequest) as err:
        check_multicast_setup("Minimal", setup, **options)
    assert err.value.key == key


def test_multicast_setup_accepted_and_keys_generated() -> None:
    """A setup the vendor can use passes; generated sessions are random and well formed."""
    check_multicast_setup(
        "Minimal",
        MulticastSetup(name="g", device_class=LoRaClass.B, ping_slot_periodicity=3),
        names=True,
        ping_slots=True,
    )
    first, second = MulticastKeys.generate(), MulticastKeys.generate()
    assert first != second
    assert (len(first.address), len(first.app_s_key), len(first.nwk_s_key)) == (8, 32, 32)
    assert first.address == first.address.upper()
