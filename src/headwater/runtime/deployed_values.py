"""What a deployment fixes at ``create`` and keeps in the datastore (never in the manifest).

``python flow.py --config cfg prod.json argo-workflows create`` resolves the flow's configs once,
on the machine that runs ``create``, as ``run`` does; every run of the deployment then uses those
values (Metaflow's semantics: the configs are baked into the deployment). The same goes for the
content of an ``IncludeFile``'s default file, which exists on the deploying machine, not in a pod
(Metaflow uploads it at create too). Config values may hold credentials, and a manifest or DAG file
is read by whoever can read the cluster's templates or the DAGs folder, so the values go to the
datastore and the deployed start task gets only the key of a small document naming them
(``--configs KEY``).

That document is JSON: a random nonce (so that its content-addressed key says nothing about the
values: a small config's hash could otherwise be checked against guesses), the configs' artifact
refs and the IncludeFile defaults' refs, as a run records them. A small value rides inside its
ref (see INLINE_MAX_BYTES), so it lives in the document itself; a large one is a blob of its own.
Nothing references them until the deployment first runs, so they are pinned against
``headwater gc``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any, NamedTuple

from headwater.exceptions import HeadwaterException
from headwater.meta.codec import dump_manifest, load_manifest
from headwater.records import Manifest

FORMAT = "headwater.deployed-values/1"


class DeployedValues(NamedTuple):
    """Artifact refs, attribute name -> ref: the configs, and the parameter defaults read at
    create (IncludeFile contents), which a run uses when it is given no value for them."""

    configs: Manifest
    defaults: Manifest


def save_deployed_values(store: Any, flow_name: str, configs: Mapping[str, Any],
                         defaults: Mapping[str, Any]) -> str:
    """Store the values (attribute name -> value) for the deployment of ``flow_name``; returns
    the key the deployed start task is given."""
    where = f"{flow_name}/parameters"
    config_refs = {attr: store.save_artifact(value, name=attr, where=where)
                   for attr, value in configs.items()}
    default_refs = {attr: store.save_artifact(value, name=attr, where=where)
                    for attr, value in defaults.items()}
    document = {"format": FORMAT, "nonce": secrets.token_hex(16),
                "configs": json.loads(dump_manifest(config_refs)),
                "defaults": json.loads(dump_manifest(default_refs))}
    blob = store.save_bytes(json.dumps(document, sort_keys=True).encode("utf-8"))
    why = f"values of the deployed flow {flow_name}"
    store.pin(blob.key, why)
    for ref in (*config_refs.values(), *default_refs.values()):
        if ref.inline is None:
            store.pin(ref.key, why)
    return blob.key


def load_deployed_values(store: Any, key: str, flow_name: str) -> DeployedValues:
    """The refs a deployment was created with (the start task records them as the run's)."""
    raw = store.load_bytes(key, what=f"the configs of the deployed flow {flow_name}")
    try:
        document = json.loads(raw)
        if document.get("format") != FORMAT:
            raise ValueError(document.get("format"))
        return DeployedValues(load_manifest(json.dumps(document["configs"])),
                              load_manifest(json.dumps(document["defaults"])))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):  # [[[[...]]]]
        raise HeadwaterException(
            f"the configs of the deployed flow {flow_name} (blob {key}) are not a document this "
            "headwater can read",
            fix="re-create the deployment with this version of headwater") from None
