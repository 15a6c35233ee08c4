"""The smallest useful flow: store a list of pets, read it back with the client."""

from headwater import FlowSpec, step


class PetsFlow(FlowSpec):
    """Keep a list of pets as an artifact: Flow('PetsFlow').latest_successful_run.data.pets."""

    @step
    def start(self):
        self.pets = ["cat", "dog"]
        self.next(self.add_pet)

    @step
    def add_pet(self):
        self.pets.append("hamster")
        self.next(self.end)

    @step
    def end(self):
        print("pets:", self.pets)


if __name__ == "__main__":
    PetsFlow()
