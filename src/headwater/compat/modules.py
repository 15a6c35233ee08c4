"""Which ``metaflow.*`` module paths headwater serves, and from where.

Flows and tools written for Metaflow import a few names from submodules, not only from the top
package (``from metaflow.exception import MetaflowException``, ``from metaflow.cards import
get_cards``, ``from metaflow.util import is_stringish``). Both ways of serving ``metaflow`` (the
in-process alias and the forwarding package ``headwater shim`` writes) read this one table, so
they never disagree. It lists the public surface plus the handful of internal paths real flows
and tools import; it is not a copy of Metaflow's module tree.
"""

from __future__ import annotations

# metaflow module path -> the headwater module that serves it ("" = an empty package).
SERVED: dict[str, str] = {
    "metaflow": "headwater.compat.metaflow_api",
    "metaflow.exception": "headwater.compat.exception_names",
    "metaflow.cards": "headwater.compat.cards",
    "metaflow.client": "headwater.compat.client_names",
    "metaflow.client.core": "headwater.compat.client_names",
    "metaflow.events": "headwater.compat.events_names",
    "metaflow.includefile": "headwater.compat.includefile",
    "metaflow.util": "headwater.compat.util",
    "metaflow.metaflow_current": "headwater.compat.current_names",
    "metaflow.metaflow_version": "headwater.compat.version_names",
    "metaflow.user_configs": "",
    "metaflow.user_configs.config_parameters": "headwater.compat.config_names",
    "metaflow.plugins": "headwater.compat.plugins_names",
    "metaflow.plugins.cards": "",
    "metaflow.plugins.cards.exception": "headwater.compat.card_exception",
    "metaflow.plugins.cards.card_client": "headwater.compat.card_client",
    "metaflow.plugins.cards.card_modules": "",
    "metaflow.plugins.cards.card_modules.card": "headwater.compat.card_base",
    "metaflow.plugins.cards.card_modules.components": "headwater.compat.cards",
    "metaflow.plugins.cards.card_modules.test_cards": "headwater.compat.test_cards",
    "metaflow.plugins.cards.card_modules.basic": "headwater.compat.card_basic",
    "metaflow.plugins.secrets": "headwater.compat.secrets_names",
    "metaflow.plugins.datatools": "headwater.compat.datatools",
    "metaflow.plugins.datatools.s3": "headwater.compat.s3_names",
    "metaflow.plugins.datatools.s3.s3": "headwater.compat.s3_names",
    "metaflow.plugins.datatools.s3.s3util": "headwater.compat.s3util_names",
    "metaflow.plugins.datatools.s3.s3op": "headwater.compat.s3op_names",
    # Metaflow's older public path for the S3 client (`from metaflow.datatools.s3 import
    # S3GetObject`, as its data page writes it)
    "metaflow.datatools": "headwater.compat.datatools",
    "metaflow.datatools.s3": "headwater.compat.s3_names",
    "metaflow.runner": "",
    "metaflow.runner.metaflow_runner": "headwater.compat.runner_names",
    "metaflow.runner.nbrun": "headwater.compat.runner_names",
    "metaflow.runner.deployer": "headwater.compat.runner_names",
    "metaflow.packaging_sys": "headwater.compat.packaging_names",
    "metaflow.user_decorators": "",
    "metaflow.user_decorators.mutable_flow": "headwater.compat.user_decorators",
    "metaflow.user_decorators.mutable_step": "headwater.compat.user_decorators",
    "metaflow.user_decorators.user_flow_decorator": "headwater.compat.user_decorators",
    "metaflow.user_decorators.user_step_decorator": "headwater.compat.user_decorators",
    "metaflow.plugins.parsers": "headwater.environments.parsers",
    "metaflow.plugins.pypi": "",
    "metaflow.plugins.pypi.parsers": "headwater.environments.parsers",
    "metaflow.flowspec": "headwater.compat.flowspec_names",
    "metaflow.graph": "headwater.compat.graph_names",
    "metaflow.lint": "headwater.compat.lint",
    "metaflow.multicore_utils": "headwater.flow.multicore",
    "metaflow.plugins.package_suffixes_mutator": "headwater.decorators.package_suffixes",
    "metaflow.datastore": "",
    "metaflow.datastore.artifacts": "headwater.store.serializers",
    "metaflow.datastore.artifacts.serializer": "headwater.compat.serializer_names",
    "metaflow.datastore.artifacts.diagnostic": "headwater.store.serializers.status",
    "metaflow.datastore.artifacts.lazy_registry": "headwater.store.serializers.import_watch",
    "metaflow.plugins.datastores": "",
    "metaflow.plugins.datastores.serializers": "",
    "metaflow.plugins.datastores.serializers.pickle_serializer":
        "headwater.store.serializers.pickle_serializer",
    "metaflow.decorators": "headwater.compat.decorator_names",
    "metaflow.metaflow_config": "headwater.compat.config_values",
    "metaflow.metaflow_profile": "headwater.compat.profile_names",
    "metaflow.unbounded_foreach": "headwater.flow.unbounded",
    "metaflow.plugins.test_unbounded_foreach_decorator": "headwater.compat.ubf_test_names",
    # the `metaflow` console script (`metaflow = metaflow.cmd.main_cli:start`): `metaflow code`
    "metaflow.cmd": "",
    "metaflow.cmd.main_cli": "headwater.cli.metaflow_cmd",
    "metaflow.integrations": "headwater.compat.argo_events",
    "metaflow.plugins.argo": "",
    "metaflow.plugins.argo.argo_events": "headwater.compat.argo_events",
}

# Served modules whose names are partly found on use (a module ``__getattr__``): the names
# ``metaflow_extensions`` packages add (extension_points.py). The shim forwards the lookup.
DYNAMIC: frozenset[str] = frozenset({"metaflow", "metaflow.exception", "metaflow.metaflow_config",
                                     "metaflow.plugins"})

LAZY: frozenset[str] = frozenset(name for name in SERVED if name.startswith(
    ("metaflow.datastore.", "metaflow.plugins.datastores.")) and SERVED[name]) | {
    "metaflow.decorators", "metaflow.metaflow_config", "metaflow.unbounded_foreach",
    "metaflow.plugins.test_unbounded_foreach_decorator", "metaflow.cmd.main_cli",
    "metaflow.integrations", "metaflow.plugins.cards.card_modules.card",
    "metaflow.plugins.cards.card_modules.components", "metaflow.plugins.argo.argo_events",
    "metaflow.runner.metaflow_runner", "metaflow.runner.nbrun", "metaflow.runner.deployer"}
"""Served modules the in-process alias imports only when first used: the artifact-serializer
registry and the plug-in decorators' bases have no business in a run that does not name them
(a run's imports stay lean)."""

PRIVATE: dict[str, tuple[str, ...]] = {"metaflow.decorators": ("_attach_decorators_to_step",)}
"""Private names of Metaflow's that plug-ins call all the same, per served module: ``import *``
leaves them out, so the shim's file imports each by name."""

MAIN: dict[str, str] = {"metaflow.cmd.main_cli": "start"}
"""Served modules that run a function under ``python -m`` (as Metaflow's do): the shim's file
ends with the call."""


def packages() -> set[str]:
    """The module paths that must be packages (they have served submodules)."""
    return {name.rsplit(".", 1)[0] for name in SERVED if "." in name}
