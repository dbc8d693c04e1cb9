"""The ChirpStack simulator Home Assistant's own chirpstack integration connects to."""
