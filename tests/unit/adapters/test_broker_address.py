"""Broker URLs: plain or TLS, a user name but never a password, and TLS that checks the
broker's certificate and host name."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from bijli.adapters.brokers.address import BrokerAddress, BrokerUrlError


def test_mqtts_is_tls_on_port_8883_and_mqtt_is_plain_on_1883() -> None:
    assert BrokerAddress.parse("mqtts://broker.bijli.internal") == BrokerAddress(
        "broker.bijli.internal", 8883, tls=True
    )
    assert BrokerAddress.parse("mqtt://127.0.0.1") == BrokerAddress("127.0.0.1", 1883)
    assert BrokerAddress.parse("mqtts://headend-1@broker:9883?protocol=311") == BrokerAddress(
        "broker", 9883, username="headend-1", mqtt5=False, tls=True
    )


def test_a_password_in_the_url_is_refused_without_being_repeated() -> None:
    with pytest.raises(BrokerUrlError, match="--broker-password-file") as refused:
        BrokerAddress.parse("mqtts://headend-1:s3cret-pw@broker:8883")
    assert "s3cret-pw" not in str(refused.value)


def test_a_url_that_is_not_mqtt_is_refused_without_repeating_it() -> None:
    with pytest.raises(BrokerUrlError, match="expected mqtt://host:port or mqtts://host:port") as refused:
        BrokerAddress.parse("https://headend-1:s3cret-pw@broker")
    assert "s3cret-pw" not in str(refused.value)


def test_a_ca_file_needs_tls() -> None:
    with pytest.raises(BrokerUrlError, match="mqtts://"):
        BrokerAddress.parse("mqtt://broker", ca_file=Path("/etc/bijli/ca.pem"))


def test_tls_checks_the_certificate_and_the_host_name() -> None:
    context = BrokerAddress.parse("mqtts://broker").tls_context()
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert BrokerAddress.parse("mqtt://broker").tls_context() is None


def test_an_unreadable_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BrokerUrlError, match="cannot read the broker's CA file"):
        BrokerAddress.parse("mqtts://broker", ca_file=tmp_path / "missing.pem").tls_context()


def test_the_password_is_never_shown() -> None:
    address = BrokerAddress.parse("mqtts://broker").signed_in("headend-1", "s3cret-pw")
    assert "s3cret-pw" not in repr(address)
    assert "s3cret-pw" not in str(address)
    assert str(address) == "mqtts://broker:8883"
