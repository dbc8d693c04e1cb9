"""Tests of the vendor-neutral network-server layer: base, HTTP, OAuth2, parsing, SSE."""
