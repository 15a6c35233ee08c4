"""The smallest useful flow: store a list of pets, read it back with the client."""

from headwater import FlowSpec, Parameter, step


class PetsFlow(FlowSpec):
    """Keep a list of pets as an artifact: Flow('PetsFlow').latest_successful_run.data.pets."""

    owner = Parameter("owner", help="Whose pets", default="sam")

    @step
    def start(self):
        self.pets = ["cat", "dog"]
        self.next(self.add_pet)

    @step
    def add_pet(self):
        self.pets.append("hamster")
        print(self.owner, "has", len(self.pets), "pets")
        self.next(self.end)

    @step
    def end(self):
        print("pets:", self.pets)


if __name__ == "__main__":
    PetsFlow()
