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
    """Create each document, or replace the one of the same name; returns 'Kind/name' lines."""
    api, ns = _api(), _namespace(namespace)
    done = []
    for doc in docs:
        plural, name = PLURALS[doc["kind"]], doc["metadata"]["name"]
        try:
            current = api.get_namespaced_custom_object(GROUP, VERSION, ns, plural, name)
            doc = {**doc, "metadata": {**doc["metadata"],
                                       "resourceVersion": current["metadata"]["resourceVersion"]}}
            api.replace_namespaced_custom_object(GROUP, VERSION, ns, plural, name, doc)
        except Exception as exc:  # noqa: BLE001 - 404: create it
            if getattr(exc, "status", None) != 404:
                raise ClusterError(f"Kubernetes refused {doc['kind']} {name}: {exc}") from None
            api.create_namespaced_custom_object(GROUP, VERSION, ns, plural, doc)
        done.append(f"{doc['kind']}/{name}")
    return done


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
    """Delete the template, its cron workflow and its sensor (those that exist)."""
    api, ns = _api(), _namespace(namespace)
    gone = []
    for kind in ("Sensor", "CronWorkflow", "WorkflowTemplate"):
        try:
            api.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURALS[kind], name)
            gone.append(f"{kind}/{name}")
        except Exception as exc:  # noqa: BLE001 - 404: was not deployed
            if getattr(exc, "status", None) != 404:
                raise ClusterError(f"Kubernetes refused to delete {kind} {name}: {exc}") from None
    return gone
