"""Tests for LoRaWAN Hub."""
