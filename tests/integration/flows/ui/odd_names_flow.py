"""Names a Python identifier allows but ASCII does not (a flow, a step, an artifact), and
artifacts of awkward kinds: raw bytes, a value too large to preview, one whose class only the
flow's own process can import, one whose module (ui_shapes, beside this file) the UI cannot
import."""

from ui_shapes import Shape

from headwater import FlowSpec, step


class Local:
    """Defined in the flow file: the UI, another process, cannot unpickle it."""

    def __init__(self) -> None:
        self.x = 1


class FlußFlow(FlowSpec):
    @step
    def start(self):
        self.größe = "drei"
        self.数据 = [1, 2, 3]
        self.raw = bytes(range(256))
        self.big = b"x" * (5 * 1024 * 1024)
        self.local = Local()
        self.shape = Shape(5)
        self.next(self.schritt_ä)

    @step
    def schritt_ä(self):
        print("im schritt")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FlußFlow()
