"""What a user coming from Prefect, Dagster or Airflow types first, and what headwater calls it.

``headwater deploy``, ``python flow.py run --retries 3`` and ``headwater dev`` are the first
guesses of people who know another orchestrator; click answers them with "No such command" or
"No such option" and nothing else. These tables turn such a word into one line that names the
command, option or decorator that does it here, and the page that says more. Pure data and
lookups: the CLI calls them only when the word was not found, so nothing here costs a run.

A template names a command of the flow as ``{cmd:COMMAND}`` (or ``{cmd:COMMAND|BEFORE}`` for
options that go before it); the caller renders that as its user types it (``python f.py
COMMAND`` or ``headwater COMMAND f.py``), so the hint can be pasted as it stands.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# A word typed as a command (`headwater WORD`, `python flow.py WORD`) -> where that is here.
_DEPLOY = ("deploying is `{cmd:argo-workflows create}` (Argo Workflows) or `{cmd:airflow create} "
           "dags/flow.py` (Apache Airflow); see docs/production.md")
_SCHEDULE = ("a schedule is the flow decorator @schedule(cron='0 6 * * *') (or daily=True, "
             "hourly=True), which takes effect when the flow is deployed with `{cmd:argo-workflows "
             "create}` or `{cmd:airflow create} dags/flow.py`; without an orchestrator, a "
             "crontab line running `{cmd:run}` does it; see docs/production.md")
_UI = ("the web UI is `headwater ui` (http://127.0.0.1:8080; pip install 'headwater[ui]'); no "
       "server is needed to run flows; see docs/ui.md")
_RUNS = ("`headwater runs [FLOW]` lists the latest runs and their status (--status failed keeps "
         "the failed ones; --json for scripts)")
_RUN = "`{cmd:run}` runs the flow (its parameters are options: `{cmd:run} --help`)"
_RESUME = ("`{cmd:resume}` runs again what failed in the latest run and what follows it, reusing "
           "what succeeded (`{cmd:resume} STEP` from a step on)")
_NOTIFY = ("to be told when a run ends, put the flow decorator @exit_hook(on_success=[notify], "
           "on_error=[notify]) on the flow class: it calls your functions (def notify(run): ... "
           "posts to chat, sends mail) once the run has ended")
_ARTIFACTS = ("what a step assigns to self (self.model = ...) is stored as an artifact: "
              "`{cmd:dump} RUN_ID/STEP` prints them, Flow('MyFlow').latest_run.data.model reads "
              "them in Python")

COMMANDS: dict[str, str] = {
    **dict.fromkeys(("deploy", "deployment", "deployments", "register", "publish", "create"),
                    _DEPLOY),
    **dict.fromkeys(("schedule", "schedules", "cron"), _SCHEDULE),
    "backfill": ("there is no backfill command: a run for a past date is a run with a date "
                 "Parameter (`{cmd:run} --date 2026-11-01`), and several are a loop over "
                 "Runner('flow.py').run(date=...) in Python (README: Start runs from Python)"),
    **dict.fromkeys(("dev", "server", "serve", "webserver", "dashboard", "web"), _UI),
    **dict.fromkeys(("status", "list", "ls", "history", "flows", "flow-runs"), _RUNS),
    **dict.fromkeys(("execute", "materialize", "launch", "start", "exec", "job", "pipeline",
                     "flow"), _RUN),
    **dict.fromkeys(("notify", "notifications", "alert", "alerts", "hooks"), _NOTIFY),
    **dict.fromkeys(("retry", "rerun", "restart", "reexecute", "re-execute"), _RESUME),
    **dict.fromkeys(("asset", "assets", "artifact", "artifacts", "outputs", "result", "results"),
                    _ARTIFACTS),
    "log": "`{cmd:logs} RUN_ID/STEP` prints what a step's tasks printed",
    "cache": ("a step marked @cache reuses an earlier result when its code and inputs are the "
              "same; `{cmd:run} --no-cache` runs every step; `headwater cache clear FLOW` drops "
              "a flow's cached results; `headwater gc` frees stored data; see docs/datastore.md"),
    **dict.fromkeys(("secret", "secrets", "block", "blocks", "variables"),
                    "secrets reach a step as environment variables through the step decorator "
                    "@secrets(sources=[...]); see docs/migrating.md (@secrets)"),
    **dict.fromkeys(("config", "settings", "profile"),
                    "`headwater configure show` prints the settings in effect; a flow's own "
                    "configs are Config(...) given with `{cmd:run|--config NAME FILE}`; see "
                    "docs/configs.md"),
    **dict.fromkeys(("worker", "agent", "workers"),
                    "no worker to start: `{cmd:run}` runs the tasks itself; for a cluster, "
                    "`{cmd:run} --executor dask --dask-address ...` (docs/scale-out.md)"),
    **dict.fromkeys(("cancel", "stop", "kill", "abort"),
                    "Ctrl-C (or SIGTERM) stops a local run, recorded as failed, and "
                    "`{cmd:resume}` continues it; `headwater delete FLOW/RUN_ID` deletes a run"),
    **dict.fromkeys(("init", "new", "scaffold"),
                    "a flow is one .py file with a FlowSpec class: start from README.md's tour or "
                    "a file of examples/"),
    **dict.fromkeys(("test", "tests"),
                    "steps are tested with run_step(MyFlow, 'step', artifacts={...}) from "
                    "headwater.testing; see docs/testing-flows.md"),
    **dict.fromkeys(("describe", "inspect", "graph", "visualize", "dag"),
                    "`{cmd:show}` prints the steps, `{cmd:output-mermaid}` or `{cmd:output-dot}` "
                    "draws the graph"),
    "trigger": "`{cmd:argo-workflows trigger}` starts a run of the deployed flow; `{cmd:run}` "
               "starts one here",
}

_RETRIES = ("retries are the step decorator @retry(times=3), or `{cmd:run|--with retry:times=3}` "
            "for every step")
_TIMEOUT = ("a time limit is the step decorator @timeout(seconds=600), or "
            "`{cmd:run|--with timeout:seconds=600}` for every step")
_WORKERS = ("`{cmd:run} --max-workers 4` caps how many tasks run at once (default 16); the step "
            "decorator @concurrency(limit=4) caps one step's tasks")
_ENV = ("the shell's environment reaches every task (`NAME=value {cmd:run}`); the step "
        "decorator @environment(vars={'NAME': 'value'}) sets variables for one step")
_PARAMS = ("each Parameter of the flow is an option of its own: `{cmd:run} --NAME VALUE` "
           "(`{cmd:run} --help` lists them)")

# An option of `run` or `resume` that does not exist -> what does that here.
OPTIONS: dict[str, str] = {
    **dict.fromkeys(("--retries", "--retry", "--max-retries", "--attempts"), _RETRIES),
    **dict.fromkeys(("--timeout", "--timeout-seconds", "--time-limit"), _TIMEOUT),
    **dict.fromkeys(("--concurrency", "--concurrency-limit", "--max-concurrency", "--parallelism",
                     "--workers", "--num-workers", "--jobs", "-j", "--max-parallel",
                     "--max-active-tasks"), _WORKERS),
    **dict.fromkeys(("--env", "-e", "--env-var", "--envvar", "--env-vars"), _ENV),
    **dict.fromkeys(("--param", "--params", "--parameter", "--parameters", "-p"), _PARAMS),
    **dict.fromkeys(("--schedule", "--cron", "--interval"),
                    "a schedule is the flow decorator @schedule(cron='0 6 * * *'), used when the "
                    "flow is deployed (`{cmd:argo-workflows create}`); see docs/production.md"),
    **dict.fromkeys(("--notify", "--on-failure", "--on-completion", "--alert"), _NOTIFY),
    "--cache": ("caching is on for steps marked @cache (`{cmd:run|--with cache}` marks every "
                "step); `--no-cache` runs them all"),
    **dict.fromkeys(("--cache-max-age", "--max-age", "--cache-ttl", "--ttl", "--cache-expiration",
                     "--expire", "--expiry"),
                    "a cached result expires with @cache(max_age='7d') on its step, or for every "
                    "@cache step of one run with HEADWATER_CACHE_MAX_AGE=7d {cmd:run}"),
    **dict.fromkeys(("--secret", "--secrets"),
                    "secrets are the step decorator @secrets(sources=[...]); see "
                    "docs/migrating.md (@secrets)"),
    **dict.fromkeys(("--name", "--run-name", "--flow-run-name"),
                    "runs are numbered; `--tag TAG` labels one, `--run-id-file FILE` writes its "
                    "number"),
    **dict.fromkeys(("--from-step", "--start-at", "--step"),
                    "`{cmd:resume} STEP` runs again from STEP on, reusing what came before"),
    **dict.fromkeys(("--dry-run", "--validate"),
                    "`{cmd:check}` checks the flow's graph without running it, `{cmd:show}` "
                    "prints its steps"),
}

_PLACEHOLDER = re.compile(r"\{cmd:([^}|]+)(?:\|([^}]*))?\}")


def command_hint(word: str, typed: Callable[[str, str], str]) -> str | None:
    """What ``word``, typed as a command that does not exist, is called here; ``None`` if it is
    no word of another tool's. ``typed(command, before)`` renders a flow command."""
    return _render(COMMANDS.get(word.lower()), typed)


def option_hint(option: str, typed: Callable[[str, str], str]) -> str | None:
    """What ``option`` (``--retries``), refused by ``run`` or ``resume``, is here; or ``None``."""
    return _render(OPTIONS.get(option.split("=", 1)[0].lower()), typed)


def _render(template: str | None, typed: Callable[[str, str], str]) -> str | None:
    if template is None:
        return None
    return _PLACEHOLDER.sub(lambda m: typed(m[1].strip(), (m[2] or "").strip()), template)
