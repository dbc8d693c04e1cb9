"""Payload codecs: pure Python, free of Home Assistant imports."""
