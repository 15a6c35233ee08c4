"""Argo Workflows: a WorkflowTemplate, a CronWorkflow for @schedule, an Argo Events Sensor for
@trigger / @trigger_on_finish (:mod:`.compile`), applied through the Kubernetes API
(:mod:`.cluster`, needs ``pip install 'headwater[argo]'``)."""
