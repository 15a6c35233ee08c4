from headwater import (
    Config,
    FlowSpec,
    Parameter,
    config_expr,
    current,
    environment,
    project,
    resources,
    schedule,
    step,
)

DEFAULTS = {"cpu": 1, "greeting": "from-the-default", "project": "dflt", "cron": "0 1 * * *",
            "alpha": 1, "token": "no-secret"}


@project(name=config_expr("settings.project"))
@schedule(cron=config_expr("settings.cron"))
class DeployConfigFlow(FlowSpec):
    """Configs feed a step, a step decorator, a parameter default, @project and @schedule."""

    settings = Config("settings", default_value=DEFAULTS)
    alpha = Parameter("alpha", default=config_expr("settings.alpha"))

    @resources(cpu=config_expr("settings.cpu"))
    @environment(vars={"GREETING": config_expr("settings.greeting")})
    @step
    def start(self):
        import os

        self.seen = {"greeting": self.settings.greeting, "token": self.settings.token,
                     "env": os.environ["GREETING"], "alpha": self.alpha,
                     "project": current.project_name}
        self.next(self.end)

    @step
    def end(self):
        self.result = dict(self.seen, end_greeting=self.settings["greeting"])


if __name__ == "__main__":
    DeployConfigFlow()
