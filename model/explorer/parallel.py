"""Multi-process exploration: the fingerprint space split into ``workers`` ranges, one process each.

Theory of operation (level-synchronous, like a distributed BFS):

1. Each worker owns the fingerprints ``fp`` with ``(fp * W) >> 64 == w`` and keeps a ``Partition``:
   visited set, parent pointers and frontier of its own states only.
2. Per level the coordinator (this process, which explores nothing itself) tells every worker to
   expand its frontier. A worker admits the successors it owns at once; the others go through the
   *claim protocol*: their fingerprints are announced to their owners, each owner claims the new ones
   (and says which are old, for POR's C3), and only the claimed states are shipped and admitted. A
   reduced source whose ample successor is old is fully expanded by its own worker, which may announce
   more successors (another round). Liveness runs need every edge, so there each successor travels
   whole. All traffic goes through the coordinator as marshalled bytes.
3. At the end of a level every worker reports its findings and counts. Since the set of states at each
   depth does not depend on who expands what, distinct-state counts, generated counts and verdicts are
   those of one process; and since findings carry their counterexample length, the coordinator still
   reports a shortest one.
4. Paths are rebuilt by asking each state's owner for its parent, then re-executing in the coordinator.
   For liveness the workers send their edge arrays and goal bytes to the coordinator at the end.

Workers are forked where the platform allows (the model need not pickle), spawned otherwise. Every
worker is stopped and joined before ``explore`` returns, even on error.
"""

from __future__ import annotations

import contextlib
import marshal
import multiprocessing
import time
from array import array
from bisect import bisect_right
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from zkfle.errors import InternalError
from zkfle.model.explorer.checks import Checks
from zkfle.model.explorer.fingerprint import fingerprint
from zkfle.model.explorer.liveness import StateGraph, find_lasso
from zkfle.model.explorer.memory import peak_rss, reset_peak, rss
from zkfle.model.explorer.partition import Finding, Partition
from zkfle.model.explorer.progress import Progress
from zkfle.model.explorer.result import HOLDS, VIOLATED, ExploreOptions, ExploreResult, Violation
from zkfle.model.explorer.trace import positions_to, replay, step_to, violation_of

JOIN_SECONDS = 5.0


# ---------------------------------------------------------------------------------------------- worker
def _worker_main(
    conn: Connection, model: Any, checks: Checks, me: int, parts: int, flags: dict[str, Any]
) -> None:
    reset_peak()
    baseline = rss()
    part = Partition(model, checks, me=me, parts=parts, **flags)
    handlers: dict[str, Callable[[Any], Any]] = {
        "seed": lambda inits: _seed(part, inits),
        "expand": lambda arg: _expand(part, *arg),
        "claim": lambda arg: _claim(part, *arg),
        "answered": lambda arg: _answered(part, *arg),
        "admit": lambda arg: _admit(part, *arg),
        "receive": lambda arg: _receive(part, *arg),
        "end_level": lambda _: _end_level(part),
        "step_of": part.step_of,
        "gid_of": lambda fp: part.index.get(fp),
        "liveness": lambda _: _liveness_data(part),
        "stats": lambda _: {"cpu_seconds": time.process_time(), "peak_memory_bytes": peak_rss() - baseline},
        "coverage": lambda _: part.coverage or {},
    }
    try:
        while True:
            command, arg = conn.recv()
            if command == "stop":
                return
            conn.send(("ok", handlers[command](arg)))
    except (EOFError, KeyboardInterrupt):
        return
    except BaseException as exc:  # report any failure to the coordinator, which raises it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


def _seed(part: Partition, inits: list[Any]) -> None:
    part.seed(inits)


def _batches(part: Partition) -> list[bytes]:
    return [marshal.dumps(batch) for batch in part.take_outbox()]


def _expand(part: Partition, depth: int, admit: bool, deadline: float | None) -> list[bytes]:
    """Expand the frontier; return per owner the successors (full records, or fingerprints to claim)."""
    part.expand_level(depth, admit=admit, deadline=deadline)
    if part.claims:
        return [_query_blob(fps) for fps in part.take_queries()]
    return _batches(part)


def _claim(part: Partition, admit: bool, blobs: list[bytes]) -> list[bytes]:
    return part.claim([_fingerprints(marshal.loads(blob)) for blob in blobs], admit)


def _query_blob(fps: Any) -> bytes:
    """Announced fingerprints on the wire: a list as is, an ``array('Q')`` (step memo) as its bytes."""
    return marshal.dumps(fps if isinstance(fps, list) else fps.tobytes())


def _fingerprints(query: Any) -> Any:
    """A query as announced: a list of fingerprints, or the bytes of an ``array('Q')`` (step memo)."""
    if isinstance(query, bytes):
        fps = array("Q")
        fps.frombytes(query)
        return fps
    return query


def _answered(
    part: Partition, depth: int, admit: bool, answers: list[bytes]
) -> tuple[list[bytes], list[bytes]]:
    """Send the claimed states; announce what full expansions (POR's C3) produced in the meantime."""
    out = part.answered(answers, depth, admit)
    more = part.take_queries()
    return [marshal.dumps(batch) for batch in out], [_query_blob(fps) if len(fps) else b"" for fps in more]


def _admit(part: Partition, depth: int, blobs: list[bytes], last: bool) -> Any:
    for sender, blob in enumerate(blobs):
        batch = marshal.loads(blob)
        if isinstance(batch, tuple):  # component ids (the step memo's handoff.py)
            part.admit_claimed_ids(batch, sender, depth)
        else:
            part.admit_claimed(batch, depth)
    return _end_level(part) if last else None


def _receive(part: Partition, depth: int, admit: bool, blobs: list[bytes]) -> dict[str, Any]:
    """Admit routed full records (liveness runs, never reduced) and close the level."""
    for blob in blobs:
        part.receive_batch(marshal.loads(blob), depth, admit)
    return _end_level(part)


def _end_level(part: Partition) -> dict[str, Any]:
    part.end_level()
    findings, part.findings = part.findings, []
    return {
        "findings": findings,
        "frontier": len(part.frontier),
        "distinct": part.distinct,
        "generated": part.generated,
        "truncated": part.truncated,
        "timed_out": part.timed_out,
    }


def _liveness_data(part: Partition) -> dict[str, Any]:
    return {
        "src": part.edges_src.tobytes(),
        "dst": part.edges_dst.tobytes(),
        "goals": [bytes(goal) for goal in part.goals],
        "level_starts": part.level_starts,
        "distinct": part.distinct,
    }


# ---------------------------------------------------------------------------------------------- coordinator
class _Pool:
    """The worker processes and their pipes; every call goes to all workers, or to one owner."""

    def __init__(self, model: Any, checks: Checks, parts: int, flags: dict[str, Any]) -> None:
        self.claims = not checks.liveness_on  # the claim protocol; liveness needs every edge routed
        methods = multiprocessing.get_all_start_methods()
        context: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for me in range(parts):
            ours, theirs = context.Pipe()
            proc = context.Process(
                target=_worker_main, args=(theirs, model, checks, me, parts, flags), daemon=True
            )
            proc.start()
            theirs.close()
            self.conns.append(ours)
            self.procs.append(proc)

    def ask(self, me: int, command: str, arg: Any = None) -> Any:
        self.conns[me].send((command, arg))
        return self._answer(me)

    def ask_all(self, command: str, args: list[Any]) -> list[Any]:
        for conn, arg in zip(self.conns, args, strict=True):
            conn.send((command, arg))
        return [self._answer(me) for me in range(len(self.conns))]

    def _answer(self, me: int) -> Any:
        try:
            status, value = self.conns[me].recv()
        except EOFError:
            raise InternalError(f"explorer worker {me} died (exit code {self.procs[me].exitcode})") from None
        if status != "ok":
            raise InternalError(f"explorer worker {me} failed: {value}")
        return value

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send(("stop", None))
        for proc in self.procs:
            proc.join(JOIN_SECONDS)
            if proc.is_alive():
                proc.terminate()
                proc.join(JOIN_SECONDS)
        for conn in self.conns:
            conn.close()


def explore_parallel(
    model: Any, opts: ExploreOptions, checks: Checks, *, por: bool, symmetry: bool
) -> ExploreResult:
    from zkfle.model.explorer.bfs import Tracker, diameter, initial_states

    parts = opts.workers
    started = time.monotonic()
    inits = initial_states(model)
    flags = {
        "por": por,
        "symmetry": symmetry,
        "max_states": opts.max_states,
        "stop_on_first": opts.stop_on_first,
        "coverage": opts.coverage,
        "collapse": opts.collapse,
        "step_memo": opts.step_memo,
    }
    pool = _Pool(model, checks, parts, flags)
    try:
        tracker = Tracker(checks)
        progress = Progress(opts.progress, f"{getattr(model, 'name', 'explore')} x{parts}")
        deadline = None if opts.max_seconds is None else started + opts.max_seconds
        pool.ask_all("seed", [inits] * parts)
        status = _close_level(pool, tracker, parts)
        depth, level_sizes = 0, [status["frontier"]]
        while status["frontier"] and not (tracker.best is not None and opts.stop_on_first):
            admit = opts.max_depth is None or depth < opts.max_depth
            reports = _run_level(pool, parts, depth, admit, deadline)
            status = _close_level(pool, tracker, parts, reports)
            level_sizes.append(status["frontier"])
            progress.tick(status["distinct"], status["generated"], status["frontier"], depth + 1)
            if status["timed_out"]:
                break
            depth += 1
        progress.tick(status["distinct"], status["generated"], status["frontier"], depth, force=True)
        stopped = tracker.best is not None and opts.stop_on_first
        complete = not (status["frontier"] or status["truncated"] or status["timed_out"] or stopped)
        starts = [0]
        for size in level_sizes:
            starts.append(starts[-1] + size)
        result = ExploreResult(
            distinct_states=status["distinct"],
            states_generated=status["generated"] + len(inits),
            diameter=diameter(starts),
            complete=complete,
            verdicts=tracker.verdicts,
        )

        def step_of(gid: int) -> tuple[int, int]:
            answer: tuple[int, int] = pool.ask(gid % parts, "step_of", gid)
            return answer

        if tracker.best is not None:
            result.violation = violation_of(model, tracker.best, inits, step_of, checks)
        if checks.liveness_on and complete and (result.violation is None or not opts.stop_on_first):
            _check_liveness(model, pool, parts, inits, step_of, result, checks, opts.scc)
        result.worker_stats = pool.ask_all("stats", [None] * parts)
        if opts.coverage:
            totals: dict[str, int] = {}
            for counts in pool.ask_all("coverage", [None] * parts):
                for name, count in counts.items():
                    totals[name] = totals.get(name, 0) + count
            result.coverage = dict(sorted(totals.items()))
        return result
    finally:
        pool.close()


def _run_level(
    pool: _Pool, parts: int, depth: int, admit: bool, deadline: float | None
) -> list[dict[str, Any]]:
    """Expand one level everywhere, route its successors and close it; the workers' level reports."""
    outgoing = pool.ask_all("expand", [(depth, admit, deadline)] * parts)
    if pool.claims:
        return _claim_rounds(pool, parts, depth, admit, outgoing)
    inboxes = [[outgoing[sender][owner] for sender in range(parts)] for owner in range(parts)]
    reports: list[dict[str, Any]] = pool.ask_all("receive", [(depth, admit, inbox) for inbox in inboxes])
    return reports


def _claim_rounds(
    pool: _Pool, parts: int, depth: int, admit: bool, queries: list[list[bytes]]
) -> list[dict[str, Any]]:
    """The claim protocol: fingerprints to their owners, claims back, claimed states to their owners;
    again while full expansions (POR's C3) announce more successors. The last admission closes the level."""
    while True:
        inboxes = [[queries[sender][owner] for sender in range(parts)] for owner in range(parts)]
        answers = pool.ask_all("claim", [(admit, inbox) for inbox in inboxes])
        replies = [[answers[owner][sender] for owner in range(parts)] for sender in range(parts)]
        results = pool.ask_all("answered", [(depth, admit, reply) for reply in replies])
        more = [r[1] for r in results]
        last = not any(blob for blobs in more for blob in blobs)
        states = [[results[sender][0][owner] for sender in range(parts)] for owner in range(parts)]
        reports = pool.ask_all("admit", [(depth, inbox, last) for inbox in states])
        if last:
            return reports
        queries = [[blob or marshal.dumps([]) for blob in blobs] for blobs in more]


def _close_level(
    pool: _Pool, tracker: Any, parts: int, reports: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    if reports is None:
        reports = pool.ask_all("end_level", [None] * parts)
    findings: list[Finding] = sorted(
        (f for report in reports for f in report["findings"]), key=lambda f: (f.length, f.gid, f.pos)
    )
    tracker.add(findings)
    return {
        "frontier": sum(r["frontier"] for r in reports),
        "distinct": sum(r["distinct"] for r in reports),
        "generated": sum(r["generated"] for r in reports),
        "truncated": any(r["truncated"] for r in reports),
        "timed_out": any(r["timed_out"] for r in reports),
    }


def _check_liveness(
    model: Any,
    pool: _Pool,
    parts: int,
    inits: list[Any],
    step_of: Callable[[int], tuple[int, int]],
    result: ExploreResult,
    checks: Checks,
    scc: str,
) -> None:
    data = pool.ask_all("liveness", [None] * parts)
    # dense ids: worker w's local index i becomes offsets[w] + i
    offsets = [0]
    for d in data:
        offsets.append(offsets[-1] + d["distinct"])
    src, dst = array("q"), array("q")
    for d in data:
        for raw, out in ((d["src"], src), (d["dst"], dst)):
            gids = array("q")
            gids.frombytes(raw)
            out.extend(offsets[g % parts] + g // parts for g in gids)
    owner_of_dense = [w for w, d in enumerate(data) for _ in range(d["distinct"])]

    def to_gid(dense: int) -> int:
        w = owner_of_dense[dense]
        return (dense - offsets[w]) * parts + w

    def depth_of(dense: int) -> int:
        w = owner_of_dense[dense]
        starts = data[w]["level_starts"]
        local = dense - offsets[w]
        return bisect_right(starts, local) - 1

    goal_bytes = [b"".join(d["goals"][rank] for d in data) for rank in range(len(checks.liveness))]
    goals = [
        (name, _goal_reader(goal_bytes[rank])) for rank, (name, _) in enumerate(checks.liveness)
    ]
    graph = StateGraph(offsets[-1], src, dst, scc)
    holds, lasso = find_lasso(graph, goals, depth_of)
    for name, ok in holds.items():
        result.verdicts[name] = HOLDS if ok else VIOLATED
    if lasso is None or result.violation is not None:
        return

    def gid_of(fp: int) -> int | None:
        owner = (fp * parts) >> 64
        answer: int | None = pool.ask(owner, "gid_of", fp)
        return answer

    path = replay(model, inits, positions_to(to_gid(lasso.entry), step_of))
    loop = len(path) - 1
    for dense in lasso.cycle[1:]:
        # liveness across workers never runs the step memo, so the workers fingerprinted with marshal
        path.append(step_to(model, path[-1][1], to_gid(dense), gid_of, fingerprint))
    result.violation = Violation(kind="liveness", property=lasso.property, path=path, loop=loop)


def _goal_reader(goal: bytes) -> Callable[[int], bool]:
    def holds(dense: int) -> bool:
        return goal[dense] == 1

    return holds
