"""``@pytorch_parallel``: Metaflow's ``@parallel`` for PyTorch. The step's ``num_parallel`` tasks
run together, and each finds the variables ``torch.distributed`` reads (``MASTER_ADDR``,
``MASTER_PORT``, ``NODE_RANK``, ``WORLD_SIZE``). The test's step does what torch's TCP store does
with them, without torch: node 0 listens on the master's address and port, the others connect
and say their rank, so it passes only if the tasks really run at the same time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from .helpers import headwater_argv

FLOW = textwrap.dedent("""
    import os
    import socket
    import time
    from metaflow import FlowSpec, Parameter, current, pytorch_parallel, step


    def rendezvous():
        addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
        rank, world = int(os.environ["NODE_RANK"]), int(os.environ["WORLD_SIZE"])
        deadline = time.monotonic() + 120
        if rank == 0:
            with socket.create_server((addr, port)) as server:
                server.settimeout(120)
                seen = [0]
                while len(seen) < world:
                    conn, _ = server.accept()
                    with conn:
                        seen.append(int(conn.recv(16).decode()))
                return sorted(seen)
        while True:
            try:
                with socket.create_connection((addr, port), timeout=5) as conn:
                    conn.sendall(str(rank).encode())
                    return [rank]
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


    class TorchGangFlow(FlowSpec):
        num_parallel = Parameter("num_parallel", default=3)

        @step
        def start(self):
            self.next(self.train, num_parallel=self.num_parallel)

        @pytorch_parallel(master_port=int(os.environ["GANG_PORT"]))
        @step
        def train(self):
            self.env = {k: os.environ[k] for k in ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK",
                                                  "WORLD_SIZE", "NUM_NODES")}
            self.node_index = current.parallel.node_index
            self.met = rendezvous()
            self.next(self.join)

        @step
        def join(self, inputs):
            self.envs = [inp.env for inp in inputs]
            self.met = [inp.met for inp in inputs]
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        TorchGangFlow()
""")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_pytorch_parallel_runs_a_gang_that_finds_its_master(tmp_path, client):
    shim = tmp_path / "shim"
    subprocess.run(headwater_argv("shim", str(shim)), check=True, capture_output=True)
    (tmp_path / "torch_gang.py").write_text(FLOW)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(shim), "GANG_PORT": str(port)}
    done = subprocess.run([sys.executable, "torch_gang.py", "run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr

    client()
    from headwater import Flow

    join = Flow("TorchGangFlow").latest_run["join"].task.data
    assert join.envs == [{"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                          "NODE_RANK": str(rank), "WORLD_SIZE": "3", "NUM_NODES": "3"}
                         for rank in range(3)]
    assert join.met == [[0, 1, 2], [1], [2]]  # node 0 heard from both others


def test_pytorch_parallel_is_refused_by_a_deployer_like_parallel(tmp_path):
    """A gang needs its tasks scheduled together, which a deployed DAG cannot promise."""
    shim = tmp_path / "shim"
    subprocess.run(headwater_argv("shim", str(shim)), check=True, capture_output=True)
    (tmp_path / "torch_gang.py").write_text(FLOW)
    env = {**os.environ, "PYTHONPATH": str(shim), "GANG_PORT": "51001",
           "HEADWATER_DATASTORE_ROOT": str(tmp_path / "ds")}
    done = subprocess.run([sys.executable, "torch_gang.py", "argo-workflows", "create",
                           "--only-json"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert "step 'train' of flow TorchGangFlow is @pytorch_parallel" in done.stdout + done.stderr
