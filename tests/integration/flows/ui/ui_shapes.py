"""A module beside the flow: the flow imports it, the UI (run elsewhere) cannot."""


class Shape:
    def __init__(self, sides: int) -> None:
        self.sides = sides
