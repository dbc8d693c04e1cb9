"""Tests for the network-server clients."""
