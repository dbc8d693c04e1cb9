"""OrbiWise OrbiWAN: the client (REST, WebSocket, MQTT), samples, flow, integration, simulator."""
