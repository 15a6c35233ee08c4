"""TLS for the launcher's connection to a Dask cluster: who may talk to the scheduler.

Anyone who can reach a Dask scheduler can run code on its workers, and the launcher unpickles
what the workers send back. A cluster beyond one trusted network should therefore speak TLS with
client certificates (``dask scheduler --protocol tls --tls-ca-file ... --tls-cert ...
--tls-key ...``, the workers alike): then only holders of a certificate its CA signed get in.

The launcher's side of that comes from three settings, each a profile key or its environment
variable (the variable wins, as for every profile setting):

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
from collections.abc import Mapping
from typing import Any

from headwater.exceptions import RunFailedError
from headwater.profiles import SETTINGS, with_profile

# profile key -> environment variable (declared with the other profile settings)
TLS_SETTINGS = {key: var for key, var in SETTINGS.items() if key.startswith("dask_tls_")}
_REQUIRED = ("dask_tls_ca_file", "dask_tls_cert")
_HOW = ("set dask_tls_ca_file, dask_tls_cert and dask_tls_key in the profile (or "
        "HEADWATER_DASK_TLS_CA_FILE, HEADWATER_DASK_TLS_CERT, HEADWATER_DASK_TLS_KEY): the "
        "cluster's CA certificate and a client certificate it signed, with its key")


def dask_security(address: str, environ: Mapping[str, str] | None = None) -> Any | None:
    """The ``distributed.Security`` to connect to ``address`` with, or None for Dask's own
    configuration; a RunFailedError when the settings cannot work (named, with the fix)."""
    env = with_profile(os.environ if environ is None else environ)
    given = {key: os.path.expanduser(env[var]) for key, var in TLS_SETTINGS.items()
             if env.get(var)}
    is_tls = address.startswith("tls://")
    if not given:
        if is_tls and not _dask_config_has_tls():
            raise RunFailedError(
                f"the Dask scheduler at {address} speaks TLS, but no certificate was given to "
                "connect with",
                fix=_HOW,
            )
        return None
    missing = [key for key in _REQUIRED if key not in given]
    if missing:
        raise RunFailedError(
            f"Dask TLS needs {' and '.join(missing)} too (only "
            f"{', '.join(sorted(given))} {'is' if len(given) == 1 else 'are'} set)",
            fix=_HOW,
        )
    for key, path in given.items():
        if not os.path.isfile(path):
            raise RunFailedError(
                f"{key} ({TLS_SETTINGS[key]}) names {path}, which is not a file",
                fix=f"point {key} at the PEM file, or unset it",
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
