"""The parts of paho's client that are not its public API, and that the uplink's receive path
uses, are still there and still the same shape on the installed paho.

paho may change any of them in any release. pyproject.toml pins the paho they were checked
against; when it is widened, these tests say which member changed before a broker does.
"""

from __future__ import annotations

import inspect
import re
import threading
from importlib.metadata import version
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from bijli.adapters.brokers import mqtt
from bijli.adapters.brokers.mqtt import PAHO_PRIVATE_MEMBERS, ChunkedClient, MqttUplink

PAHO = f"paho-mqtt {version('paho-mqtt')}"
WHERE = "ChunkedClient and MqttUplink.ack in bijli/adapters/brokers/mqtt.py rely on it"

METHODS = {
    "_packet_read": "(self)",
    "_packet_handle": "(self)",
    "_sock_recv": "(self, bufsize)",
    "_easy_log": "(self, level, fmt, *args)",
    "_send_puback": "(self, mid)",
    "_packet_queue": "(self, command, packet, mid, qos, info=None)",
    "_reset_sockets": "(self, sockpair_only=False)",
}
"""Methods of paho's Client, and their parameters."""
ATTRIBUTES: dict[str, type] = {
    "_in_packet": dict,
    "_sock": type(None),
    "_in_callback_mutex": type(threading.Lock()),
    "_manual_ack": bool,
    "_protocol": int,
    "_msgtime_mutex": type(threading.Lock()),
    "_last_bytes_received": float,
}
"""Attributes of a new paho Client (not yet connected), and their types."""


def new_client() -> paho.Client:
    return paho.Client(CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv5, manual_ack=True)


def parameters(method: Any) -> str:
    """A method's parameters as written, without annotations: `(self, mid)`."""
    signature = inspect.signature(method)
    bare = [p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()]
    return str(signature.replace(parameters=bare, return_annotation=inspect.Signature.empty))


def test_every_private_member_the_code_lists_is_checked_here() -> None:
    assert set(PAHO_PRIVATE_MEMBERS) == set(METHODS) | set(ATTRIBUTES), (
        "mqtt.PAHO_PRIVATE_MEMBERS and this test's METHODS and ATTRIBUTES list different members: "
        "give each one the code uses a shape here"
    )


def test_the_code_uses_no_private_member_of_paho_that_it_does_not_list() -> None:
    client = new_client()
    sources = inspect.getsource(ChunkedClient) + inspect.getsource(MqttUplink.ack)
    used = set(re.findall(r"\b_[a-z]\w*", sources))
    pahos = {name for name in used if hasattr(paho.Client, name) or hasattr(client, name)}
    unlisted = pahos - set(PAHO_PRIVATE_MEMBERS)
    assert not unlisted, f"mqtt.py uses paho's {sorted(unlisted)}: add them to PAHO_PRIVATE_MEMBERS"


@pytest.mark.parametrize("name", sorted(METHODS))
def test_a_private_method_is_there_with_the_same_parameters(name: str) -> None:
    method = getattr(paho.Client, name, None)
    assert callable(method), f"{PAHO}: Client.{name} is gone; {WHERE}"
    found = parameters(method)
    assert found == METHODS[name], f"{PAHO}: Client.{name} now takes {found}, not {METHODS[name]}; {WHERE}"


@pytest.mark.parametrize("name", sorted(ATTRIBUTES))
def test_a_private_attribute_is_there_with_the_same_type(name: str) -> None:
    client = new_client()
    assert hasattr(client, name), f"{PAHO}: a new Client has no {name}; {WHERE}"
    found = type(getattr(client, name))
    assert issubclass(found, ATTRIBUTES[name]), (
        f"{PAHO}: Client.{name} is now a {found.__name__}, not a {ATTRIBUTES[name].__name__}; {WHERE}"
    )


def test_the_packet_being_read_has_the_fields_the_client_fills_in() -> None:
    found = sorted(new_client()._in_packet)
    ours = sorted(mqtt._fresh_packet())
    assert found == ours, f"{PAHO}: Client._in_packet now has the fields {found}, not {ours}; {WHERE}"


def test_pahos_loop_still_reads_through_packet_read() -> None:
    assert "self._packet_read()" in inspect.getsource(paho.Client.loop_read), (
        f"{PAHO}: Client.loop_read no longer calls _packet_read, so ChunkedClient's reading is never used"
    )
