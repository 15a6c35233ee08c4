"""What Outerbounds' public example repositories showed missing, pinned down as headwater's tests.

The repositories (config-examples, custom-decorator-examples, dynamic-card-examples,
flow-chaining-example, ...) were played side by side with Metaflow 2.19.38 (see
docs/migrating.md); nothing of them is copied here. Each flow below is a small one of our own
with the pattern that differed.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from .helpers import headwater_argv


def _run(tmp_path, tripwire, name: str, code: str, *args: str,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    flow = tmp_path / name
    flow.write_text(textwrap.dedent(code))
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("METAFLOW_ARGO", "HEADWATER_EVENTS", "ARGO_WORKFLOW"))}
    full.update({"PYTHONPATH": tripwire, **(env or {})})
    return subprocess.run(headwater_argv(*args[:1], str(flow), *args[1:]), cwd=tmp_path,
                          env=full, capture_output=True, text=True, timeout=180)


class _Webhook:
    """A real HTTP server on loopback that keeps what it is sent (an Argo Events webhook)."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers["Content-Length"])
                received.append((dict(self.headers), json.loads(self.rfile.read(length))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


PUBLISHER = """
    from metaflow import FlowSpec, step
    from metaflow.integrations import ArgoEvent

    class PublishFlow(FlowSpec):
        @step
        def start(self):
            event = ArgoEvent(lambda: "prj.demo.main.ready", access_token="tok-1")
            event.add_to_payload("alpha", 0.5)
            self.event_id = event.publish(payload={"paths": '["a", "b"]'}, ignore_errors=False)
            self.next(self.end)

        @step
        def end(self):
            pass
"""


def test_argo_event_publish_posts_the_named_event_to_the_webhook(tmp_path, tripwire, client):
    # flow-chaining-example's end step sends an event with `from metaflow.integrations import
    # ArgoEvent` (through obproject's ProjectEvent): the module did not exist, so the flow could
    # not even be imported.
    with _Webhook() as hook:
        done = _run(tmp_path, tripwire, "publish.py", PUBLISHER, "run",
                    env={"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": hook.url})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Argo Event (prj.demo.main.ready) published." in done.stdout + done.stderr
    [(headers, body)] = hook.received
    assert headers["Authorization"] == "Bearer tok-1"
    assert body["name"] == "prj.demo.main.ready"
    payload = body["payload"]
    assert payload["alpha"] == "0.5" and payload["paths"] == '["a", "b"]'
    assert payload["name"] == "prj.demo.main.ready" and payload["generated-by-metaflow"] is True
    client()
    from headwater import Flow

    assert Flow("PublishFlow").latest_run["start"].task["event_id"].data == payload["id"]


def test_argo_event_without_a_webhook_fails_the_step_or_is_skipped_as_metaflow_does(
        tmp_path, tripwire):
    # Metaflow: publish(ignore_errors=False) with no webhook URL fails the task with an
    # ArgoEventException naming the event; safe_publish outside Argo sends nothing, says so on
    # stderr, and the run goes on.
    failed = _run(tmp_path, tripwire, "publish.py", PUBLISHER, "run")
    assert failed.returncode == 1
    assert "ArgoEventException" in failed.stdout + failed.stderr
    assert "Unable to publish Argo Event (prj.demo.main.ready)" in failed.stdout + failed.stderr
    assert "METAFLOW_ARGO_EVENTS_WEBHOOK_URL" in failed.stdout + failed.stderr  # the fix

    with _Webhook() as hook:
        done = _run(tmp_path, tripwire, "safe.py", """
            from metaflow import FlowSpec, step
            from metaflow.plugins.argo.argo_events import ArgoEvent

            class SafeFlow(FlowSpec):
                @step
                def start(self):
                    ArgoEvent("local_only").safe_publish(payload={"x": 1})
                    self.next(self.end)

                @step
                def end(self):
                    pass
        """, "run", env={"METAFLOW_ARGO_EVENTS_WEBHOOK_URL": hook.url})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Argo Event (local_only) was not published" in done.stdout + done.stderr
    assert hook.received == []


def test_a_project_flow_names_its_project_and_branch_before_the_graph_check(tmp_path, tripwire):
    # Metaflow prints `Project: NAME, Branch: BRANCH` for a @project flow (obproject's
    # ProjectFlow, config-examples' baseflow); headwater printed nothing of it.
    code = """
        from metaflow import FlowSpec, project, step

        @project(name="demo_project")
        class ProjFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    """
    done = _run(tmp_path, tripwire, "proj.py", code, "run", env={"HEADWATER_USER": "ann"})
    assert done.returncode == 0, done.stdout + done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    assert "Project: demo_project, Branch: user.ann" in lines
    assert lines.index("Project: demo_project, Branch: user.ann") < lines.index(
        "Validating your flow...")
    done = _run(tmp_path, tripwire, "proj.py", code, "run", env={"METAFLOW_BRANCH": "feat"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Project: demo_project, Branch: test.feat" in done.stdout + done.stderr


def test_get_cards_of_a_task_without_any_card_raises_as_metaflow_does(tmp_path, tripwire,
                                                                      client):
    # config-examples' GitInfoFlow has a card on `start` only; reading every task's cards as
    # Metaflow's client does raises CardNotPresentException for `end` (code written for Metaflow
    # catches it to skip the task). headwater gave an empty container, so such code then failed
    # on `cards[0]` or silently skipped differently.
    done = _run(tmp_path, tripwire, "cardflow.py", """
        from metaflow import FlowSpec, card, current, step
        from metaflow.cards import Markdown

        class OneCardFlow(FlowSpec):
            @card(type="blank", id="info")
            @step
            def start(self):
                current.card["info"].append(Markdown("# Deployment info"))
                self.next(self.end)

            @step
            def end(self):
                pass
    """, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    client()
    from headwater import Flow
    from headwater.compat.card_exception import CardNotPresentException  # Metaflow's path
    from headwater.compat.cards import get_cards  # metaflow.cards

    run = Flow("OneCardFlow").latest_run
    found = {}
    for step in run:
        try:
            found[step.id] = [(c.type, c.id) for c in get_cards(step.task)]
        except CardNotPresentException as exc:
            found[step.id] = str(exc)
    assert found["start"] == [("blank", "info")]
    assert "OneCardFlow/1/end/2" in found["end"] and "@card" in found["end"]  # names the fix
    assert len(get_cards(run["start"].task, id="other")) == 0  # a filter matching none: empty
    listed = subprocess.run(headwater_argv("card", "list", str(tmp_path / "cardflow.py")),
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": tripwire},
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stdout + listed.stderr  # `card list` still lists
    assert "OneCardFlow/1/start/1" in listed.stdout


HTML_CARD_TYPE = """
from metaflow.plugins.cards.card_modules.card import MetaflowCard


class RawHTMLCard(MetaflowCard):
    ALLOW_USER_COMPONENTS = True
    RUNTIME_UPDATABLE = True
    type = "raw_html"

    def __init__(self, options={"attribute": "html"}, **kwargs):
        self._attr = options.get("attribute", "html")

    def render(self, task):
        user = getattr(self, "runtime_data", {}).get("user")
        if self._attr in task:
            return str(task[self._attr].data)
        if user:
            return user["html"]
        return "<p>nothing given</p>"


CARDS = [RawHTMLCard]
"""


def test_a_card_package_written_against_metaflows_card_module_path_renders(tmp_path, tripwire,
                                                                           client):
    # metaflow-card-html (and obproject's highlight card) import MetaflowCard from
    # metaflow.plugins.cards.card_modules.card, and read runtime_data["user"]: what the step
    # last passed to current.card.refresh(data). The module did not exist (the card type failed
    # to load) and runtime_data was never set.
    package = tmp_path / "ext" / "metaflow_extensions" / "card_rawhtml" / "plugins" / "cards"
    (package / "rawhtml").mkdir(parents=True)
    (package / "rawhtml" / "__init__.py").write_text(HTML_CARD_TYPE)
    done = _run(tmp_path, tripwire, "htmlflow.py", """
        from metaflow import FlowSpec, card, current, step

        class HTMLFlow(FlowSpec):
            @card(type="raw_html", options={"attribute": "page"})
            @step
            def start(self):
                self.page = "<h1 style='color: blue'>Hello World</h1>"
                self.next(self.end)

            @card(type="raw_html")
            @step
            def end(self):
                current.card.refresh({"html": "<p>from refresh</p>"})
    """, "run", env={"PYTHONPATH": os.pathsep.join([tripwire, str(tmp_path / "ext")])})
    assert done.returncode == 0, done.stdout + done.stderr
    client()
    from headwater import Flow
    from headwater.cards import get_cards

    run = Flow("HTMLFlow").latest_run
    assert get_cards(run["start"].task)[0].get() == "<h1 style='color: blue'>Hello World</h1>"
    assert get_cards(run["end"].task)[0].get() == "<p>from refresh</p>"


TEMPLATE_CARD_TYPE = """
import json
import os

from metaflow.cards import MetaflowCard

TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "base.html")


class TemplateCard(MetaflowCard):
    ALLOW_USER_COMPONENTS = True
    RUNTIME_UPDATABLE = True
    type = "templated"

    def _html(self, user):
        chevron = self._get_mustache()
        with open(TEMPLATE) as f:
            return chevron.render(f, {"config-title": user.get("title", "none"),
                                      "config-points": json.dumps(user.get("points", []))})

    def render(self, task):
        return self._html(self.runtime_data.get("user", {}))

    def render_runtime(self, task, data):
        return self._html(data.get("user", {}))


CARDS = [TemplateCard]
"""


def test_a_card_type_fills_its_template_with_the_mustache_engine_and_refresh_data(
        tmp_path, tripwire, client):
    # dynamic-card-examples' custom card (metaflow-card-scatter3d) renders a template with
    # self._get_mustache() and the data of the step's last current.card.refresh(data); neither
    # existed, so its card was an error page.
    package = tmp_path / "ext" / "metaflow_extensions" / "tpl" / "plugins" / "cards" / "tpl"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(TEMPLATE_CARD_TYPE)
    (package / "base.html").write_text(
        "<html><h1>{{{config-title}}}</h1><script>var p = {{{config-points}}};</script></html>")
    done = _run(tmp_path, tripwire, "scatter.py", """
        from metaflow import FlowSpec, card, current, step

        class ScatterLikeFlow(FlowSpec):
            @card(type="templated")
            @step
            def start(self):
                for epoch in (1, 2, 3):
                    current.card.refresh({"title": f"Epoch {epoch}/3",
                                          "points": [[epoch, 0, 1]]})
                self.next(self.end)

            @step
            def end(self):
                pass
    """, "run", env={"PYTHONPATH": os.pathsep.join([tripwire, str(tmp_path / "ext")])})
    assert done.returncode == 0, done.stdout + done.stderr
    client()
    from headwater import Flow
    from headwater.cards import get_cards

    page = get_cards(Flow("ScatterLikeFlow").latest_run["start"].task)[0].get()
    assert page == "<html><h1>Epoch 3/3</h1><script>var p = [[3, 0, 1]];</script></html>"
