"""The head-end's broker credentials: a user name from the option, the environment or the
URL; a password from a file or the environment, never from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bijli import settings
from bijli.adapters.brokers.address import BrokerUrlError
from tests.support.keys import SITE, as_env

URL = "mqtts://broker.bijli.internal:8883"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BIJLI_BROKER_USERNAME", "BIJLI_BROKER_PASSWORD", "BIJLI_BROKER_CA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BIJLI_SITE_KEYS", as_env(SITE))


def test_the_password_comes_from_the_first_line_of_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "headend-1.password"
    secret.write_text("s3cret-pw\n")
    cfg = settings.build(data_dir=tmp_path, broker_url=URL, broker_username="headend-1", broker_password_file=secret)
    address = cfg.broker_address()
    assert (address.username, address.password, address.tls) == ("headend-1", "s3cret-pw", True)
    assert "s3cret-pw" not in repr(cfg)


def test_user_name_password_and_ca_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIJLI_BROKER_USERNAME", "headend-2")
    monkeypatch.setenv("BIJLI_BROKER_PASSWORD", "s3cret-pw")
    ca = tmp_path / "ca.pem"
    monkeypatch.setenv("BIJLI_BROKER_CA", str(ca))
    cfg = settings.build(data_dir=tmp_path, broker_url="none")
    assert (cfg.broker_username, cfg.broker_password, cfg.broker_ca) == ("headend-2", "s3cret-pw", ca)


def test_the_user_name_may_be_the_urls_user_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIJLI_BROKER_PASSWORD", "s3cret-pw")
    cfg = settings.build(data_dir=tmp_path, broker_url="mqtts://headend-1@broker:8883")
    assert (cfg.broker_address().username, cfg.broker_address().password) == ("headend-1", "s3cret-pw")


def test_two_different_user_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BrokerUrlError, match="two user names"):
        settings.build(data_dir=tmp_path, broker_url="mqtts://headend-1@broker", broker_username="headend-2")


def test_a_password_without_a_user_name_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIJLI_BROKER_PASSWORD", "s3cret-pw")
    with pytest.raises(BrokerUrlError, match="needs a user name"):
        settings.build(data_dir=tmp_path, broker_url=URL)


@pytest.mark.parametrize(("content", "refusal"), [(None, "cannot read"), ("", "is empty"), ("\nsecond", "is empty")])
def test_a_missing_or_empty_password_file_is_refused(tmp_path: Path, content: str | None, refusal: str) -> None:
    secret = tmp_path / "headend-1.password"
    if content is not None:
        secret.write_text(content)
    with pytest.raises(BrokerUrlError, match=refusal):
        settings.build(data_dir=tmp_path, broker_url=URL, broker_username="headend-1", broker_password_file=secret)


def test_a_broker_url_that_cannot_work_is_refused_when_the_settings_are_built(tmp_path: Path) -> None:
    with pytest.raises(BrokerUrlError, match="holds a password"):
        settings.build(data_dir=tmp_path, broker_url="mqtts://headend-1:s3cret-pw@broker")
    with pytest.raises(BrokerUrlError, match="cannot read the broker's CA file"):
        settings.build(data_dir=tmp_path, broker_url=URL, broker_ca=tmp_path / "missing.pem")


def test_meters_reach_the_same_broker_without_the_headends_credentials(tmp_path: Path) -> None:
    secret = tmp_path / "headend-1.password"
    secret.write_text("s3cret-pw\n")
    cfg = settings.build(data_dir=tmp_path, broker_url="mqtts://headend-1@broker", broker_password_file=secret)
    meters = cfg.meters_broker_address()
    assert (meters.host, meters.port, meters.tls) == ("broker", 8883, True)
    assert (meters.username, meters.password) == (None, None)


def test_the_allowed_hosts_come_from_the_option_else_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIJLI_ALLOWED_HOSTS", "bijli.kesco.example, ops.kesco.example,")
    assert settings.build(data_dir=tmp_path, broker_url="none").allowed_hosts == (
        "bijli.kesco.example",
        "ops.kesco.example",
    )
    chosen = settings.build(data_dir=tmp_path, broker_url="none", allowed_hosts=("meters.kesco.example",))
    assert chosen.allowed_hosts == ("meters.kesco.example",)


def test_a_nats_url_selects_the_jetstream_profile(tmp_path: Path) -> None:
    cfg = settings.build(data_dir=tmp_path, broker_url="nats://127.0.0.1:4222,127.0.0.1:4223?replicas=3")
    assert cfg.speaks_nats and not cfg.speaks_mqtt


def test_the_head_end_reaches_nats_with_its_user_name_password_and_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIJLI_BROKER_PASSWORD", "s3cret-pw")
    ca = tmp_path / "ca.crt"
    ca.write_text("a CA")
    cfg = settings.build(
        data_dir=tmp_path, broker_url="nats://127.0.0.1:4222", broker_username="headend-1", broker_ca=ca
    )
    address = cfg.nats_address()
    assert (address.username, address.password, address.ca_file) == ("headend-1", "s3cret-pw", ca)
    assert str(address) == "tls://127.0.0.1:4222" and "s3cret-pw" not in repr(cfg)


@pytest.mark.parametrize(
    ("url", "username", "refusal"),
    [
        ("nats://user@127.0.0.1:4222", None, "holds credentials"),
        ("nats://127.0.0.1:4222?replicas=9", None, "replicas must be 1 to 5"),
        ("nats://127.0.0.1:4222?ack_wait=soon", None, "not a number"),
    ],
)
def test_a_nats_url_that_cannot_work_is_refused(tmp_path: Path, url: str, username: str | None, refusal: str) -> None:
    with pytest.raises(BrokerUrlError, match=refusal):
        settings.build(data_dir=tmp_path, broker_url=url, broker_username=username)
