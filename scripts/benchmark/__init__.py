"""
Benchmark of LoRaWAN Hub beside Home Assistant's own costs, in one process and one Home Assistant.

Run it with ``scripts/bench`` (``--help`` lists the options). It measures, with the same Cayenne LPP
uplinks of five fields (temperature, humidity, pressure, voltage, illuminance, every value changing
on every uplink):

1. entity writes: five plain ``SensorEntity`` of a config entry, µs per "set five native values and
   write their states" (and, for reference, the same entities the pipeline writes per uplink plus
   a bus event);
2. the LoRaWAN Hub pipeline: ``realtime_data`` frames, as text, handed to the running Orion client's
   frame handler: JSON → Uplink → dedup → Cayenne decode → entity writes → bus event; and the
   same on an entry that is a connection of Home Assistant's LoRaWAN framework (a stand-in of
   2026.11's ``lorawan`` integration, with its own listener and a device integration's
   ``DeviceCollection`` subscribed): linked minus unlinked is what being a connection costs;
3. MQTT with templates: Home Assistant's ``mqtt`` integration (paho's network client mocked, as the
   test harness does) with five discovered sensors using ``value_template``, fed one JSON message
   per uplink;
4. socket → state latency with the Orion simulator pushing 200 uplinks/s over its WebSocket;
5. set-up of 1,000 and 10,000 devices whose fields the integration's storage already knows;
6. catch-up of 1,000 uplinks stored by the server while the entry was unloaded;
7. memory per device (tracemalloc) beyond Home Assistant's own cost for the same entities;
8. a JavaScript codec's decode cost and the pipeline with it, and the mean cost of a Device
   Repository codec call beside node running the same scripts.

Throughput figures are medians over ``--runs`` batches of ``--uplinks`` items after a warm-up, in
wall-clock time and in CPU time of the event loop's thread; within a batch the paths take turns
every ``CHUNK`` uplinks, so that load from elsewhere on the machine touches them alike.
``--profile`` adds a cProfile breakdown of the pipeline (beside the same entity writes) and of a
set-up. Home Assistant runs as the test harness builds it (``async_test_home_assistant``), with
storage in a temporary directory and nothing listening on the network but the simulators on
127.0.0.1.

The modules, by what they measure: ``pipeline`` (throughput of the pipeline, entity writes and
MQTT, taking turns), ``linked`` (the pipeline's entry as a framework connection), ``framework``
(a device of a framework connection decoded by the hub), ``baseline`` (Home Assistant's own
entities), ``mqtt`` (the MQTT integration with templates), ``latency``, ``catchup``, ``devices``
(set-up of many devices, memory),
``javascript`` and ``repository_codecs`` (codec rows), ``profiling``; ``harness`` holds the Home
Assistant instance, the hub entries and the timing helpers, ``uplinks`` what every path is fed,
``results`` the targets and what a run gathers, ``report`` the table and the JSON, and
``__main__`` the command line.
"""
