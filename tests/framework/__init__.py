"""Tests of our connections in Home Assistant's LoRaWAN framework, run with its library."""
