"""Apply, trigger, list and delete a deployment through the Kubernetes API (official client).

Only the ``argo-workflows`` commands import this module, and it imports ``kubernetes`` only when
called (``pip install 'headwater[argo]'``). The credentials are the user's kubeconfig (or the
pod's service account), as ``kubectl`` would use them.
"""

from __future__ import annotations

from typing import Any

from headwater.exceptions import HeadwaterException

GROUP, VERSION = "argoproj.io", "v1alpha1"
PLURALS = {"WorkflowTemplate": "workflowtemplates", "CronWorkflow": "cronworkflows",
           "Sensor": "sensors", "Workflow": "workflows"}


class ClusterError(HeadwaterException):
    """The Kubernetes API could not be reached or refused a request."""


def _api() -> Any:
    try:
        from kubernetes import client, config
    except ImportError:
        raise ClusterError("the argo-workflows commands need the Kubernetes client",
                           fix="pip install 'headwater[argo]' (or use create --only-json)") from None
    try:
        config.load_kube_config()
    except Exception:  # noqa: BLE001 - no kubeconfig: maybe we run inside the cluster
        try:
            config.load_incluster_config()
        except Exception as exc:  # noqa: BLE001
            raise ClusterError(f"no Kubernetes cluster configured: {exc}",
                               fix="set KUBECONFIG (or use create --only-json)") from None
    return client.CustomObjectsApi()


def _namespace(namespace: str | None) -> str:
    if namespace:
        return namespace
    try:
        from kubernetes import config

        return config.list_kube_config_contexts()[1]["context"].get("namespace") or "default"
    except Exception:  # noqa: BLE001 - fall back like kubectl does
        return "default"


def apply(docs: list[dict[str, Any]], namespace: str | None) -> list[str]:
    """Create each document, or replace the one of the same name; returns 'Kind/name' lines.

    A document of that name that another deployment made, or that headwater did not make, is
    never replaced: every document is checked before any is written, and one such refuses the
    whole `create`, naming it (see :func:`_check_replaceable`)."""
    api, ns = _api(), _namespace(namespace)
    found = []
    for doc in docs:
        plural, name = PLURALS[doc["kind"]], doc["metadata"]["name"]
        try:
            current = api.get_namespaced_custom_object(GROUP, VERSION, ns, plural, name)
        except Exception as exc:  # noqa: BLE001 - 404: create it
            if getattr(exc, "status", None) != 404:
                raise ClusterError(f"Kubernetes refused {doc['kind']} {name}: {exc}") from None
            current = None
        if current is not None:
            _check_replaceable(doc, current, ns)
        found.append(current)
    done = []
    for doc, current in zip(docs, found, strict=True):
        plural, name = PLURALS[doc["kind"]], doc["metadata"]["name"]
        try:
            if current is None:
                api.create_namespaced_custom_object(GROUP, VERSION, ns, plural, doc)
            else:
                version = current["metadata"]["resourceVersion"]
                doc = {**doc, "metadata": {**doc["metadata"], "resourceVersion": version}}
                api.replace_namespaced_custom_object(GROUP, VERSION, ns, plural, name, doc)
        except Exception as exc:  # noqa: BLE001 - the API's own refusal, named
            raise ClusterError(f"Kubernetes refused {doc['kind']} {name}: {exc}") from None
        done.append(f"{doc['kind']}/{name}")
    return done


def _check_replaceable(doc: dict[str, Any], current: dict[str, Any], namespace: str) -> None:
    """Refuse to replace ``current`` (in the cluster) with ``doc`` unless it is an earlier
    version of the same deployment. Names are cut down to a Kubernetes name (lower case, other
    characters as ``-``), so two deployments can share one (``TrainFlow`` and ``Trainflow``,
    branches ``feat_x`` and ``feat-x``); and a template of that name may be no headwater
    deployment at all. Either was replaced without a word."""
    from headwater.deployers.argo.compile import DEPLOYMENT_ANNOTATION, MANAGED_BY

    kind, name = doc["kind"], doc["metadata"]["name"]
    ours = doc["metadata"].get("annotations") or {}
    meta = current.get("metadata") or {}
    labels, theirs = meta.get("labels") or {}, meta.get("annotations") or {}
    where = f"{kind} {name} in namespace {namespace}"
    flow, deployment = ours.get("headwater.dev/flow-name"), ours.get(DEPLOYMENT_ANNOTATION)
    if labels.get(MANAGED_BY[0]) != MANAGED_BY[1]:
        raise ClusterError(
            f"{where} was not made by headwater: deploying {deployment!r} (flow {flow}) would "
            "replace it",
            fix="deploy under another name (--name), or remove that document yourself first")
    other = theirs.get(DEPLOYMENT_ANNOTATION)
    if other is None:  # made before deployments were named on their documents: the flow tells
        same = theirs.get("headwater.dev/flow-name") == flow
        other = f"a deployment of flow {theirs.get('headwater.dev/flow-name')}"
    else:
        same = other == deployment
        other = f"deployment {other!r} (flow {theirs.get('headwater.dev/flow-name')})"
    if not same:
        raise ClusterError(
            f"{where} holds {other}, not {deployment!r} (flow {flow}): both deployments have "
            f"the Kubernetes name {name!r}, and this `create` would replace the other",
            fix="give this deployment another name with --name, or remove the other first "
            "(`argo-workflows delete` of its flow)")


def submit(template: str, params: dict[str, str], namespace: str | None) -> str:
    """Start a run of the deployed template now; returns the workflow's name (the run key).

    A value holding ``{{`` is refused before the cluster is reached: Argo would expand it as one
    of its own expressions (it has no escape), so the run would not get the value typed."""
    for name, value in params.items():
        if "{{" in value:
            raise ClusterError(
                f"--param {name} {value!r} holds '{{{{': Argo would read it as one of its own "
                f"expressions (template {template}), and it cannot be escaped",
                fix="leave '{{' out of the value (a single '{' is fine)")
    api, ns = _api(), _namespace(namespace)
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Workflow",
            "metadata": {"generateName": f"{template}-"},
            "spec": {"workflowTemplateRef": {"name": template},
                     "arguments": {"parameters": [{"name": k, "value": v}
                                                  for k, v in params.items()]}}}
    created = api.create_namespaced_custom_object(GROUP, VERSION, ns, "workflows", body)
    return created["metadata"]["name"]


def list_runs(template: str, namespace: str | None) -> list[tuple[str, str]]:
    """(workflow name, phase) of the runs of ``template``, newest first."""
    api, ns = _api(), _namespace(namespace)
    items = api.list_namespaced_custom_object(
        GROUP, VERSION, ns, "workflows",
        label_selector=f"workflows.argoproj.io/workflow-template={template}")["items"]
    items.sort(key=lambda w: w["metadata"].get("creationTimestamp", ""), reverse=True)
    return [(w["metadata"]["name"], w.get("status", {}).get("phase", "Pending")) for w in items]


def delete(name: str, namespace: str | None) -> list[str]:
    """Delete the template, its cron workflow and its sensor (those that exist).

    Only documents headwater made: one of that name that is not (another tool's template that
    happens to share the flow's Kubernetes name) refuses the whole delete, naming it, before
    anything is deleted."""
    from headwater.deployers.argo.compile import MANAGED_BY

    api, ns = _api(), _namespace(namespace)
    found = []
    for kind in ("Sensor", "CronWorkflow", "WorkflowTemplate"):
        try:
            current = api.get_namespaced_custom_object(GROUP, VERSION, ns, PLURALS[kind], name)
        except Exception as exc:  # noqa: BLE001 - 404: was not deployed
            if getattr(exc, "status", None) != 404:
                raise ClusterError(f"Kubernetes refused to read {kind} {name}: {exc}") from None
            continue
        labels = (current.get("metadata") or {}).get("labels") or {}
        if labels.get(MANAGED_BY[0]) != MANAGED_BY[1]:
            raise ClusterError(
                f"{kind} {name} in namespace {ns} was not made by headwater: delete leaves it "
                "(and the rest of the deployment) alone",
                fix="name the deployment to delete with --name, or remove that document yourself")
        found.append(kind)
    gone = []
    for kind in found:
        try:
            api.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURALS[kind], name)
            gone.append(f"{kind}/{name}")
        except Exception as exc:  # noqa: BLE001 - 404: gone meanwhile
            if getattr(exc, "status", None) != 404:
                raise ClusterError(f"Kubernetes refused to delete {kind} {name}: {exc}") from None
    return gone
