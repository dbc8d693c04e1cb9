"""A network server's alarms: a repair each (one per alarm and source) and an event."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir

from .const import DOMAIN, EVENT_ALARM, LOGGER
from .lns.base import ThrottledLog
from .lns.models import Alarm

ALARM_ISSUE: Final = "alarm_"
"""Prefix of the repairs a network server's alarm raises: alarm_<entry id>_<code>_<source>."""
_SEVERE: Final = frozenset({"emergency", "alert", "critical", "error", "major"})
"""Syslog's severities (OrbiWAN's, 001: alarm) that make an error repair; others a warning."""
_NO_REPAIR: Final = frozenset({"info", "informational", "debug"})
"""Severities that are news, not problems: the event only."""
_LOG = ThrottledLog(LOGGER)


def alarm_issue_id(entry_id: str, code: str, source: str) -> str:
    """Return the id of the repair an alarm raises (one per entry, alarm and source)."""
    return f"{ALARM_ISSUE}{entry_id}_{code}_{source}".lower()


@callback
def async_delete_alarm_issues(hass: HomeAssistant, entry_id: str) -> None:
    """Remove the repairs of an entry's alarms (the entry goes)."""
    prefix = f"{ALARM_ISSUE}{entry_id}_".lower()
    for domain, issue_id in list(ir.async_get(hass).issues):
        if domain == DOMAIN and issue_id.startswith(prefix):
            ir.async_delete_issue(hass, DOMAIN, issue_id)


@callback
def raise_alarm(
    hass: HomeAssistant,
    entry: ConfigEntry[Any],
    vendor: str,
    alarm: Alarm,
    device: dr.DeviceEntry | dr.ChildDeviceEntry | None,
) -> None:
    """
    Make a network server's alarm a repair (one per alarm and source) and an event.

    The repair says in words what the server reported and about which device (``device`` when
    it is one of the entry's); the ``lorawan_hub_alarm`` event lets automations react.
    """
    source = alarm.dev_eui or alarm.gateway_id or "account"
    name = alarm.dev_eui or alarm.gateway_id or entry.title
    if device is not None:
        name = f"{device.name_by_user or device.name} ({alarm.dev_eui})"
    severity = alarm.severity.lower()
    if severity not in _NO_REPAIR:
        _LOG.warning(
            f"{entry.entry_id}:{alarm.code}",
            "%s reports %s for %s: %s",
            vendor,
            alarm.code,
            source,
            alarm.text,
        )
        _raise_repair(
            hass, entry, alarm, source=source, placeholders={"vendor": vendor, "source": name}
        )
    hass.bus.async_fire(
        EVENT_ALARM,
        {
            "dev_eui": alarm.dev_eui,
            "device_id": device.id if device is not None else None,
            "gateway_id": alarm.gateway_id,
            "code": alarm.code,
            "severity": alarm.severity,
            "text": alarm.text,
            "at": alarm.at.isoformat() if alarm.at else None,
        },
    )


def _raise_repair(
    hass: HomeAssistant,
    entry: ConfigEntry[Any],
    alarm: Alarm,
    *,
    source: str,
    placeholders: dict[str, str],
) -> None:
    ir.async_create_issue(
        hass,
        DOMAIN,
        alarm_issue_id(entry.entry_id, alarm.code, source),
        is_fixable=False,
        is_persistent=False,
        severity=ir.IssueSeverity.ERROR
        if alarm.severity.lower() in _SEVERE
        else ir.IssueSeverity.WARNING,
        translation_key="server_alarm",
        translation_placeholders={
            **placeholders,
            "code": alarm.code,
            "severity": alarm.severity,
            "text": alarm.text or alarm.code,
        },
    )
