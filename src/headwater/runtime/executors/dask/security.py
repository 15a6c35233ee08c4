"""TLS for the launcher's connection to a Dask cluster: who may talk to the scheduler.

Anyone who can reach a Dask scheduler can run code on its workers, and the launcher unpickles
what the workers send back. A cluster beyond one trusted network should therefore speak TLS with
client certificates (``dask scheduler --protocol tls --tls-ca-file ... --tls-cert ...
--tls-key ...``, the workers alike): then only holders of a certificate its CA signed get in.

The launcher's side of that comes from three options of the dask backend, each a profile key,
an environment variable or a command-line flag (``--dask-tls-ca-file``, ...; the flag wins over
the variable, which wins over the profile, as for every backend option):

=====================  ==============================  ======================================
profile key            environment variable            what
=====================  ==============================  ======================================
``dask_tls_ca_file``   ``HEADWATER_DASK_TLS_CA_FILE``  the cluster's CA certificate (PEM)
``dask_tls_cert``      ``HEADWATER_DASK_TLS_CERT``     this client's certificate (PEM)
``dask_tls_key``       ``HEADWATER_DASK_TLS_KEY``      its private key, unless in the cert file
=====================  ==============================  ======================================

Given them, the connection must be encrypted (a ``tcp://`` address is refused). Without them,
Dask's own configuration (``distributed.comm.tls.*``) applies unchanged.
"""

from __future__ import annotations

import os
from typing import Any

from headwater.exceptions import RunFailedError

_HOW = ("set dask_tls_ca_file, dask_tls_cert and dask_tls_key in the profile (or "
        "HEADWATER_DASK_TLS_CA_FILE, HEADWATER_DASK_TLS_CERT, HEADWATER_DASK_TLS_KEY, or "
        "--dask-tls-ca-file, --dask-tls-cert, --dask-tls-key): the cluster's CA certificate "
        "and a client certificate it signed, with its key")
_ENV = {"dask_tls_ca_file": "HEADWATER_DASK_TLS_CA_FILE", "dask_tls_cert": "HEADWATER_DASK_TLS_CERT",
        "dask_tls_key": "HEADWATER_DASK_TLS_KEY"}


def dask_security(address: str, *, ca_file: str | None = None, cert: str | None = None,
                  key: str | None = None) -> Any | None:
    """The ``distributed.Security`` to connect to ``address`` with, or None for Dask's own
    configuration; a RunFailedError when the settings cannot work (named, with the fix).

    The values come from the dask backend's options (:mod:`headwater.backends`): a command-line
    flag, its environment variable or the profile key, in that order.
    """
    values = {"dask_tls_ca_file": ca_file, "dask_tls_cert": cert, "dask_tls_key": key}
    given = {name: os.path.expanduser(value) for name, value in values.items() if value}
    is_tls = address.startswith("tls://")
    if not given:
        if is_tls and not _dask_config_has_tls():
            raise RunFailedError(
                f"the Dask scheduler at {address} speaks TLS, but no certificate was given to "
                "connect with",
                fix=_HOW,
            )
        return None
    missing = [name for name in ("dask_tls_ca_file", "dask_tls_cert") if name not in given]
    if missing:
        raise RunFailedError(
            f"Dask TLS needs {' and '.join(missing)} too (only "
            f"{', '.join(sorted(given))} {'is' if len(given) == 1 else 'are'} set)",
            fix=_HOW,
        )
    for name, path in given.items():
        if not os.path.isfile(path):
            raise RunFailedError(
                f"{name} ({_ENV[name]}) names {path}, which is not a file",
                fix=f"point {name} at the PEM file, or unset it",
            )
    if not is_tls:
        raise RunFailedError(
            f"Dask TLS settings are given, but the scheduler address {address} is not a tls:// "
            "address: the connection would not be encrypted",
            fix=f"use --dask-address tls://{address.split('://', 1)[-1]}",
        )
    from distributed import Security

    return Security(tls_ca_file=given["dask_tls_ca_file"],
                    tls_client_cert=given["dask_tls_cert"],
                    tls_client_key=given.get("dask_tls_key"), require_encryption=True)


def _dask_config_has_tls() -> bool:
    """Does Dask's own configuration give the client a CA and a certificate?"""
    import dask

    def get(key: str) -> Any:
        return dask.config.get(f"distributed.comm.tls.{key}", default=None)

    return bool(get("ca-file") and (get("client.cert") or get("cert")))
