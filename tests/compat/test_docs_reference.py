"""What playing Metaflow's documentation site as a new user showed missing (the mfdocs round).

The API reference pages (``docs/api``: every class, method and option they document) and the
guide pages the earlier docs round could not play (the client page, S3, inspecting events) were
played against headwater and real Metaflow side by side (docs/migrating.md); each gap they found
is pinned down here, through real processes and the forwarding package a user would use.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from .helpers import shim_folder

_BRANCH_FLOW = """
    from metaflow import FlowSpec, current, project, step

    @project(name="docsproj"{options})
    class BranchFlow(FlowSpec):
        @step
        def start(self):
            print("branch=" + current.branch_name, "production=" + str(current.is_production),
                  "user_branch=" + str(current.is_user_branch))
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        BranchFlow()
"""


def _python(tmp_path, *args: str, user: str = "alice") -> subprocess.CompletedProcess:
    """``python ARGS`` in the test's folder as ``user``, ``import metaflow`` served by the shim."""
    env = {**os.environ, "PYTHONPATH": shim_folder(tmp_path), "USER": user}
    env.pop("HEADWATER_USER", None)
    env.pop("METAFLOW_USER", None)
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=180)


def _branch_run(tmp_path, options: str, *top: str) -> subprocess.CompletedProcess:
    (tmp_path / "branchflow.py").write_text(textwrap.dedent(_BRANCH_FLOW.format(options=options)))
    return _python(tmp_path, "branchflow.py", *top, "run")


def test_project_takes_its_branch_and_production_options_in_the_decorator(tmp_path):
    # docs/api/flow-decorators/project: @project(name, branch=None, production=False); the
    # branch is test.<branch>, prod.<branch> with production=True, prod for production alone.
    done = _branch_run(tmp_path, ', branch="feature_x"')
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Project: docsproj, Branch: test.feature_x" in done.stdout + done.stderr
    assert "branch=test.feature_x production=False user_branch=False" in done.stdout

    done = _branch_run(tmp_path, ", production=True")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "branch=prod production=True user_branch=False" in done.stdout

    # The command line adds what the decorator left out, and may repeat what it wrote.
    done = _branch_run(tmp_path, ", production=True", "--branch", "b")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "branch=prod.b production=True" in done.stdout
    done = _branch_run(tmp_path, ", branch=None, production=False")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "branch=user.alice production=False user_branch=True" in done.stdout


def test_a_command_line_branch_that_contradicts_the_decorator_is_refused(tmp_path):
    done = _branch_run(tmp_path, ', branch="feature_x"', "--branch", "feature_x")
    assert done.returncode == 0, done.stdout + done.stderr
    done = _branch_run(tmp_path, ', branch="feature_x"', "--branch", "other")
    assert done.returncode == 1
    assert "--branch other" in done.stderr and "@project(branch='feature_x')" in done.stderr
    assert "BranchFlow" in done.stderr and "fix:" in done.stderr
    done = _branch_run(tmp_path, ", production=False", "--production")
    assert done.returncode == 1
    assert "--production" in done.stderr and "@project(production=False)" in done.stderr


def test_every_documented_option_of_the_local_step_decorators_is_taken(tmp_path):
    # docs/api/step-decorators: each option written with its documented default.
    (tmp_path / "alloptions.py").write_text(textwrap.dedent("""
        from metaflow import (FlowSpec, card, catch, environment, resources, retry, secrets,
                              step, timeout)

        class AllOptionsFlow(FlowSpec):
            @card(type="default", id=None, options={}, timeout=45)
            @catch(var=None, print_exception=True)
            @environment(vars={"A": "1"})
            @resources(cpu=1, gpu=None, disk=None, memory=4096, shared_memory=None)
            @retry(times=3, minutes_between_retries=2)
            @secrets(sources=[], role=None)
            @timeout(seconds=60, minutes=0, hours=0)
            @step
            def start(self):
                import os
                print("A=" + os.environ["A"])
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            AllOptionsFlow()
    """))
    done = _python(tmp_path, "alloptions.py", "run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "A=1" in done.stdout


def test_the_module_paths_the_reference_pages_import_from(tmp_path):
    # docs/scaling/data writes `from metaflow.datatools.s3 import S3GetObject`; docs/api/runner
    # and docs/api/client name metaflow.runner.* and default_metadata.
    done = _python(tmp_path, "-c", textwrap.dedent("""
        from metaflow.datatools.s3 import S3GetObject, S3PutObject, MetaflowS3NotFound
        from metaflow.datatools import S3
        from metaflow.runner.metaflow_runner import Runner, ExecutingRun
        from metaflow.runner.nbrun import NBRunner
        from metaflow.runner.deployer import Deployer, DeployedFlow, TriggeredRun
        from metaflow import Runner as R, default_metadata
        from metaflow.client import default_metadata as dm
        from metaflow.cards import MetaflowCard
        assert Runner is R and dm is default_metadata
        part = S3GetObject(key="s3://b/k", offset=0, length=4)
        print("ok", part.key, part.offset, part.length, S3.__name__)
        print("refresh", MetaflowCard().refresh(None, {"user": 1}))
    """))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok s3://b/k 0 4 S3" in done.stdout
    assert "refresh {'user': 1}" in done.stdout


def test_default_metadata_returns_to_the_store_before_any_metadata_call(tmp_path):
    (tmp_path / "other").mkdir()
    done = _python(tmp_path, "-c", textwrap.dedent("""
        from metaflow import default_metadata, get_metadata, metadata
        first = get_metadata()
        moved = metadata("local@other")
        assert moved != first and "other" in get_metadata(), (first, moved)
        back = default_metadata()
        assert back == first == get_metadata(), (first, back)
        print("ok", back.split("@")[0])
    """))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok local" in done.stdout


def test_a_trigger_is_read_by_event_name_or_upstream_flow(tmp_path):
    # docs/production/event-triggering/inspect-events: run.trigger['data_updated'].name and
    # run.trigger['FirstFlow'].data.model; MetaflowEvent has a `type` ('event' or 'run').
    for name, value in (("FirstFlow", "m1"), ("SecondFlow", "m2")):
        (tmp_path / f"{name.lower()}.py").write_text(textwrap.dedent(f"""
            from metaflow import FlowSpec, step

            class {name}(FlowSpec):
                @step
                def start(self):
                    self.model = {value!r}
                    self.next(self.end)

                @step
                def end(self):
                    pass

            if __name__ == "__main__":
                {name}()
        """))
        done = _python(tmp_path, f"{name.lower()}.py", "run")
        assert done.returncode == 0, done.stdout + done.stderr
    done = _python(tmp_path, "-c", textwrap.dedent("""
        from metaflow import Flow
        from metaflow.events import Trigger
        runs = [Flow("FirstFlow").latest_run, Flow("SecondFlow").latest_run]
        trigger = Trigger.from_runs(runs)
        print("model", trigger["FirstFlow"].data.model, trigger["SecondFlow"].data.model)
        print("in", "FirstFlow" in trigger, "ThirdFlow" in trigger)
        print("types", sorted({event.type for event in trigger}))
        try:
            trigger["ThirdFlow"]
        except KeyError as error:
            print("missing", error)
        events = Trigger([{"name": "data_updated", "id": "e1", "timestamp": 1},
                          {"name": "phase_of_the_moon", "id": "e2", "timestamp": 2}])
        print("event", events["data_updated"].name, events["data_updated"].type,
              len(events.events))
        print("empty", Trigger([]).events)
    """))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "model m1 m2" in out
    assert "in True False" in out
    assert "types ['run']" in out
    assert "missing" in out and "ThirdFlow" in out and "FirstFlow" in out
    assert "event data_updated event 2" in out
    assert "empty None" in out


_CONSUMER = """
    from metaflow import Flow, FlowSpec, current, get_namespace, step

    class ConsumerFlow(FlowSpec):
        @step
        def start(self):
            print("client namespace:", get_namespace(), "run namespace:", current.namespace)
            try:
                print("found:", Flow("HelloFlow").latest_run.pathspec)
            except Exception as error:
                print("error:", type(error).__name__)
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        ConsumerFlow()
"""


def test_run_namespace_sets_the_client_namespace_inside_the_tasks(tmp_path):
    # docs/scaling/tagging: "use the --namespace flag on the command line to switch between
    # namespaces" for flows that read other flows' results through the client.
    (tmp_path / "hello.py").write_text(textwrap.dedent("""
        from metaflow import FlowSpec, step

        class HelloFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            HelloFlow()
    """))
    done = _python(tmp_path, "hello.py", "run", user="will")
    assert done.returncode == 0, done.stdout + done.stderr
    (tmp_path / "consumer.py").write_text(textwrap.dedent(_CONSUMER))

    def consume(*options: str) -> str:
        done = _python(tmp_path, "consumer.py", "run", *options)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    out = consume()  # without the option: alice's own namespace, where HelloFlow has no run
    assert "client namespace: user:alice" in out and "error: NamespaceMismatchError" in out
    out = consume("--namespace", "user:will")
    assert "client namespace: user:will run namespace: user:alice" in out
    assert "found: HelloFlow/1" in out
    out = consume("--namespace=")
    assert "client namespace: None" in out and "found: HelloFlow/1" in out
    # The Runner's keyword for it is Metaflow's, user_namespace.
    done = _python(tmp_path, "-c", textwrap.dedent("""
        from metaflow import Runner
        with Runner("consumer.py", show_output=False).run(user_namespace="user:will") as running:
            print(running.run["start"].task.stdout)
    """))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "found: HelloFlow/1" in done.stdout


def test_max_log_size_caps_each_stored_log_with_metaflows_note(tmp_path):
    # `run --help` of Metaflow lists --max-log-size (MB): a task's stored output stops there.
    (tmp_path / "bigout.py").write_text(textwrap.dedent("""
        import sys
        from metaflow import FlowSpec, step

        class BigOutFlow(FlowSpec):
            @step
            def start(self):
                for _ in range(3 * 1024):
                    sys.stdout.write("x" * 1023 + "\\n")
                print("after the limit")
                self.next(self.end)

            @step
            def end(self):
                print("small")

        if __name__ == "__main__":
            BigOutFlow()
    """))
    done = _python(tmp_path, "bigout.py", "run", "--max-log-size", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "after the limit" in done.stdout  # the console shows everything
    done = _python(tmp_path, "-c", textwrap.dedent("""
        from metaflow import Flow
        run = Flow("BigOutFlow").latest_run
        out = run["start"].task.stdout
        print(len(out) < 1024 * 1024, out.splitlines()[-1], repr(run["end"].task.stdout))
    """))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "True [TRUNCATED - MAXIMUM LOG FILE SIZE REACHED] 'small\\n'" in done.stdout


def test_the_deployer_starts_a_metaflow_flow_through_headwater(tmp_path, tripwire):
    # docs/api/deployer: Deployer(flow_file, show_output, profile, env, cwd, file_read_timeout).
    # A script that imports metaflow through the alias (no shim on the path) deploys a flow
    # written for metaflow: the flow must start through headwater, as the Runner's runs do,
    # never through the `metaflow` package on the path (here, one that refuses to import).
    (tmp_path / "helloflow.py").write_text(textwrap.dedent("""
        from metaflow import FlowSpec, step

        class HelloFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            HelloFlow()
    """))
    env = {**os.environ, "PYTHONPATH": tripwire, "USER": "alice"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        from headwater.compat import alias
        alias.install()
        from metaflow import Deployer
        deployer = Deployer("helloflow.py", show_output=False, profile=None,
                            file_read_timeout=60)
        deployed = deployer.airflow().create(out="dag_hello.py")
        print("deployed", deployed.name)

        # TriggeredRun.wait_for_run (the deployer page): a run the orchestrator has not
        # started times out, naming it; one whose start task registered it is returned. A
        # local run carrying the orchestrator's run tag stands in for the one Airflow starts.
        from headwater.runner.deployer import TriggeredRun
        try:
            TriggeredRun(deployed, "never").wait_for_run(check_interval=0.1, timeout=0.5)
        except TimeoutError as error:
            print("timed out:", error)
        import subprocess, sys
        subprocess.run([sys.executable, "-c",
                        "from headwater.cli.main import main; main()", "helloflow.py", "run",
                        "--tag", "orchestrator_run:k1"], check=True, capture_output=True)
        found = TriggeredRun(deployed, "k1").wait_for_run(check_interval=0.1, timeout=60)
        print("found", found.pathspec, found.successful)
    """)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "deployed HelloFlow" in done.stdout
    assert "HelloFlow" in (tmp_path / "dag_hello.py").read_text()
    assert "timed out: airflow run never of HelloFlow did not start within 0.5 s" in done.stdout
    assert "found HelloFlow/1 True" in done.stdout


def test_mode_spin_reads_the_cards_and_artifacts_spin_recorded(tmp_path):
    # The default-cards page: "python defaultcard.py --mode spin card server" shows the cards of
    # spun tasks; the same top-level option serves `card get|list`, `dump` and `logs`.
    (tmp_path / "defaultcard.py").write_text(textwrap.dedent("""
        from metaflow import FlowSpec, card, step

        class DefaultCardFlow(FlowSpec):
            @card
            @step
            def start(self):
                self.alpha = 0.5
                print("spun start")
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            DefaultCardFlow()
    """))
    for args in (("run",), ("spin", "start", "--persist")):
        done = _python(tmp_path, "defaultcard.py", *args)
        assert done.returncode == 0, done.stdout + done.stderr
    done = _python(tmp_path, "defaultcard.py", "--mode", "spin", "card", "list", "start")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DefaultCardFlow/spin-1/start/" in done.stdout
    done = _python(tmp_path, "defaultcard.py", "--mode", "spin", "card", "get", "start", "c.html")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "c.html").stat().st_size > 0
    done = _python(tmp_path, "defaultcard.py", "--mode", "spin", "dump", "spin-1/start")
    assert done.returncode == 0 and "alpha" in done.stdout, done.stdout + done.stderr
    done = _python(tmp_path, "defaultcard.py", "--mode", "spin", "logs", "spin-1/start")
    assert done.returncode == 0 and "spun start" in done.stdout, done.stdout + done.stderr
    # Without it the same commands read the runs; a run refuses the option, naming the fix.
    done = _python(tmp_path, "defaultcard.py", "card", "list", "start")
    assert "spin-1" not in done.stdout
    done = _python(tmp_path, "defaultcard.py", "--mode", "spin", "run")
    assert done.returncode == 1
    assert "--mode spin" in done.stderr and "`run` does not take it" in done.stderr


def test_a_default_function_must_return_the_parameters_type(tmp_path):
    # docs/api/flowspec: "if the function returns a non-string value, you must specify the
    # parameter type". Metaflow refuses the run; headwater used to turn the int into a string.
    flow = """
        import time
        from metaflow import FlowSpec, Parameter, step

        def time_now(context):
            return int(time.time())

        class TimeFlow(FlowSpec):
            myparam = Parameter("time", {type}default=time_now)

            @step
            def start(self):
                print("value is", type(self.myparam).__name__)
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            TimeFlow()
    """
    (tmp_path / "timeflow.py").write_text(textwrap.dedent(flow.format(type="")))
    done = _python(tmp_path, "timeflow.py", "run")
    assert done.returncode == 1
    assert "parameter 'time'" in done.stderr and "time_now returned int" in done.stderr
    assert "Parameter('time', type=int, default=time_now)" in done.stderr
    (tmp_path / "timeflow.py").write_text(textwrap.dedent(flow.format(type="type=int, ")))
    done = _python(tmp_path, "timeflow.py", "run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "value is int" in done.stdout


def test_metaflows_metadata_service_is_refused_not_taken_for_a_file(tmp_path):
    # The client page: metadata('https://localhost:5000/mymetaflowservice'); the CLI's
    # `--metadata service`. Before, the URL read the local runs without a word and `service`
    # became a SQLite file in the current folder that the run recorded into.
    (tmp_path / "hello.py").write_text(textwrap.dedent("""
        from metaflow import FlowSpec, step

        class HelloFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            HelloFlow()
    """))
    done = _python(tmp_path, "hello.py", "--metadata", "service", "run")
    assert done.returncode == 1
    assert "Metaflow's metadata service" in done.stderr and "fix:" in done.stderr
    assert not (tmp_path / "service").exists()
    done = _python(tmp_path, "-c", textwrap.dedent("""
        from metaflow import metadata
        try:
            metadata("https://localhost:5000/mymetaflowservice")
        except ValueError as error:
            print("refused:", error)
    """))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "refused:" in done.stdout and "postgresql://" in done.stdout


def test_parallel_map_is_served_at_the_top_level(tmp_path):
    # docs/scaling/remote-tasks/multicore: `from metaflow import FlowSpec, step, parallel_map`.
    (tmp_path / "bigsum.py").write_text(textwrap.dedent("""
        from metaflow import FlowSpec, parallel_imap_unordered, parallel_map, resources, step

        class BigSum(FlowSpec):
            @resources(cpu=2)
            @step
            def start(self):
                rows = [[i * j % 7 for j in range(50)] for i in range(40)]
                self.sum = sum(parallel_map(lambda i: sum(map(sum, rows[i:i + 10])),
                                            range(0, 40, 10)))
                self.again = sorted(parallel_imap_unordered(lambda x: x * 2, [1, 2, 3]))
                self.next(self.end)

            @step
            def end(self):
                print("The sum is", self.sum, self.again)

        if __name__ == "__main__":
            BigSum()
    """))
    done = _python(tmp_path, "bigsum.py", "run")
    assert done.returncode == 0, done.stdout + done.stderr
    total = sum(i * j % 7 for j in range(50) for i in range(40))
    assert f"The sum is {total} [2, 4, 6]" in done.stdout


def test_get_cards_of_a_cloned_task_follows_its_origin_unless_told_not_to(tmp_path):
    # docs/api/cards: get_cards(task, id=None, type=None, follow_resumed=True).
    (tmp_path / "cr.py").write_text(textwrap.dedent("""
        import os
        from metaflow import FlowSpec, card, current, step
        from metaflow.cards import Markdown

        class CardResumeFlow(FlowSpec):
            @card
            @step
            def start(self):
                current.card.append(Markdown("# from start"))
                self.next(self.end)

            @step
            def end(self):
                if not os.path.exists("fixed"):
                    raise Exception("fails until fixed")

        if __name__ == "__main__":
            CardResumeFlow()
    """))
    assert _python(tmp_path, "cr.py", "run").returncode == 1
    (tmp_path / "fixed").write_text("")
    done = _python(tmp_path, "cr.py", "resume")
    assert done.returncode == 0, done.stdout + done.stderr
    done = _python(tmp_path, "-c", textwrap.dedent("""
        from metaflow import Flow
        from metaflow.cards import get_cards
        from metaflow.plugins.cards.exception import CardNotPresentException
        start = Flow("CardResumeFlow").latest_run["start"].task
        print("followed", len(get_cards(start)), "from start" in get_cards(start)[0].get())
        try:
            get_cards(start, follow_resumed=False)
        except CardNotPresentException as error:
            print("own cards: none;", error)
    """))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "followed 1 True" in done.stdout
    assert "own cards: none;" in done.stdout and "cloned by resume from" in done.stdout
