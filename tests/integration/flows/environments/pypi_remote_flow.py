"""A @pypi step of a run whose blobs are in S3, GCS or Azure (metadata perhaps in PostgreSQL).

The step's environment declares only tabulate; it must still write its artifacts to the cloud and read
the run's own records (``current.run``) from inside that environment, with the client libraries
headwater adds for the run's backends. Each task records where those libraries came from.
"""

import sys

# Run is imported for its side effect too: current.run exists once the client is imported.
from headwater import FlowSpec, Run, current, pypi, step


def origin(module: str) -> str | None:
    """The file ``module`` is imported from in this interpreter, or None if it is not there."""
    try:
        return __import__(module).__file__
    except ImportError:
        return None


class PypiRemoteFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.fmt, foreach="items")

    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def fmt(self):
        import tabulate

        self.table = tabulate.tabulate([[self.input, self.input * 2]], tablefmt="plain")
        self.prefix = sys.prefix
        self.drivers = {name: origin(name) for name in ("s3fs", "gcsfs", "adlfs", "psycopg")}
        # The run's records, read from inside the environment: its metadata store and the
        # start step's artifact in the datastore.
        run = current.run
        assert isinstance(run, Run)
        self.seen_items = run["start"].task.data.items
        self.next(self.join)

    @step
    def join(self, inputs):
        self.tables = [i.table for i in inputs]
        self.prefixes = sorted({i.prefix for i in inputs})
        self.drivers = [i.drivers for i in inputs]
        self.seen = [i.seen_items for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print("TABLES", self.tables)


if __name__ == "__main__":
    PypiRemoteFlow()
