"""Produce batches in a forked child process while this process consumes them.

A company-wide recompute is two kinds of work that need not wait for each other: the pure
evaluation of the ladder (and turning its results into row tuples), and writing those rows.
SQLite has one writer, and Python one interpreter lock per process, so on one process they
take turns. Forked, a child evaluates month chunk after chunk from the inputs this process
already loaded (inherited, nothing is sent to it), while this process deletes the old rows
and writes each batch as it arrives, on the other core. Where agents do not depend on each
other, two children each evaluate half of them.

The child runs pure code only: it touches no database connection, socket or file it
inherited, writes nothing but the batches to its queue, and leaves by ``os._exit`` (through
multiprocessing), so no finaliser of an inherited connection ever runs in it. Everything
the batches are written with stays in this process and its transaction: a failure in the
child is raised here, and the caller's transaction rolls back as for any other error.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any

# Batches the children may run ahead of the writer: 16 of 5,000 rows (about 65 MB of
# marshalled rows at 10,000 agents) let a child hand over most of a chunk of six months and
# go on with the next while the writer catches up.
QUEUE_BATCHES = 16
POLL_SECONDS = 0.5
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class ChildFailed(RuntimeError):
    """The child process ended without finishing its batches (killed, out of memory)."""


def can_fork() -> bool:
    """Whether this process may fork a child for pure work: the platform forks, and this
    process runs one thread (a fork copies only the calling thread; a lock another thread
    held would stay held in the child forever)."""
    return hasattr(os, "fork") and sys.platform != "darwin" and threading.active_count() == 1


@contextlib.contextmanager
def batches_from_children(
    producers: Sequence[Callable[[dict[str, float]], Iterator[Any]]], phases: dict[str, float]
) -> Iterator[Iterator[Any]]:
    """Start each ``produce(child_phases)`` in a forked child of its own, at once; the
    context gives an iterator of the items they yield (each child's in its order, the
    children's interleaved as they come). When a child is done, the figures it put into
    ``child_phases`` are added to ``phases`` (with several children, a phase's seconds are
    their sum). An exception in a child is raised by the iterator (the same type where it
    can be sent, else :class:`ChildFailed` with its traceback); so is a child's death.
    Leaving the context early stops the children."""
    ctx = multiprocessing.get_context("fork")
    channel: Any = ctx.Queue(maxsize=QUEUE_BATCHES)
    children = [ctx.Process(target=_child_main, args=(produce, channel, os.getpid()), name=f"starlevel-evaluate-{i}",
                            daemon=True)
                for i, produce in enumerate(producers)]
    for child in children:
        child.start()
    state = {"finished": False}
    try:
        yield _receive(children, channel, phases, state)
    finally:
        if not state["finished"]:  # the consumer stopped early or failed
            for child in children:
                if child.is_alive():
                    child.terminate()
        for child in children:
            child.join()
        channel.close()
        channel.join_thread()


def _receive(children: list[Any], channel: Any, phases: dict[str, float], state: dict[str, bool]) -> Iterator[Any]:
    running = len(children)
    while running:
        try:
            kind, payload = channel.get(timeout=POLL_SECONDS)
        except queue.Empty:
            dead = [c.exitcode for c in children if c.exitcode is not None and c.exitcode != 0]
            if dead or all(c.exitcode is not None for c in children):  # gone without a last word
                codes = ", ".join(str(c.exitcode) for c in children)
                raise ChildFailed(f"an evaluation process ended early (exit codes {codes})") from None
            continue
        if kind == "batch":
            yield payload
        elif kind == "done":
            for name, seconds in payload.items():
                phases[name] = phases.get(name, 0.0) + seconds
            running -= 1
        else:
            raise _exception(payload)
    state["finished"] = True


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel ends this child if the process that forked it dies (killed, say):
    an orphan would otherwise wait forever to hand over its next batch."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


def _child_main(produce: Callable[[dict[str, float]], Iterator[Any]], channel: Any, parent: int) -> None:
    _die_with_parent(parent)
    child_phases: dict[str, float] = {}
    try:
        for item in produce(child_phases):
            channel.put(("batch", item))
        channel.put(("done", child_phases))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
        channel.put(("error", _sendable(exc)))
    finally:
        channel.close()
        channel.join_thread()  # everything is in the pipe before the process ends


def _sendable(exc: BaseException) -> bytes:
    """The exception pickled (the queue's own pickling would drop one it cannot send)."""
    text = "".join(traceback.format_exception(exc))
    try:
        data = pickle.dumps(exc)
        pickle.loads(data)
        return pickle.dumps((data, text))
    except Exception:  # noqa: BLE001 - not picklable: send the text
        return pickle.dumps((None, text))


def _exception(payload: bytes) -> BaseException:
    data, text = pickle.loads(payload)
    if data is not None:
        exc: BaseException = pickle.loads(data)
        exc.add_note(f"raised in the evaluation process:\n{text}")
        return exc
    return ChildFailed(f"the evaluation process failed:\n{text}")
