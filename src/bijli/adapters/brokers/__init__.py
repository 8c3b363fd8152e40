"""Brokers: in-process memory, MQTT (Mosquitto, amqtt), behind the head-end's ports."""
