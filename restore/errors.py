"""One error base for everything a user can fix, and the one guard every entry point runs under.

Any :class:`RestoreError` (a missing file, a corrupt image, a bad card, a wrong option)
reaches the shell as a single ``error: ...`` line and exit code 2. Anything else is a
bug or the machine failing (out of memory): one ``error: unexpected failure`` line and
exit code 1. ``RESTORE_TRACEBACK=1`` shows the traceback instead. SIGTERM is turned into
an exception, as Ctrl-C is, so that temporary files are removed on the way out. A Python
warning is one ``warning: ...`` line, written above any progress bar rather than into it.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import sys
import warnings
from collections.abc import Callable

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


class RestoreError(ValueError):
    """A problem the user can fix; the message is written for them."""


class OptionsError(RestoreError):
    """A training or test option file is missing, malformed or inconsistent."""


class DatasetError(RestoreError):
    """A dataset folder, file or option is missing or unusable."""


class ConfigError(RestoreError):
    """A network configuration names an unknown arch or keyword, or asks for an absurd size."""


class WeightsError(RestoreError):
    """A weight file or its card is missing, malformed or does not fit the network."""


class ChecksumError(WeightsError):
    """The weight file's sha256 differs from the one its card promises."""


class ModelNotFoundError(WeightsError):
    """No model of that name in the registry, and no such file either."""


class MissingDependency(RestoreError):
    """An optional package is not installed; the message says how to install it."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; raised in the main thread so that cleanup code runs. It is a
    KeyboardInterrupt, so that servers and libraries shut down on it as they do on Ctrl-C."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def show_warning_line(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      file: object = None, line: str | None = None) -> None:
    """``warnings.showwarning`` for the shell: the message alone, without the source line that
    Python prints after it, through ``tqdm.write`` so that a progress bar is redrawn below it."""
    from tqdm import tqdm

    tqdm.write(f"warning: {message}", file=sys.stderr)


def run_cli(main: Callable[[], int], on_stop: str = "no partial output was left") -> int:
    """Run an entry point's ``main``: user errors exit 2 with one line, bugs exit 1 with one line,
    Ctrl-C 130 and SIGTERM 143 with ``on_stop`` saying what was left behind; warnings are one
    ``warning:`` line each."""
    try:
        signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread (tests call main() from worker threads)
        pass
    shown, warnings.showwarning = warnings.showwarning, show_warning_line
    try:
        return main()
    except RestoreError as error:
        if os.environ.get("RESTORE_TRACEBACK"):
            raise
        print(f"error: {error}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    except Terminated:
        print(f"terminated: {on_stop}", file=sys.stderr, flush=True)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"interrupted: {on_stop}", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except Exception as error:  # out of memory, a CUDA failure, a bug: say so plainly
        if os.environ.get("RESTORE_TRACEBACK"):
            raise
        first = str(error).splitlines()[0] if str(error) else ""
        print(f"error: unexpected failure ({type(error).__name__}: {first}); "
              "rerun with RESTORE_TRACEBACK=1 for details", file=sys.stderr, flush=True)
        return EXIT_FAILURE
    finally:
        warnings.showwarning = shown


def require_module(module: str, what: str, extra: str) -> None:
    """Exit 2 with one line, before anything imports it, when the optional ``module`` that
    ``what`` needs is not installed (a plain ``pip install .`` has no training packages)."""
    if importlib.util.find_spec(module) is None:
        print(f"error: {what} needs {module}: pip install 'skipat-denoise[{extra}]', "
              "or pip install -r requirements.txt in a checkout", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)
