"""Tests of the vendor simulators."""
