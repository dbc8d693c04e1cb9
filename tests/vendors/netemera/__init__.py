"""Netemera: the client, the document's samples, the flow, the integration, the simulator."""
