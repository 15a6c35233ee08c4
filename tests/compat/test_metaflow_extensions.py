"""Metaflow's extension mechanism beyond card types: a ``metaflow_extensions`` package's config
values, exceptions, top-level names, promoted submodules, and step and flow decorators written
against Metaflow's plug-in lifecycle (``metaflow.decorators``), with a flow decorator's option on
the command line. The package is written into a folder put on ``PYTHONPATH``; nothing is
installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from .helpers import headwater_argv

FILES = {
    "acme/config/mfextinit_acme.py": "ACME_LIMIT = 7\n",
    "acme/exceptions/mfextinit_acme.py": textwrap.dedent("""
        from metaflow.exception import MetaflowException

        class AcmeError(MetaflowException):
            headline = "Acme failure"
    """),
    "acme/toplevel/mfextinit_acme.py": 'toplevel = "acme_toplevel"\n',
    "acme/toplevel/acme_toplevel.py": 'acme_value = "tl"\n__mf_extensions__ = "acme"\n',
    "acme/plugins/mfextinit_acme.py": textwrap.dedent("""
        STEP_DECORATORS_DESC = [("acme_step", ".acme_decorators.AcmeStep")]
        FLOW_DECORATORS_DESC = [("acme_flow", ".acme_decorators.AcmeFlowDecorator")]
        __mf_promote_submodules__ = ["acme_tools", "frameworks"]
    """),
    "acme/plugins/acme_tools/__init__.py": "def helper():\n    return 'help'\n",
    "acme/plugins/frameworks/__init__.py": "",
    "acme/plugins/frameworks/pytorch.py": textwrap.dedent("""
        from metaflow.plugins.frameworks._orig.pytorch import PytorchParallelDecorator

        class AcmeTorch(PytorchParallelDecorator):
            pass
    """),
    "acme/plugins/acme_decorators.py": textwrap.dedent("""
        from metaflow import current
        from metaflow.decorators import FlowDecorator, StepDecorator

        class AcmeStep(StepDecorator):
            name = "acme_step"
            defaults = {"label": None}

            def task_pre_step(self, step_name, task_datastore, metadata, run_id, task_id,
                              flow, graph, retry_count, max_user_code_retries, ubf_context,
                              inputs):
                flow.pre = "%s:%s:%s" % (step_name, self.attributes["label"], retry_count)
                flow.retries_left = max_user_code_retries
                flow.graph_names = sorted(n.name for n in graph)

            def task_decorate(self, step_func, flow, graph, retry_count,
                              max_user_code_retries, ubf_context):
                def wrapped(*args):
                    flow.decorated = True
                    return step_func(*args)
                return wrapped

            def task_post_step(self, step_name, flow, graph, retry_count,
                               max_user_code_retries):
                flow.post = step_name

            def task_exception(self, exception, step_name, flow, graph, retry_count,
                               max_user_code_retries):
                flow.caught = str(exception)
                return self.attributes["label"] == "swallow"

        class AcmeFlowDecorator(FlowDecorator):
            name = "acme_flow"
            options = {"greeting": dict(default="default", show_default=True, help="Hi.")}

            def flow_init(self, flow, graph, environment, flow_datastore, metadata, logger,
                          echo, options):
                current._update_env({"greeting": options["greeting"]})
    """),
}

FLOW = textwrap.dedent("""
    from metaflow import FlowSpec, current, retry, step, acme_flow, acme_step, acme_value
    from metaflow import user_step_decorator
    from metaflow.metaflow_config import ACME_LIMIT
    from metaflow.exception import AcmeError
    from metaflow.plugins.acme_tools import helper
    from metaflow.plugins.frameworks.pytorch import AcmeTorch


    @user_step_decorator
    def mine(step_name, flow, inputs):
        flow.user_wrapped = True
        yield


    @acme_flow
    class AcmeFlow(FlowSpec):
        @mine
        @retry(times=2)
        @acme_step(label="first")
        @step
        def start(self):
            self.limit = ACME_LIMIT
            self.top = acme_value
            self.helped = helper()
            self.greeting = current.greeting
            self.torch_base = AcmeTorch.__mro__[1].__name__
            self.next(self.fails)

        @acme_step(label="swallow")
        @step
        def fails(self):
            raise AcmeError("handled by the plug-in")
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        AcmeFlow()
""")

PLAIN_FLOW = textwrap.dedent("""
    import sys
    from metaflow import FlowSpec, step


    class PlainFlow(FlowSpec):
        @step
        def start(self):
            self.loaded = sorted(m for m in sys.modules if m in (
                "headwater.compat.extension_points", "headwater.decorators.lifecycle",
                "metaflow_extensions"))
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        PlainFlow()
""")


def _write_package(root: Path) -> None:
    for relative, text in FILES.items():
        path = root / "metaflow_extensions" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _shim(tmp_path: Path) -> Path:
    folder = tmp_path / "shim"
    subprocess.run(headwater_argv("shim", str(folder)), check=True, capture_output=True)
    return folder


def _python(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_an_extension_package_s_names_and_lifecycle_decorators(tmp_path, client):
    extensions = tmp_path / "ext"
    _write_package(extensions)
    (tmp_path / "acme_flow.py").write_text(FLOW)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(_shim(tmp_path)), str(extensions))),
           "METAFLOW_GREETING": "from the environment"}
    _python(tmp_path, env, "acme_flow.py", "--greeting", "from the command line", "run")
    _python(tmp_path, env, "acme_flow.py", "run")  # the option from METAFLOW_GREETING

    client()
    from headwater import Flow

    first, second = sorted(Flow("AcmeFlow").runs(), key=lambda r: int(r.id))
    start = first["start"].task.data
    assert (start.limit, start.top, start.helped) == (7, "tl", "help")
    assert start.torch_base == "PytorchParallelDecorator"
    assert start.pre == "start:first:0" and start.decorated and start.post == "start"
    assert start.graph_names == ["end", "fails", "start"]
    assert start.retries_left == 2 and start.user_wrapped  # beside @retry and a user decorator
    assert start.greeting == "from the command line"
    assert second["start"].task.data.greeting == "from the environment"
    # task_exception handled the step's error: the task succeeded and went on to `end`
    fails = first["fails"].task
    assert fails.successful and fails.data.caught == "handled by the plug-in"
    # task_post_step runs after a step that succeeded only: `post` is the one start set
    assert fails.data.post == "start" and fails.data.pre == "fails:swallow:0"
    assert first.successful and first["end"].task.successful


def test_the_option_of_a_flow_decorator_is_in_the_help(tmp_path):
    extensions = tmp_path / "ext"
    _write_package(extensions)
    (tmp_path / "acme_flow.py").write_text(FLOW)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(_shim(tmp_path)), str(extensions)))}
    assert "--greeting" in _python(tmp_path, env, "acme_flow.py", "--help").stdout


def test_a_flow_without_extensions_never_searches_for_them(tmp_path, client):
    (tmp_path / "plain_flow.py").write_text(PLAIN_FLOW)
    env = {**os.environ, "PYTHONPATH": str(_shim(tmp_path))}
    _python(tmp_path, env, "plain_flow.py", "run")
    client()
    from headwater import Flow

    assert Flow("PlainFlow").latest_run["start"].task.data.loaded == []


VAULT = {
    "vault/plugins/mfextinit_vault.py":
        'SECRETS_PROVIDERS_DESC = [("vault", ".vault_provider.VaultProvider")]\n',
    "vault/plugins/vault_provider.py": textwrap.dedent("""
        from metaflow.plugins.secrets import SecretsProvider

        class VaultProvider(SecretsProvider):
            TYPE = "vault"

            def get_secret_as_dict(self, secret_id, options={}, role=None):
                if secret_id == "missing":
                    raise KeyError("no such secret in the vault")
                return {"VAULT_" + secret_id.upper(): options.get("prefix", "") + "s3cr3t",
                        "VAULT_ROLE": str(role)}
    """),
}

VAULT_FLOW = textwrap.dedent("""
    import os
    from metaflow import FlowSpec, secrets, step
    from metaflow.exception import MetaflowException
    from metaflow.plugins.secrets import get_secret


    class VaultFlow(FlowSpec):
        @secrets(sources=["vault.db"], role="reader")
        @step
        def start(self):
            self.db = os.environ["VAULT_DB"]
            self.role = os.environ["VAULT_ROLE"]
            self.fetched = get_secret({"type": "vault", "id": "api",
                                       "options": {"prefix": "x-"}})
            try:
                get_secret("vault.missing")
            except MetaflowException as err:
                self.error = str(err)
            self.next(self.end)

        @secrets(sources=["vault.missing"])
        @step
        def end(self):
            pass


    if __name__ == "__main__":
        VaultFlow()
""")


def test_a_secrets_provider_of_an_extension_package_serves_secrets(tmp_path, client):
    """SECRETS_PROVIDERS_DESC: @secrets and get_secret name the provider by its TYPE; a secret
    it cannot fetch fails the step, naming the step and the secret, never a value."""
    extensions = tmp_path / "ext"
    for relative, text in VAULT.items():
        path = extensions / "metaflow_extensions" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "vault_flow.py").write_text(VAULT_FLOW)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(_shim(tmp_path)), str(extensions)))}
    done = subprocess.run([sys.executable, "vault_flow.py", "run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 1, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert "s3cr3t" not in output
    assert "step 'end' of flow VaultFlow: fetching secret 'missing' (vault) failed" in output

    client()
    from headwater import Flow

    start = Flow("VaultFlow").latest_run["start"].task.data
    assert (start.db, start.role) == ("s3cr3t", "reader")
    assert start.fetched == {"VAULT_API": "x-s3cr3t", "VAULT_ROLE": "None"}
    assert "missing" in start.error and "vault" in start.error
