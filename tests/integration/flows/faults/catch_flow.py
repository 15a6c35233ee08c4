"""@catch: steps that fail for good, yet the flow goes on to ``end``.

* ``boom`` raises on every attempt (@retry gives it two); error in ``self.error``, ``partial`` kept.
* ``crash`` kills its own process; @catch still stands in.
* ``quiet`` raises with print_exception=False and no var: nothing is printed or stored.
"""

import os

from headwater import FlowSpec, catch, current, retry, step


class CatchFlow(FlowSpec):
    @step
    def start(self):
        self.before = "kept"
        self.next(self.boom)

    @catch(var="error", print_exception=True)
    @retry(times=1, minutes_between_retries=0)
    @step
    def boom(self):
        print(f"boom attempt {current.retry_count}")
        self.partial = f"set before raising on attempt {current.retry_count}"
        if self.before:
            raise KeyError(f"no such key on attempt {current.retry_count}")
        self.next(self.crash)

    @catch(var="crash_error")
    @step
    def crash(self):
        print("crash is about to exit", flush=True)
        os._exit(7)
        self.next(self.quiet)

    @catch(print_exception=False)
    @step
    def quiet(self):
        if self.before:
            raise RuntimeError("nobody hears this")
        self.next(self.end)

    @step
    def end(self):
        print("error type:", self.error.type)
        print("error text:", str(self.error))
        print("crash text:", str(self.crash_error))
        print("before:", self.before)


if __name__ == "__main__":
    CatchFlow()
