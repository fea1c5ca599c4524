"""The ``cmd:'COMMAND'`` target: a third-party FLE behind the JSON-lines adapter protocol.

The protocol is specified in docs/conformance.md.

Rules:

- The harness starts ``COMMAND`` once (``shlex`` split, no shell) and writes one JSON object per line on its
  stdin; the adapter answers each with one JSON object on stdout, in order. stderr is passed through.
- Requests (``op``): ``reset`` {voters}; ``start`` {sid, zxid, epoch}; ``receive`` {sid, src, n};
  ``finalize_timeout``, ``poll_timeout``, ``lost``, ``crash`` {sid}; ``established`` {sid, epoch, zxid};
  ``view`` {sid}. A notification ``n`` is ``[state, leader, zxid, round, peerEpoch]`` (state 0..3 as on the
  wire). Answers: ``{"sends": [[dst, state, leader, zxid, round, peerEpoch], ...]}`` for the event ops
  (the sends in the order the implementation makes them, ``dst == sid`` being the loop-back), ``{}`` for
  ``reset``/``crash``, ``{"state": s, "round": r, "proposal": [leader, zxid, peerEpoch]}`` for ``view``, or
  ``{"error": "..."}`` (which is that trace's divergence).
- An adapter that cannot be started is ``TargetUnavailable`` (exit 3); one that dies or answers garbage
  mid-trace makes that trace diverge, with the adapter's words.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from typing import Any

from zkfle.conformance.core import Body, View
from zkfle.errors import TargetUnavailable, UserInputError


class AdapterError(Exception):
    """The adapter failed or answered something that is not the protocol."""


class AdapterMachines:
    """The ``Machines`` of ``zkfle.conformance.core``, answered by an adapter process."""

    def __init__(self, command: str) -> None:
        argv = shlex.split(command)
        if not argv:
            raise UserInputError("--target cmd:'COMMAND' needs a command")
        self.command = command
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                         bufsize=1)
        except OSError as exc:
            raise TargetUnavailable(f"cannot start the adapter {command!r}: {exc}") from None

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise AdapterError(f"the adapter {self.command!r} is gone (exit {self.proc.poll()})") from None
        line = self.proc.stdout.readline()
        if not line:
            raise AdapterError(f"the adapter {self.command!r} closed its stdout (exit {self.proc.poll()})")
        try:
            answer = json.loads(line)
        except json.JSONDecodeError:
            text = line.strip()[:80]
            raise AdapterError(f"the adapter answered {request['op']!r} with non-JSON: {text}") from None
        if not isinstance(answer, dict):
            raise AdapterError(f"the adapter answered {request['op']!r} with a non-object")
        if "error" in answer:
            raise AdapterError(f"the adapter reports: {answer['error']}")
        return answer

    def _sends(self, request: dict[str, Any]) -> list[tuple[int, Body]]:
        answer = self._call(request)
        out: list[tuple[int, Body]] = []
        for item in answer.get("sends", []):
            if not (isinstance(item, list) and len(item) == 6 and all(isinstance(x, int) for x in item)):
                raise AdapterError(f"the adapter answered {request['op']!r} with a malformed send {item!r}")
            out.append((item[0], (item[1], item[2], item[3], item[4], item[5])))
        return out

    def reset(self, voters: tuple[int, ...]) -> None:
        self._call({"op": "reset", "voters": list(voters)})

    def start(self, sid: int, zxid: int, epoch: int) -> list[tuple[int, Body]]:
        return self._sends({"op": "start", "sid": sid, "zxid": zxid, "epoch": epoch})

    def receive(self, sid: int, src: int, body: Body) -> list[tuple[int, Body]]:
        return self._sends({"op": "receive", "sid": sid, "src": src, "n": list(body)})

    def finalize_timeout(self, sid: int) -> list[tuple[int, Body]]:
        return self._sends({"op": "finalize_timeout", "sid": sid})

    def poll_timeout(self, sid: int) -> list[tuple[int, Body]]:
        return self._sends({"op": "poll_timeout", "sid": sid})

    def lost(self, sid: int) -> list[tuple[int, Body]]:
        return self._sends({"op": "lost", "sid": sid})

    def established(self, sid: int, epoch: int, zxid: int) -> list[tuple[int, Body]]:
        return self._sends({"op": "established", "sid": sid, "epoch": epoch, "zxid": zxid})

    def crash(self, sid: int) -> None:
        self._call({"op": "crash", "sid": sid})

    def view(self, sid: int) -> View:
        a = self._call({"op": "view", "sid": sid})
        try:
            leader, zxid, pe = a["proposal"]
            return View(int(a["state"]), int(a["round"]), (int(leader), int(zxid), int(pe)))
        except (KeyError, TypeError, ValueError):
            raise AdapterError(f"the adapter answered 'view' with {a!r}") from None

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
