"""Home Assistant's LoRaWAN framework (2026.11 and later): our entries as its connections."""
