"""One flow, many ways for a task to die: ``work`` does what the ``FAULT`` environment variable says.

The fault comes from the environment, not a parameter, so that ``resume`` (which reuses the
origin's parameters) runs ``work`` again without it. Modes:

* (unset)           succeed
* ``exit0``         ``os._exit(0)``: the process ends without a result
* ``sysexit``       ``sys.exit(3)``
* ``segv``          the process sends itself SIGSEGV
* ``segv_ctypes``   a real NULL-pointer read through ctypes
* ``wait``          start ``sleep 1000`` (same process group), print ``READY``, sleep
* ``stubborn``      the same, but the task and its child ignore SIGTERM
* ``lock``          store a ``threading.Lock`` (cannot be pickled)
* ``generator``     store a generator (cannot be pickled)

``RESULT`` (environment) is the value ``work`` stores as ``self.result``; a test can choose it to
know the blob's content hash in advance. ``BLOCK_BLOBS`` (environment), the path of the
datastore's ``blobs`` folder: ``end`` moves that folder aside (to ``<path>.aside``) and leaves a
file in its place after printing, so the scheduler cannot store its output.
"""

import os
import signal
import subprocess
import sys
import threading
import time

from headwater import FlowSpec, step


class FaultFlow(FlowSpec):
    @step
    def start(self):
        # Over the inline limit (1 KiB): a blob of its own, which the tests damage or block.
        self.payload = "payload made by start|" + "." * 2048
        self.next(self.work)

    @step
    def work(self):
        fault = os.environ.get("FAULT", "")
        if fault == "exit0":
            os._exit(0)
        elif fault == "sysexit":
            sys.exit(3)
        elif fault == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        elif fault == "segv_ctypes":
            import ctypes

            ctypes.string_at(0)
        elif fault in ("wait", "stubborn"):
            if fault == "stubborn":
                signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited by the child too
            child = subprocess.Popen(["sleep", "1000"])
            print(f"READY pid={os.getpid()} pgid={os.getpgid(0)} child={child.pid}", flush=True)
            time.sleep(1000)
        elif fault == "lock":
            self.guard = threading.Lock()
        elif fault == "generator":
            self.numbers = (n * n for n in range(10))
        self.result = os.environ.get("RESULT", "result made by work")
        self.next(self.end)

    @step
    def end(self):
        print("end read:", self.payload.partition("|")[0], "/", self.result.partition("|")[0])
        blobs = os.environ.get("BLOCK_BLOBS")
        if blobs:
            os.rename(blobs, blobs + ".aside")
            with open(blobs, "w") as handle:
                handle.write("a file where the blobs folder belongs")


if __name__ == "__main__":
    FaultFlow()
