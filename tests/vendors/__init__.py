"""Tests per vendor (client, samples, flow, integration, simulator) and their shared harness."""
