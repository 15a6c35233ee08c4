from headwater import FlowSpec, current, step, trigger_on_finish


@trigger_on_finish(flow="DeployLinearFlow")
class DeployAfterLinearFlow(FlowSpec):
    @step
    def start(self):
        self.event_name = current.trigger.event.name
        self.next(self.end)

    @step
    def end(self):
        # every task of the run sees the trigger, not only start
        self.upstream = current.trigger.run.pathspec
        self.upstream_result = current.trigger.run["end"].task["result"].data


if __name__ == "__main__":
    DeployAfterLinearFlow()
