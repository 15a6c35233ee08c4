"""A flow whose name is longer than the runs list's column of flows."""

from headwater import FlowSpec, step


class NightlyFeatureEngineeringAndModelRetrainingPipelineFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NightlyFeatureEngineeringAndModelRetrainingPipelineFlow()
