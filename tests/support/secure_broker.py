"""A Mosquitto of a test's own, set up as docs/operations.md says: the shipped configuration
(deploy/mosquitto), TLS with a certificate from a test CA, a password file and the ACL.

Only the folder of its files, the port (on loopback), the persistence folder and the log (and,
run as root, ``user root``) differ from what a site runs. The server certificate names
``localhost`` only, so a client that dials 127.0.0.1 has the wrong host name.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import free_port, port_open, require, wait_until

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
SITE_FOLDER = "/etc/mosquitto/bijli/"
HOST = "localhost"
"""The name in the server certificate; it resolves to the loopback address the broker is on."""


@dataclass(frozen=True, slots=True)
class SecureBroker:
    """Where the broker listens and the CA that signed its certificate."""

    port: int
    ca_file: Path
    folder: Path

    @property
    def url(self) -> str:
        return f"mqtts://{HOST}:{self.port}"

    def log(self) -> str:
        path = self.folder / "mosquitto.log"
        return path.read_text() if path.exists() else ""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(folder: Path, *, dns_names: tuple[str, ...] = (HOST,)) -> tuple[Path, Path, Path]:
    """A test CA, and a server certificate it signed for `dns_names`: (ca.crt, server.crt, server.key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("bijli test CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for name in dns_names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    server = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_names[0]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = folder / "ca.crt", folder / "server.crt", folder / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)
    return ca_file, cert_file, key_file


def write_password_file(path: Path, users: Mapping[str, str]) -> None:
    """A Mosquitto password file for `users` (name → password), hashed by mosquitto_passwd.

    The passwords go to it in a file (``-U`` hashes the file in place), never on its command line.
    """
    path.write_text("".join(f"{user}:{password}\n" for user, password in users.items()))
    path.chmod(0o600)
    subprocess.run(["mosquitto_passwd", "-U", str(path)], check=True, capture_output=True, timeout=60)


def site_configuration(folder: Path, port: int) -> str:
    """deploy/mosquitto/mosquitto.conf with its files in `folder` and its listener on `port`."""
    text = (DEPLOY / "mosquitto.conf").read_text()
    text = text.replace(SITE_FOLDER, f"{folder}/")
    text = text.replace("persistence_location /var/lib/mosquitto/", f"persistence_location {folder}/")
    text, listeners = re.subn(r"(?m)^listener 8883$", f"listener {port} 127.0.0.1", text)
    assert listeners == 1, "the shipped mosquitto.conf has one TLS listener on 8883"
    text += f"\nlog_dest file {folder}/mosquitto.log\nlog_type all\n"
    if os.geteuid() == 0:  # else Mosquitto drops to its own user, which cannot enter a test's folder
        text += "user root\n"
    return text


@contextmanager
def secure_broker(folder: Path, users: Mapping[str, str], password_file: Path | None = None) -> Iterator[SecureBroker]:
    """Start Mosquitto with the shipped configuration for `users` (or with `password_file` as
    its password file, as made elsewhere); stop it afterwards."""
    require("the mosquitto program", shutil.which("mosquitto") is not None)
    require("the mosquitto_passwd program", shutil.which("mosquitto_passwd") is not None)
    folder.mkdir(parents=True, exist_ok=True)
    ca_file, _, _ = make_certificates(folder)
    if password_file is None:
        write_password_file(folder / "passwd", users)
    else:
        shutil.copyfile(password_file, folder / "passwd")
        (folder / "passwd").chmod(0o600)
    shutil.copyfile(DEPLOY / "acl", folder / "acl")
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(site_configuration(folder, port))
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:

        def listening() -> bool:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise AssertionError(f"mosquitto exited ({proc.returncode}): {err}")
            return port_open("127.0.0.1", port)

        wait_until(listening, 10, "mosquitto listening")
        yield SecureBroker(port=port, ca_file=ca_file, folder=folder)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
