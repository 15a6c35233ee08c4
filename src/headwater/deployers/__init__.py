"""Deployers: compile a flow for a production orchestrator (Argo Workflows, Apache Airflow).

Nothing here is imported by a local run. :mod:`.plan` turns a flow into what every deployer
needs (its steps grouped by foreach, each step's policy, the parameters, the schedule and
triggers, the code package stored in the datastore); :mod:`.argo` and :mod:`.airflow` write
the orchestrator's own documents from that plan. Every deployed task runs
``python -m headwater.cli.deployed_task_cmd`` (see :mod:`headwater.runtime.deployed`).
"""
