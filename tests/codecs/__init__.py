"""Tests for the payload codecs."""
