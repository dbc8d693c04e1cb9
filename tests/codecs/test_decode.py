"""Choosing the codec of an uplink."""

from __future__ import annotations

import pytest

from custom_components.lorawan_hub.codecs.cayenne import decode_cayenne_lpp
from custom_components.lorawan_hub.codecs.decode import AUTO, CAYENNE_LPP, RAW, SERVER, decode

LPP = bytes.fromhex("016700E1")  # temperature_1 = 22.5
NOT_LPP = bytes.fromhex("FF")


def test_auto_prefers_the_server() -> None:
    decoded = decode(LPP, {"air": {"temperature": 20.0}}, AUTO)
    assert (decoded.codec, decoded.result.fields, decoded.error) == (
        SERVER,
        {"air_temperature": 20.0},
        None,
    )


def test_auto_falls_back_to_cayenne_then_raw() -> None:
    assert decode(LPP, None, AUTO).result.fields == {"temperature_1": 22.5}
    assert decode(LPP, None, AUTO).codec == CAYENNE_LPP
    raw = decode(NOT_LPP, None, AUTO)
    assert (raw.codec, raw.result.fields, raw.error) == (RAW, {}, None)
    assert decode(b"", {}, AUTO).codec == RAW


def test_explicit_choices() -> None:
    assert decode(LPP, {"t": 1}, CAYENNE_LPP).result.fields == {"temperature_1": 22.5}
    failed = decode(NOT_LPP, None, CAYENNE_LPP)
    assert failed.codec == CAYENNE_LPP
    assert failed.result.fields == {}
    assert failed.error
    assert decode(LPP, None, SERVER).codec == SERVER
    assert decode(LPP, None, SERVER).result.fields == {}
    assert decode(LPP, {"t": 1}, RAW).result.fields == {}


# Decode vectors of four peers: The Things Stack's Cayenne formatter test, go-cayenne-lib,
# pycayennelpp, ElectronicCats' CayenneLPP (decoder tests, and its encoder tests' frames).
PEER_FRAMES = {
    "lorawan-stack": "0100ff 020164 0302154a 0403eab6 056501f4 066632 0767ff64 086863"
    " 0971fe58000f0682 0a7329ef 0b86016302 31fe66 0c8807fd8700bef500086a",
    "go-cayenne-lib negative coordinates": "018806765ff2960a0003e8",
    "pycayennelpp two temperatures": "03670110056700ff",
    "pycayennelpp negative temperature": "0167ffd7",
    "pycayennelpp accelerometer": "067104d2fb2e0000",
    "pycayennelpp base64 (two GPS, a digital input)": "0188082cc30188830000000200 06",
    "ElectronicCats negative temperature": "0567ffd1",
    "ElectronicCats GPS": "018806765ef2960a0003e8",
    "ElectronicCats voltage": "037457b8",
    "ElectronicCats distance": "018200000022",
    "ElectronicCats frequency": "017633be27a0",
    "ElectronicCats temperature and humidity": "0367011002686c",
    "ElectronicCats humidity": "02686c",
    "ElectronicCats power limit": "0180ffff",
    "ElectronicCats generic sensor": "0164000003e6",
    "ElectronicCats current": "017500ed",
    "ElectronicCats altitude": "0579ffef",
    "ElectronicCats power": "05800d7a",
    "ElectronicCats energy": "0183 00795b30",
    "ElectronicCats direction": "01840100",
    "ElectronicCats switch": "058e01",
}
# Device Repository uplink examples of other formats that parse as Cayenne LPP (fPort, payload).
NOT_CAYENNE = [
    (1, "5c80011e320020"),  # adeunis motion: power_92, digital_input_50
    (10, "05000a00030101"),  # arwin: digital_input_5 10, analog_output_0
    (85, "0374ed08"),  # milesight ws52x: 228.5 V little-endian, 606.8 V as LPP
    (85, "068356040000"),  # milesight ws52x energy
    (100, "0102c2090200000f010016800501"),  # comtac configuration
    (3, "02012f00020bb1"),  # decentlab: digital_output_2 47, analog_input_0
    (1, "03010bde0101018847e8150000aeae0a00"),  # elv: latitude 471
    (85, "077de704087d070009733f27"),  # milesight am107: 1616.7 hPa
    (6, "0171010100000000000000"),  # netvox ra10: ends in zero padding
    (85, "050000"),  # milesight em300: a lone digital input
    (8, "a86661"),  # nwave: channel 168
    (10, "00740011"),  # tektelic: one item on a vendor port
]


@pytest.mark.parametrize("name", PEER_FRAMES)
def test_auto_keeps_every_peer_frame(name: str) -> None:
    """Every valid frame of the peers' vectors is still Cayenne LPP in auto (port unknown or 1)."""
    payload = bytes.fromhex(PEER_FRAMES[name].replace(" ", ""))
    expected = decode_cayenne_lpp(payload).fields
    for port in (None, 1, 2):
        decoded = decode(payload, None, AUTO, port)
        assert (decoded.codec, decoded.result.fields) == (CAYENNE_LPP, expected)


@pytest.mark.parametrize(("port", "payload"), NOT_CAYENNE)
def test_auto_wants_evidence(port: int, payload: str) -> None:
    """Other formats' payloads that merely parse stay raw in auto; Cayenne on request decodes."""
    data = bytes.fromhex(payload)
    assert decode(data, None, AUTO, port).codec == RAW
    assert decode(data, None, CAYENNE_LPP, port).result.fields


def test_auto_on_vendor_ports_wants_two_measurements() -> None:
    """On ports 10 and above a lone measurement is not enough; two are."""
    assert decode(bytes.fromhex("036700d5"), None, AUTO, 10).codec == RAW
    assert decode(bytes.fromhex("036700d5"), None, AUTO, 2).codec == CAYENNE_LPP
    assert decode(bytes.fromhex("036700f704681d"), None, AUTO, 10).codec == CAYENNE_LPP


def test_auto_presence_is_evidence_when_binary() -> None:
    """A door sensor's presence and digital input is Cayenne; a presence of 97 alone is not."""
    assert decode(bytes.fromhex("016601020001"), None, AUTO, 1).codec == CAYENNE_LPP
    assert decode(bytes.fromhex("016661"), None, AUTO, 1).codec == RAW
