"""The files Home Assistant and HACS read: manifest, translations, actions, HACS metadata."""

from __future__ import annotations

import ast
import json
from pathlib import Path
import re
from typing import Any

from awesomeversion import AwesomeVersion

from homeassistant.const import __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_integration
from homeassistant.util.yaml import load_yaml_dict

from custom_components.lorawan_hub import services
from custom_components.lorawan_hub.const import DOMAIN
from custom_components.lorawan_hub.vendors import VENDORS

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "custom_components" / DOMAIN


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def source() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in PACKAGE.rglob("*.py"))


def input_errors() -> list[tuple[str, set[str]]]:
    """
    Return the key of every ``InputError`` the clients raise, with the details it gives.

    An InputError is shown with a message of its own: its ``key``, showing its ``details``.
    """
    raised = []
    for path in (PACKAGE / "lns").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        calls = re.findall(
            r"(?<!class )\bInputError\(((?:[^()]|\((?:[^()]|\([^()]*\))*\))*)\)", text
        )
        for arguments in calls:
            (key,) = re.findall(r'\bkey="(\w+)"', arguments)
            details = re.search(r"\bdetails=\{((?:[^{}]|\{[^{}]*\})*)\}", arguments)
            raised.append(
                (key, set(re.findall(r'"(\w+)":', details.group(1))) if details else set())
            )
    return raised


async def test_manifest(hass: HomeAssistant) -> None:
    """Domain and name first, the other keys sorted, as hassfest requires of custom integrations."""
    manifest = load_json(PACKAGE / "manifest.json")
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    for key in ("codeowners", "config_flow", "documentation", "integration_type", "iot_class"):
        assert key in keys
    assert manifest["domain"] == DOMAIN
    assert manifest["integration_type"] == "hub"
    assert manifest["iot_class"] == "cloud_push"
    assert AwesomeVersion(manifest["version"]).valid
    integration = await async_get_integration(hass, DOMAIN)
    assert integration.config_flow
    assert integration.version == AwesomeVersion(manifest["version"])


def test_hacs() -> None:
    """HACS knows the name and the oldest Home Assistant the tests run on."""
    hacs = load_json(ROOT / "hacs.json")
    assert hacs["name"] == "LoRaWAN Hub"
    assert AwesomeVersion(hacs["homeassistant"]) <= AwesomeVersion(ha_version)
    assert (PACKAGE / "brand" / "icon.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_actions_are_described() -> None:
    """Every registered action has services.yaml fields, translations and an icon."""
    described = load_yaml_dict(PACKAGE / "services.yaml")
    translations = load_json(PACKAGE / "translations" / "en.json")["services"]
    icons = load_json(PACKAGE / "icons.json")["services"]
    # start_fuota is registered apart, as an administrators' action.
    registered = {name for name, *_ in services._SERVICES} | {services.SERVICE_START_FUOTA}
    assert set(described) == registered == set(translations) == set(icons)
    for name, spec in described.items():
        assert set(spec["fields"]) == set(translations[name]["fields"]), name
        assert translations[name]["name"]
        assert translations[name]["description"]


def test_translation_keys_exist() -> None:
    """Every key the code raises or shows is translated."""
    text = source()
    translations = load_json(PACKAGE / "translations" / "en.json")
    exceptions = set(translations["exceptions"])
    raised = set(re.findall(r'translation_key="([a-z_]+)"', text))
    raised |= set(re.findall(r'validation_error\(\s*"([a-z_]+)"', text))
    entity_keys = {key for platform in translations["entity"].values() for key in platform}
    assert raised - exceptions - entity_keys - set(translations["issues"]) == set()
    config = translations["config"]
    errors = set(re.findall(r'"base": "([a-z_]+)"', text)) | set(
        re.findall(r'errors\[[A-Z_]+\] = "([a-z_]+)"', text)
    )
    assert errors <= set(config["error"]) | set(translations["options"]["error"])
    reasons = set(re.findall(r'reason="([a-z_]+)"', text)) | {"already_configured"}
    assert reasons <= set(config["abort"]) | set(translations["options"]["abort"])


def test_error_keys_have_messages() -> None:
    """Every error key a client raises with its own message is translated, placeholders given."""
    translations = load_json(PACKAGE / "translations" / "en.json")
    exceptions = translations["exceptions"]
    # Every vendor's client, from the registry: a new vendor's keys are checked too.
    clients = tuple(spec.client_class for spec in VENDORS.values())
    vendor_errors = {key for client in clients for key in client.error_keys}
    assert vendor_errors  # IoTSquare's documented codes
    inputs = input_errors()
    assert inputs
    keys = vendor_errors | {key for key, _ in inputs}
    for client in clients:
        keys |= set(client.unsupported_reasons.values())
    assert keys - set(exceptions) == set()
    # Vendor refusals get the vendor and its reason; an unsupported action the vendor and action.
    for key in vendor_errors:
        assert set(re.findall(r"{(\w+)}", exceptions[key]["message"])) <= {"vendor", "reason"}
    for client in clients:
        for key in client.unsupported_reasons.values():
            placeholders = set(re.findall(r"{(\w+)}", exceptions[key]["message"]))
            assert placeholders <= {"vendor", "action"}
    # The user's input errors: each message's placeholders are among the details it is given.
    for key, given in inputs:
        placeholders = set(re.findall(r"{(\w+)}", exceptions[key]["message"]))
        assert placeholders <= given | {"vendor", "reason"}, key


# The rules hassfest (script/hassfest/translations.py, dependencies.py) applies to integrations.
TRANSLATION_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")
URL = re.compile(
    r"(((ftp|ftps|scp|http|https|mqtt|mqtts|socket|socks5):\/\/|www\.)"
    r"[a-z0-9]+([\-\.]{1}[a-z0-9]+)*\.[a-z]{2,5}(:[0-9]{1,5})?(\/.*)?)",
    re.IGNORECASE,
)
# Components any integration may use without declaring them: the entity platforms and a few
# core helpers (hassfest's ALLOWED_USED_COMPONENTS).
ALWAYS_ALLOWED = {
    "binary_sensor",
    "button",
    "device_tracker",
    "event",
    "number",
    "select",
    "sensor",
    "switch",
    "diagnostics",
    "persistent_notification",
    "webhook",
    "websocket_api",
    "homeassistant",
}


def translation_items(node: Any, path: tuple[str, ...] = ()) -> Any:
    """Yield (path, key) for every key and (path, text) for every string of a translation file."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key), None
            yield from translation_items(value, (*path, key))
    else:
        yield path, node


def test_translation_keys_and_strings_follow_the_rules() -> None:
    """Keys are lower case slugs; strings have no URL, quoted placeholder or edge spaces."""
    strings = load_json(PACKAGE / "translations" / "en.json")
    problems = []
    for path, text in translation_items(strings):
        if text is None:
            if path[0] in ("entity", "selector", "exceptions", "issues", "services") and (
                TRANSLATION_KEY.match(path[-1]) is None
            ):
                problems.append(f"key {'.'.join(path)}")
            continue
        if URL.search(text):
            problems.append(f"URL in {'.'.join(path)} (use a description placeholder)")
        if re.search(r"'\{\w+\}'", text):
            problems.append(f"quoted placeholder in {'.'.join(path)}")
        if text != text.strip():
            problems.append(f"leading or trailing space in {'.'.join(path)}")
    assert problems == []


def test_every_form_field_is_described() -> None:
    """Each config and options flow field has a description (data_description)."""
    strings = load_json(PACKAGE / "translations" / "en.json")
    missing = [
        f"{flow}.{step}.{field}"
        for flow in ("config", "options")
        for step, texts in strings[flow]["step"].items()
        for field in texts.get("data", {})
        if field not in texts.get("data_description", {})
    ]
    assert missing == []


def test_action_fields_are_translated_and_exemplified() -> None:
    """Select fields of actions have translated options; free-text fields an example."""
    described = load_yaml_dict(PACKAGE / "services.yaml")
    selectors = load_json(PACKAGE / "translations" / "en.json")["selector"]
    problems = []
    for action, spec in described.items():
        for field, field_spec in spec["fields"].items():
            selector = field_spec.get("selector", {})
            if "select" in selector:
                key = selector["select"].get("translation_key")
                options = {str(option) for option in selector["select"]["options"]}
                if key is None or not options <= set(selectors.get(key, {}).get("options", {})):
                    problems.append(f"{action}.{field} options untranslated")
            if "text" in selector and "example" not in field_spec:
                problems.append(f"{action}.{field} has no example")
    assert problems == []


def test_components_used_are_declared() -> None:
    """Every Home Assistant component imported is a dependency or an after-dependency."""
    manifest = load_json(PACKAGE / "manifest.json")
    declared = set(manifest.get("dependencies", [])) | set(manifest.get("after_dependencies", []))
    used: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("homeassistant.components."):
                    used.add(node.module.split(".")[2])
                elif node.module == "homeassistant.components":
                    used.update(alias.name for alias in node.names)
            elif isinstance(node, ast.Import):
                used.update(
                    alias.name.split(".")[2]
                    for alias in node.names
                    if alias.name.startswith("homeassistant.components.")
                )
    # The framework is imported by name at run time, where it exists (2026.11 and later).
    used.add("lorawan")
    assert used - ALWAYS_ALLOWED - declared == set()
