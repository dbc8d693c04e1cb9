"""Network-server clients: one module per vendor, free of Home Assistant imports."""
