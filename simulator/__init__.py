"""
Fake LoRaWAN network servers for tests, demos and benchmarks.

Each simulator is a real server bound to 127.0.0.1 that speaks one vendor's
protocol as that vendor documents it, keeps what it was sent so tests can
inspect it, and exposes knobs to inject faults.
"""
