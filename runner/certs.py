"""Throw-away certificates for the local mode's mTLS, made with the ``openssl`` command.

One run, one CA: a P-256 CA, a server certificate for
:data:`runner.proxies.SERVER_NAME` (serverAuth) and a client certificate
(clientAuth), valid for two days, written into the run's temp dir and deleted
with it. The openssl command line (Debian package ``openssl``) is used rather
than a Python library so that smp-runner needs no extra dependency.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import click

from runner.processes import find_binary

VALID_DAYS = 2
OPENSSL_TIMEOUT_S = 30
CURVE = "prime256v1"


@dataclass(frozen=True)
class Certificates:
    ca_crt: Path
    server_crt: Path
    server_key: Path
    server_pem: Path
    """Certificate and key in one file (haproxy's ``crt``)."""
    client_crt: Path
    client_key: Path
    client_pem: Path


def _openssl(openssl: str, *args: str) -> None:
    done = subprocess.run(  # noqa: S603 - argv built here
        [openssl, *args], capture_output=True, text=True, timeout=OPENSSL_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise click.ClickException(
            f"openssl {args[0]} failed while making the mTLS certificates:\n{done.stderr.strip()}"
        )


def make_certificates(directory: Path, server_name: str) -> Certificates:
    """Create the CA, server and client certificates in ``directory``."""
    openssl = find_binary("openssl")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key_options = ["-newkey", "ec", "-pkeyopt", f"ec_paramgen_curve:{CURVE}", "-nodes"]
    _openssl(
        openssl,
        "req",
        "-x509",
        *key_options,
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_crt),
        "-days",
        str(VALID_DAYS),
        "-subj",
        "/CN=smp-runner throw-away CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    paths: dict[str, tuple[Path, Path, Path]] = {}
    for role, usage, common_name in (
        ("server", "serverAuth", server_name),
        ("client", "clientAuth", "client.smp.local"),
    ):
        key, csr, crt = (
            directory / f"{role}.key",
            directory / f"{role}.csr",
            directory / f"{role}.crt",
        )
        extensions = directory / f"{role}.ext"
        extensions.write_text(
            f"basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            f"extendedKeyUsage={usage}\nsubjectAltName=DNS:{common_name}\n"
        )
        _openssl(
            openssl, "req", *key_options, "-keyout", str(key), "-out", str(csr),
            "-subj", f"/CN={common_name}",
        )  # fmt: skip
        _openssl(
            openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
            "-CAcreateserial", "-out", str(crt), "-days", str(VALID_DAYS),
            "-extfile", str(extensions),
        )  # fmt: skip
        pem = directory / f"{role}.pem"
        pem.write_text(crt.read_text() + key.read_text())
        paths[role] = (crt, key, pem)
    return Certificates(
        ca_crt=ca_crt,
        server_crt=paths["server"][0],
        server_key=paths["server"][1],
        server_pem=paths["server"][2],
        client_crt=paths["client"][0],
        client_key=paths["client"][1],
        client_pem=paths["client"][2],
    )
