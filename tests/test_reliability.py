"""No value stops anything: bad values, failing entities, late copies and replays of uplinks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import logging
from pathlib import Path
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
import pytest

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.lorawan_hub.const import CONF_CODEC, CONF_DEVICES, CONF_F_PORT, DOMAIN
from custom_components.lorawan_hub.coordinator import LoRaWANHubCoordinator
from custom_components.lorawan_hub.device_types import (
    CONF_CODE,
    CONF_DEVICE_TYPES,
    CONF_NAME,
    CONF_SOURCE,
)
from custom_components.lorawan_hub.lns.base import ThrottledLog
from custom_components.lorawan_hub.lns.models import Uplink
from custom_components.lorawan_hub.lns.orion import OrionClient
from custom_components.lorawan_hub.sensor import FieldSensor, epoch_to_datetime
from simulator.orion import OrionSimulator

from .conftest import EventRecorder, state_of

DOOR = "70B3D57ED0000002"
CLIMATE = "70B3D57ED0000001"
START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
# Cayenne LPP: temperature channel 1 = 22.5 °C.
LPP_22_5 = bytes.fromhex("016700E1")

# A codec that shows what it was given, a time in milliseconds, and a long refusal.
ECHO_CODEC = """
function decodeUplink(input) {
  if (input.bytes[0] === 0xEE) {
    var errors = [];
    for (var i = 0; i < 4000; i++) { errors.push("byte " + i + " is not what this codec expects"); }
    return { errors: errors };
  }
  return { data: { port: input.fPort, first: input.bytes[0], timestamp: 1700000000000 } };
}
"""


def uplink(dev_eui: str, payload: bytes, at: datetime, f_cnt: int, **fields: Any) -> Uplink:
    """Return an uplink as a client delivers it."""
    return Uplink(
        dev_eui=dev_eui,
        received_at=at,
        f_port=fields.pop("f_port", 2),
        f_cnt=f_cnt,
        payload=payload,
        **fields,
    )


def coordinator_of(entry: MockConfigEntry) -> LoRaWANHubCoordinator:
    """Return the entry's coordinator."""
    coordinator: LoRaWANHubCoordinator = entry.runtime_data
    return coordinator


async def load_with_echo_codec(
    hass: HomeAssistant, entry: MockConfigEntry, orion: OrionSimulator, **device: Any
) -> MockConfigEntry:
    """Set the Orion entry up with the echo codec as the climate device's device type."""
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry,
        options={
            CONF_DEVICE_TYPES: {
                "echo": {CONF_NAME: "Echo", CONF_SOURCE: "paste", CONF_CODE: ECHO_CODEC}
            },
            CONF_DEVICES: {CLIMATE: {CONF_CODEC: "js:echo", **device}},
        },
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await orion.wait_for_consumers(1)
    return entry


def test_epochs_in_every_unit() -> None:
    """Seconds, milliseconds, microseconds and nanoseconds mean the same instant."""
    instant = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    for value in (1_700_000_000, 1_700_000_000_000, 1.7e15, 1.7e18):
        assert epoch_to_datetime(value) == instant
    for value in (1e20, -1e20, -5, 8e9, float("nan"), float("inf")):
        assert epoch_to_datetime(value) is None


async def test_timestamp_values_out_of_range_are_dropped_alone(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    uplinks: EventRecorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A millisecond epoch is a time; one out of any range drops that value, nothing else."""
    coordinator = coordinator_of(loaded_orion_entry)
    coordinator.uplink(
        uplink(DOOR, b"", START, 1, decoded={"unix_time": 1_700_000_000_000, "count": 1})
    )
    await uplinks.wait(1)
    assert state_of(hass, "sensor.front_door_unix_time") == "2023-11-14T22:13:20+00:00"
    coordinator.uplink(
        uplink(DOOR, b"", START + timedelta(minutes=1), 2, decoded={"unix_time": 1e20, "count": 2})
    )
    await uplinks.wait(2)
    assert state_of(hass, "sensor.front_door_unix_time") == "unknown"
    assert state_of(hass, "sensor.front_door_count") == "2"
    assert "Dropped unix_time of 70B3D57ED0000002: 1e+20 is not a time" in caplog.text
    # The warning is rate-limited: a device that keeps sending such values is reported once.
    coordinator.uplink(
        uplink(DOOR, b"", START + timedelta(minutes=2), 3, decoded={"unix_time": 1e21, "count": 3})
    )
    await uplinks.wait(3)
    assert state_of(hass, "sensor.front_door_count") == "3"
    assert caplog.text.count("is not a time") == 1
    # The connection goes on: a reconnect does not raise again, the entry unloads and saves.
    coordinator.connection_changed(False, "test")
    coordinator.connection_changed(True, None)
    assert state_of(hass, "sensor.front_door_count") == "3"
    assert await hass.config_entries.async_unload(loaded_orion_entry.entry_id)
    assert loaded_orion_entry.state is ConfigEntryState.NOT_LOADED


async def test_an_entity_that_fails_stops_nothing(
    hass: HomeAssistant,
    orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One entity raising: the codec worker, the other entities and the unload go on."""
    entry = await load_with_echo_codec(hass, orion_entry, orion)
    coordinator = coordinator_of(entry)
    real = FieldSensor._convert

    def broken(sensor: FieldSensor, value: Any) -> Any:
        if sensor.entity_id.endswith("_first"):
            raise RuntimeError("a broken entity")
        return real(sensor, value)

    with patch.object(FieldSensor, "_convert", broken):
        coordinator.uplink(uplink(CLIMATE, b"\x05", START, 1))
        await uplinks.wait(1)
        coordinator.uplink(uplink(CLIMATE, b"\x06", START + timedelta(seconds=1), 2))
        coordinator.uplink(uplink(DOOR, LPP_22_5, START + timedelta(seconds=2), 3))
        coordinator.connection_changed(False, "test")  # writes every entity
        coordinator.connection_changed(True, None)
        events = await uplinks.wait(3)
    # The codec thread lived on to decode the second uplink.
    assert sorted(str(event.data["decoded"].get("first")) for event in events) == ["5", "6", "None"]
    assert state_of(hass, "sensor.living_room_climate_port") == "2"
    assert state_of(hass, "sensor.front_door_temperature_1") == "22.5"
    assert "An entity of 70B3D57ED0000001 failed to show first" in caplog.text
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_a_failed_connection_task_does_not_stop_the_unload(
    hass: HomeAssistant,
    orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A connection task that died of a bug, a close that fails: the entry still unloads."""

    async def died(self: OrionClient, sink: object) -> None:
        raise RuntimeError("a bug in the client")

    with patch.object(OrionClient, "run", died):
        orion_entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(orion_entry.entry_id)
        await hass.async_block_till_done()
    client = coordinator_of(orion_entry).client
    close = client.close

    async def close_then_fail() -> None:
        await close()
        raise RuntimeError("close failed")

    with patch.object(client, "close", close_then_fail):
        assert await hass.config_entries.async_unload(orion_entry.entry_id)
    assert orion_entry.state is ConfigEntryState.NOT_LOADED
    assert "The connection task had failed" in caplog.text
    assert "did not close cleanly" in caplog.text


async def test_replay_key_recorded_only_once_delivered(
    hass: HomeAssistant, loaded_orion_entry: MockConfigEntry, uplinks: EventRecorder
) -> None:
    """A delivery that failed leaves the uplink to be taken again when the server resends it."""
    coordinator = coordinator_of(loaded_orion_entry)
    first = uplink(DOOR, LPP_22_5, START, 7)
    with patch.object(coordinator, "_show", side_effect=RuntimeError("failed delivery")):
        coordinator.uplink(first)  # logged, not raised
    assert not uplinks.events
    coordinator.uplink(uplink(DOOR, LPP_22_5, START, 7))
    await uplinks.wait(1)
    coordinator.uplink(uplink(DOOR, LPP_22_5, START, 7))  # now a replay
    await hass.async_block_till_done()
    assert len(uplinks.events) == 1
    assert coordinator.duplicates == 1


async def test_uplinks_waiting_for_their_codec_are_not_taken_twice(
    hass: HomeAssistant,
    orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """A copy that arrives while the first waits for its codec is a replay."""
    entry = await load_with_echo_codec(hass, orion_entry, orion)
    coordinator = coordinator_of(entry)
    coordinator.uplink(uplink(CLIMATE, b"\x01", START, 1))
    coordinator.uplink(uplink(CLIMATE, b"\x01", START, 1))
    await uplinks.wait(1)
    await hass.async_block_till_done()
    assert len(uplinks.events) == 1
    assert coordinator.duplicates == 1


async def test_late_uplinks_never_replace_newer_values(
    hass: HomeAssistant, loaded_orion_entry: MockConfigEntry, uplinks: EventRecorder
) -> None:
    """An older uplink fires its event (late) but leaves the values; old replays are dropped."""
    coordinator = coordinator_of(loaded_orion_entry)
    coordinator.uplink(uplink(DOOR, bytes.fromhex("016700C8"), START, 10))  # 20.0 °C
    coordinator.uplink(uplink(DOOR, bytes.fromhex("01670032"), START - timedelta(hours=1), 5))
    events = await uplinks.wait(2)
    assert events[1].data["late"] is True
    assert events[1].data["decoded"] == {"temperature_1": 5.0}
    assert "late" not in events[0].data
    assert state_of(hass, "sensor.front_door_temperature_1") == "20.0"
    state = coordinator.devices[DOOR]
    assert state.last_seen == START
    # Many newer uplinks later, the late one comes again (a store entry deleted twice): dropped.
    for index in range(20):
        coordinator.uplink(uplink(DOOR, LPP_22_5, START + timedelta(minutes=index + 1), 11 + index))
    await uplinks.wait(22)
    coordinator.uplink(uplink(DOOR, bytes.fromhex("01670032"), START - timedelta(hours=1), 5))
    coordinator.uplink(uplink(DOOR, bytes.fromhex("016700C8"), START, 10))
    await hass.async_block_till_done()
    assert len(uplinks.events) == 22
    assert coordinator.duplicates == 2
    assert state_of(hass, "sensor.front_door_temperature_1") == "22.5"


async def test_port_zero_is_never_decoded(
    hass: HomeAssistant,
    orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """Port 0 carries MAC commands: no Cayenne fields, no codec run, no repair; the event fires."""
    entry = await load_with_echo_codec(hass, orion_entry, orion)
    coordinator = coordinator_of(entry)
    coordinator.uplink(uplink(DOOR, LPP_22_5, START, 1, f_port=0))
    coordinator.uplink(uplink(CLIMATE, b"\xee", START, 1, f_port=0))
    events = await uplinks.wait(2)
    assert [event.data["decoded"] for event in events] == [{}, {}]
    assert [event.data["f_port"] for event in events] == [0, 0]
    assert hass.states.get("sensor.front_door_temperature_1") is None
    assert not ir.async_get(hass).issues


async def test_the_port_of_a_device_whose_server_reports_none(
    hass: HomeAssistant,
    orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """OrionM2M frames carry no port: the device's port setting is decoded and reported."""
    entry = await load_with_echo_codec(hass, orion_entry, orion, **{CONF_F_PORT: 9})
    coordinator = coordinator_of(entry)
    coordinator.uplink(uplink(CLIMATE, b"\x01", START, 1, f_port=None))
    coordinator.uplink(uplink(DOOR, LPP_22_5, START, 1, f_port=None))
    events = await uplinks.wait(2)
    by_device = {event.data["dev_eui"]: event.data for event in events}
    assert by_device[CLIMATE]["f_port"] == 9
    assert by_device[CLIMATE]["decoded"]["port"] == 9
    assert by_device[DOOR]["f_port"] == 1  # the default
    # A port the server does report is kept.
    coordinator.uplink(uplink(CLIMATE, b"\x01", START + timedelta(seconds=1), 2, f_port=4))
    events = await uplinks.wait(3)
    assert events[2].data["decoded"]["port"] == 4


async def test_long_codec_errors_are_cut_in_the_repair(
    hass: HomeAssistant,
    orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
) -> None:
    """A codec that returns thousands of errors gives a repair of readable length."""
    entry = await load_with_echo_codec(hass, orion_entry, orion)
    coordinator_of(entry).uplink(uplink(CLIMATE, b"\xee", START, 1))
    await uplinks.wait(1)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"codec_{entry.entry_id}_{CLIMATE}")
    assert issue is not None
    assert issue.translation_placeholders is not None
    reason = issue.translation_placeholders["reason"]
    assert reason.startswith("byte 0 is not what this codec expects")
    assert len(reason) == 500
    assert reason.endswith("…")


async def test_stored_state_that_cannot_be_read(
    hass: HomeAssistant,
    orion_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A stored entity that cannot be read is dropped alone; the entry loads."""
    hass_storage[f"{DOMAIN}.{orion_entry.entry_id}"] = {
        "version": 1,
        "data": {
            "devices": {
                DOOR: {
                    "fields": [
                        {"key": "temperature_1", "platform": "sensor", "unit": "°C"},
                        {"key": "broken", "platform": "no-such-platform"},
                    ],
                    "recent": [[1, START.isoformat()]],
                    "forgotten_until": (START - timedelta(days=1)).isoformat(),
                }
            }
        },
    }
    orion_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(orion_entry.entry_id)
    await hass.async_block_till_done()
    state = coordinator_of(orion_entry).devices[DOOR]
    assert list(state.fields) == ["temperature_1"]
    assert state.forgotten_until == START - timedelta(days=1)
    assert state.is_duplicate((1, START))
    assert "Dropped a stored entity of 70B3D57ED0000002" in caplog.text


@pytest.mark.parametrize(
    "name",
    [
        "secrets.yaml",
        "packages/secrets.yaml",
        "configuration.yaml",
        "home-assistant_v2.db",
        "home-assistant.log.1",
        "firmware/a\x00.bin",
    ],
)
async def test_firmware_never_read_from_private_files(
    hass: HomeAssistant, loaded_orion_entry: MockConfigEntry, name: str
) -> None:
    """Secrets, configuration, the database and logs are never sent as firmware."""
    config = Path(hass.config.config_dir)
    (config / "packages").mkdir(exist_ok=True)
    for private in ("secrets.yaml", "packages/secrets.yaml", "configuration.yaml"):
        (config / private).write_text("password: hunter2\n")
    with (
        patch.object(
            type(coordinator_of(loaded_orion_entry).client), "capabilities", frozenset(["fuota"])
        ),
        pytest.raises(ServiceValidationError) as raised,
    ):
        await hass.services.async_call(
            DOMAIN,
            "start_fuota",
            {"config_entry_id": loaded_orion_entry.entry_id, "group_id": "g", "firmware": name},
            blocking=True,
        )
    assert raised.value.translation_key == "firmware_outside_config"


def test_throttled_exception_logs_the_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """Rate-limited errors keep their traceback."""
    log = ThrottledLog(logging.getLogger("test.reliability"))
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("key", "failed %s", "once")  # noqa: PLE1205 - key, then the message
        log.exception("key", "failed %s", "twice")  # noqa: PLE1205 - key, then the message
    assert [record.getMessage() for record in caplog.records] == ["failed once"]
    assert caplog.records[0].exc_info is not None


async def test_devices_the_server_no_longer_lists_go(
    hass: HomeAssistant,
    loaded_orion_entry: MockConfigEntry,
    orion: OrionSimulator,
    uplinks: EventRecorder,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A device missing from the server's list for a day, and silent, is removed."""
    coordinator = coordinator_of(loaded_orion_entry)
    registry = dr.async_get(hass)
    del orion.devices[DOOR]
    # The next device list (at the next connection) lacks the door.
    coordinator.devices_listed(await coordinator.client.list_devices())
    assert coordinator.devices[DOOR].unlisted_since is not None
    # The climate sensor goes from the list too, but keeps sending: it stays.
    del orion.devices[CLIMATE]
    coordinator.devices_listed(await coordinator.client.list_devices())
    freezer.tick(timedelta(hours=23))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert DOOR in coordinator.devices
    coordinator.uplink(uplink(CLIMATE, LPP_22_5, dt_util.utcnow(), 1))
    await uplinks.wait(1)
    freezer.tick(timedelta(hours=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert DOOR not in coordinator.devices
    entry_id = loaded_orion_entry.entry_id
    assert registry.async_get_device_by_identifier((DOMAIN, DOOR), entry_id) is None
    assert CLIMATE in coordinator.devices
    assert registry.async_get_device_by_identifier((DOMAIN, CLIMATE), entry_id) is not None
