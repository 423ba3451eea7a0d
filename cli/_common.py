"""What every command shares: one-line errors, exit codes, progress display, JSON output."""

from __future__ import annotations

import functools
import io
import json
import os
import signal
import sys
from collections.abc import Callable

import typer

from kgnlu.progress import StageProgress  # noqa: F401 - every command's progress display

# Plain click help: ``-h`` as well as ``--help`` on every command, and flags shown as flags.
TYPER_SETTINGS = {"no_args_is_help": True, "rich_markup_mode": None,
                  "context_settings": {"help_option_names": ["-h", "--help"]}}


def fail(message: str, code: int = 2) -> None:
    _flush_stdout()  # what was printed goes before the error, and a closed pipe is found here, not at exit
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


# Exit codes as a shell reports a process killed by the signal: SIGINT (Ctrl-C), SIGTERM, SIGPIPE.
EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_BROKEN_PIPE = 130, 143, 141


class _StdoutClosed(Exception):
    pass


class _ClosedStdout(io.TextIOBase):
    """``sys.stdout`` of a process started with stdout closed: Python makes it None, and print()
    and typer.echo then drop every line without a word. Writing here fails instead."""

    encoding = "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        raise _StdoutClosed


def _guard_closed_stdout() -> None:
    if sys.stdout is not None:
        return
    try:
        os.fstat(1)
    except OSError:  # keep fd 1 from being handed to a file we open (a child would write into it)
        _devnull_onto(1)
    sys.stdout = _ClosedStdout()


def _flush_stdout() -> bool:
    """Flush stdout now; False when its reader is gone (``| head``)."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
        return True
    except BrokenPipeError:
        _silence_stdout()
        return False


def _silence_stdout() -> None:
    # Python flushes stdout again at exit, and a closed pipe there is a two-line complaint and
    # exit 120: what is left of the output goes to /dev/null instead.
    try:
        _devnull_onto(sys.stdout.fileno())
    except (OSError, ValueError):  # not a file (a test's capture): nothing is flushed at exit
        pass


def _devnull_onto(target: int) -> None:
    fd = os.open(os.devnull, os.O_WRONLY)
    if fd != target:  # with ``target`` closed, the lowest free descriptor may be ``target`` itself
        os.dup2(fd, target)
        os.close(fd)


def handle_errors(fn: Callable) -> Callable:
    """Turn expected failures into one line on stderr and an exit code; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from kgnlu.api import debug_enabled
        from kgnlu.types import KgnluError

        terminated = False

        def on_term(signum, frame):  # a killed write must unwind through its transaction
            nonlocal terminated
            terminated = True
            raise KeyboardInterrupt

        def interrupted(code: int) -> int:
            return EXIT_TERMINATED if terminated and code == EXIT_INTERRUPTED else code

        previous = signal.signal(signal.SIGTERM, on_term)
        try:
            _guard_closed_stdout()
            result = fn(*args, **kwargs)
            if not _flush_stdout():
                raise SystemExit(EXIT_BROKEN_PIPE)
            return result
        except KgnluError as e:
            if debug_enabled():
                raise
            fail(str(e), interrupted(e.exit_code))
        except KeyboardInterrupt:
            fail("interrupted; nothing was changed", interrupted(EXIT_INTERRUPTED))
        except BrokenPipeError:  # the reader of stdout stopped reading: nothing to say, nowhere to say it
            _silence_stdout()
            raise SystemExit(EXIT_BROKEN_PIPE) from None
        except _StdoutClosed:
            fail("cannot write the output: stdout is closed", 1)
        except MemoryError:
            fail("out of memory", 1)
        except Exception as e:  # a bug: still one line, with a way to get the traceback
            if debug_enabled():
                raise
            fail(f"internal error: {type(e).__name__}: {' '.join(str(e).split())[:300]} (KGNLU_DEBUG=1 shows the traceback)", 1)
        finally:
            signal.signal(signal.SIGTERM, previous)

    return wrapper


def in_batches(items: list, run: Callable[[list], list], progress, what: str, size: int = 256) -> list:
    """``run`` over ``items`` a batch at a time, results in input order, with ``what done/total``
    progress between batches (a batch run of thousands of inputs shows it is moving)."""
    out: list = []
    for i in range(0, len(items), size):
        out += run(items[i:i + size])
        if len(items) > size:
            progress(f"{what} {min(i + size, len(items))}/{len(items)}")
    return out


RAY_OPTION = typer.Option(None, "--ray", metavar="[ADDRESS]",
                          help="Batch: run on a Ray cluster, one Engine per worker (needs kgnlu[scale]): --ray alone "
                          "joins the local one, or starts it; --ray ADDRESS joins that one (host:6379, ray://host:10001).")
KG_OPTION = typer.Option(None, "--kg", help="KG directory (default: $KGNLU_HOME, else the user data dir).")
TEXTS_INPUT_OPTION = typer.Option(None, "--input", "-i",
                                  help="Batch input: .txt (one text per line) or .jsonl ({\"text\": ...} per line).")


def check_ray(ray: str | None, input_file) -> None:
    """``--ray``'s conditions, checked before anything loads: a batch, and Ray installed."""
    if ray is None:
        return
    if input_file is None:
        fail("--ray runs a batch: give --input FILE")
    from kgnlu.scale import require_ray

    require_ray()


def command_line() -> str:
    """This process's command line as a shell would repeat it (``kgnlu`` and its quoted arguments):
    what a trained model's record keeps of the run that made it."""
    import shlex

    return " ".join(["kgnlu", *map(shlex.quote, sys.argv[1:])])


def optional_values(argv: list[str], options: tuple[str, ...] = ("--ray",)) -> list[str]:
    """``argv`` with each of ``options`` given without a value (last, or before another option)
    given an empty one (``--ray=``): typer's parser has no options whose value is optional."""
    return [f"{a}=" if a in options and (i + 1 == len(argv) or argv[i + 1].startswith("-")) else a
            for i, a in enumerate(argv)]


def texts_from(text: str | None, input_file) -> list[str]:
    """The texts of a command that takes TEXT or ``--input FILE`` (exactly one of them)."""
    if (text is None) == (input_file is None):
        fail("give either TEXT or --input FILE")
    if text is not None:
        return [_check_text(text)]  # before the KG loads (or is built)
    return [r["text"] for r in read_batch(input_file, ("text",), validate=lambda r: _check_text(r["text"]))]


def _check_text(text) -> str:
    """A text as ``Engine.link`` and the service check it, in their words."""
    from kgnlu.api import Engine

    return Engine.check_text(text, empty_ok=False)


def print_json(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


def read_batch(path, keys: tuple[str, ...], skip_bad: bool = False, bad: list | None = None,
               validate: Callable[[dict], None] | None = None) -> list[dict]:
    """Records from a .jsonl file (objects with ``keys``) or, for one key, a .txt file (one per line).

    A bad line (not UTF-8, not JSON, missing keys, or rejected by ``validate``, which raises
    ``ValueError`` or an ``InputError``, in the words of the API and the service: "text is empty",
    "premise must be a string, not int"; without ``validate``, a key that is not a string or is
    blank) is an error naming the line, unless ``skip_bad``:
    then it is skipped and ``(line number, reason)`` appended to ``bad``.
    """
    from pathlib import Path

    from kgnlu.types import InputError

    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except OSError as e:
        raise InputError(f"{path}: {e.strerror}") from None
    is_jsonl = path.suffix.lower() in (".jsonl", ".json", ".ndjson") or len(keys) > 1
    out = []
    for n, line in enumerate(raw.splitlines(), start=1):
        try:
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"not UTF-8 (byte {e.start})") from None
            if not text.strip():
                continue
            if not is_jsonl:
                out.append({keys[0]: text})
                continue
            try:
                rec = json.loads(text)
            except json.JSONDecodeError as e:
                raise ValueError(f"malformed JSON ({e.msg}, column {e.colno})") from None
            if not isinstance(rec, dict):
                raise ValueError("expected a JSON object")
            missing = [k for k in keys if k not in rec]
            if missing:
                raise ValueError(f"missing {', '.join(repr(k) for k in missing)}")
            if validate is None:
                empty = [k for k in keys if not isinstance(rec[k], str) or not rec[k].strip()]
                if empty:
                    raise ValueError(f"not text or empty: {', '.join(repr(k) for k in empty)}")
            if validate is not None:
                try:
                    validate(rec)
                except InputError as e:
                    raise ValueError(str(e)) from None
            out.append(rec)
        except ValueError as e:
            if not skip_bad:
                raise InputError(f"{path}:{n}: {e}") from None
            if bad is not None:
                bad.append((n, str(e)))
    if not out and not bad:
        raise InputError(f"{path}: no records")
    return out
