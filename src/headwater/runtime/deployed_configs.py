"""The configs a deployment was created with, kept in the datastore (never in the manifest).

``python flow.py --config cfg prod.json argo-workflows create`` resolves the flow's configs once,
on the machine that runs ``create``, as ``run`` does; every run of the deployment then uses those
values (Metaflow's semantics: the configs are baked into the deployment). Config values may hold
credentials, and a manifest or DAG file is read by whoever can read the cluster's templates or the
DAGs folder, so the values go to the datastore and the deployed start task gets only the key of a
small document naming them (``--configs KEY``).

That document is JSON: a random nonce (so that its content-addressed key says nothing about the
values: a small config's hash could otherwise be checked against guesses) and the configs'
artifact refs as a run records them. A small value rides inside its ref (see INLINE_MAX_BYTES),
so it lives in the document itself; a large one is a blob of its own. Nothing references them until
the deployment first runs, so they are pinned against ``headwater gc``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from headwater.exceptions import HeadwaterException
from headwater.meta.codec import dump_manifest, load_manifest
from headwater.records import Manifest

FORMAT = "headwater.deployed-configs/1"


def save_deployed_configs(store: Any, flow_name: str, values: Mapping[str, Any]) -> str:
    """Store ``values`` (config attribute name -> value) for the deployment of ``flow_name``;
    returns the key the deployed start task is given."""
    refs = {attr: store.save_artifact(value, name=attr, where=f"{flow_name}/parameters")
            for attr, value in values.items()}
    document = {"format": FORMAT, "nonce": secrets.token_hex(16),
                "configs": json.loads(dump_manifest(refs))}
    blob = store.save_bytes(json.dumps(document, sort_keys=True).encode("utf-8"))
    why = f"configs of the deployed flow {flow_name}"
    store.pin(blob.key, why)
    for ref in refs.values():
        if ref.inline is None:
            store.pin(ref.key, why)
    return blob.key


def load_deployed_configs(store: Any, key: str, flow_name: str) -> Manifest:
    """The configs' artifact refs a deployment was created with (the start task records them as
    the run's)."""
    raw = store.load_bytes(key, what=f"the configs of the deployed flow {flow_name}")
    try:
        document = json.loads(raw)
        if document.get("format") != FORMAT:
            raise ValueError(document.get("format"))
        return load_manifest(json.dumps(document["configs"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise HeadwaterException(
            f"the configs of the deployed flow {flow_name} (blob {key}) are not a document this "
            "headwater can read",
            fix="re-create the deployment with this version of headwater") from None
