"""How the CLI reports a user's mistake: one clear paragraph on stderr, no traceback, exit 1
(2 for a bad parameter value, a usage error).

click is imported only when there is something to report: a plain ``run`` starts without it
(:mod:`headwater.cli.plain_run`)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from headwater.exceptions import HeadwaterException
from headwater.tracebacks import error_heading


def report(err: HeadwaterException) -> None:
    """``Not found: (headwater.exceptions.NotFoundError)`` then the message: what went wrong,
    and the class a program would catch."""
    import click

    from headwater.redaction import redact
    from headwater.tracebacks import printable_lines

    echo_styled(error_heading(err), fg="red", bold=True)
    # a password quoted anywhere stays hidden; a terminal escape quoted anywhere stays text
    click.echo(f"    {printable_lines(redact(str(err)))}", err=True)


def echo_styled(text: str, **style: Any) -> None:
    """``text`` on stderr in ``style`` (click leaves a pipe plain), or plain when ``NO_COLOR``
    is set (https://no-color.org): click colours a terminal whatever that variable says."""
    import click

    if os.environ.get("NO_COLOR"):
        click.echo(text, err=True)
    else:
        click.secho(text, err=True, **style)


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn HeadwaterException into a message and its exit code (1; 2 for a bad parameter
    value, as click exits on a usage error); let everything else through."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except HeadwaterException as err:
            report(err)
            raise SystemExit(err.exit_code) from None
        except KeyboardInterrupt:
            import click

            click.echo("Interrupted.", err=True)
            raise SystemExit(130) from None
        except OSError as err:
            from headwater.runtime.descriptors import is_out_of_descriptors, out_of_descriptors

            if not is_out_of_descriptors(err):
                raise
            report(out_of_descriptors())
            raise SystemExit(1) from None

    return wrapper
