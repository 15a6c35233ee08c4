from headwater import Config, FlowSpec, Parameter, current, resources, retry, step


class CfgFlow(FlowSpec):
    config = Config("config", default_value={"cpu": 2, "retries": 1, "model": {"lr": 0.1}})
    lr = Parameter("lr", default=config.model.lr)

    @resources(cpu=config.cpu)
    @retry(times=config["retries"], minutes_between_retries=0)
    @step
    def start(self):
        print("lr", self.lr, "cpu", self.config.cpu, "retry", current.retry_count)
        if current.retry_count < 1:
            raise ValueError("first attempt fails")
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    CfgFlow()
