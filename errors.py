"""Errors shared by every part of zkfle.

Each error says whose fault it is, so a message can tell the reader what to fix:

- ``UserInputError``: the user's input is wrong (a zoo.cfg, a myid file, a trace, a command-line flag).
  The CLI prints ``zkfle: error: <message>`` on one line and exits 2.
- ``PeerError``: a remote peer sent something that breaks the protocol. The node logs it and carries on.
- ``InternalError``: zkfle itself is wrong (a broken invariant of our own code). Please report it.
"""

from __future__ import annotations


class ZkfleError(Exception):
    """Base of every error zkfle raises on purpose."""

    exit_code = 1


class UserInputError(ZkfleError):
    """The user's input is wrong; the message names the input and the problem."""

    exit_code = 2


class ConfigError(UserInputError):
    """A zoo.cfg (or myid) file is malformed. ``str()`` is one line: ``path:line: problem``."""

    def __init__(self, problem: str, *, path: str | None = None, line: int | None = None) -> None:
        self.problem = problem
        self.path = path
        self.line = line
        where = path or "zoo.cfg"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {problem}")


class TraceError(UserInputError):
    """A trace file is malformed or names an unknown action."""


class PeerError(ZkfleError):
    """A peer broke the protocol (a bad frame, a bad handshake). Never fatal to the node."""


class TargetUnavailable(ZkfleError):
    """A conformance target could not be started (e.g. ZooKeeper is not installed)."""

    exit_code = 3


class InternalError(ZkfleError):
    """A bug in zkfle itself."""
