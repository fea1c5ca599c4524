"""Toy models with known answers, for the explorer's tests and benchmarks.

Every toy follows ``spec.py``: flat tuples as states, tuples as actions, pure successors. Known answers:

- ``Counters(k, n)``: k counters mod n, one ``Inc`` per counter: n**k states, k successors each, no
  deadlock. ``jump_at=j`` is a bug: counter 0 jumps by 2 from value j, violating the action property
  ``StepsByOne`` after exactly j + 1 steps (shortest).
- ``Workers(k, n)``: k independent workers each ``Step`` n times (invisible) then ``Finish`` (visible).
  (n + 2)**k states; the invariant ``NotAllDone`` fails after exactly k * (n + 1) steps. Offers
  ``actor``/``visible`` for partial-order reduction, which must keep that violation.
- ``TokenRing(n, k)``: k tokens on a ring of n places, a token moves to a free next place: C(n, k)
  states; rotating the ring is a symmetry (``canonical``), leaving the number of binary necklaces.
- ``Spinner(n)``: an invisible spin cycle next to a visible, violating ``Fire`` (length 1): the test of
  the cycle proviso.
- ``Mutex(fixed)``: two processes, check-then-set lock. Buggy: ``MutualExclusion`` fails after exactly
  4 steps; fixed (atomic test-and-set): holds, 3 states.
- ``Livelock(n, mode)``: a spinning counter; ``"ok"`` can finish (liveness ``Finishes`` holds),
  ``"livelock"`` never can (lasso, cycle of n steps from the initial state), ``"stuck"`` finishes into
  a terminal state where the goal is false (stuttering lasso).
- ``Philosophers(n)``: n dining philosophers taking left then right fork: a deadlock after exactly n
  steps (everyone holds a left fork).
- ``PartedLivelock(n, mode)``: ``Livelock`` with its state in two components (the counter, the phase)
  and the step memo's declarations (``enabled``, ``fire``, and ``WholeParts``'s ``guard_reads`` and
  ``footprint``, which read every part whole): the same answers, through collapse compression,
  component fingerprints and the step memo.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from itertools import combinations
from math import comb
from typing import Any

from zkfle.model.explorer.spec import Action, Liveness

State = tuple[Any, ...]


class Counters:
    """k counters modulo n."""

    def __init__(self, k: int = 2, n: int = 10, jump_at: int | None = None) -> None:
        self.k, self.n, self.jump_at = k, n, jump_at
        self.name = f"counters-{k}x{n}"

    def expected_states(self) -> int:
        return self.n**self.k

    def init_states(self) -> list[State]:
        return [(0,) * self.k]

    def successors(self, state: State) -> Iterator[tuple[Action, State]]:
        n = self.n
        for i, value in enumerate(state):
            bump = 2 if i == 0 and value == self.jump_at else 1
            yield ("Inc", i), (*state[:i], (value + bump) % n, *state[i + 1 :])

    def _steps_by_one(self, state: State, action: Action, nxt: State) -> bool:
        i = action[1]
        return bool(nxt[i] == (state[i] + 1) % self.n)

    @property
    def invariants(self) -> Mapping[str, Callable[[State], bool]]:
        return {"InRange": lambda s: all(0 <= v < self.n for v in s)}

    @property
    def action_properties(self) -> Mapping[str, Callable[[State, Action, State], bool]]:
        return {"StepsByOne": self._steps_by_one}

    @property
    def liveness(self) -> Mapping[str, Liveness]:
        return {}

    def state_to_itf(self, state: State) -> dict[str, Any]:
        return {"counters": list(state)}

    def action_to_itf(self, action: Action) -> dict[str, Any]:
        return {"counter": action[1]}


class Workers:
    """k workers, each: Step n times, then Finish. State: per worker its step count, or n + 1 when done.

    ``invariant="FirstNotLast"`` checks instead that the last worker never finishes while the first has
    not started (violated after n + 1 steps, only by an interleaving a careless reduction would skip);
    ``liar=True`` declares every action invisible, breaking the contract of ``visible`` (a mutant).
    """

    def __init__(self, k: int = 3, n: int = 2, invariant: str = "NotAllDone", liar: bool = False) -> None:
        if invariant not in ("NotAllDone", "FirstNotLast"):
            raise ValueError(f"unknown Workers invariant {invariant!r}")
        self.k, self.n, self.invariant, self.liar = k, n, invariant, liar
        self.name = f"workers-{k}x{n}"

    def expected_states(self) -> int:
        return (self.n + 2) ** self.k

    def counterexample_length(self) -> int:
        return self.k * (self.n + 1)

    def init_states(self) -> list[State]:
        return [(0,) * self.k]

    def successors(self, state: State) -> Iterator[tuple[Action, State]]:
        for i, value in enumerate(state):
            if value < self.n:
                yield ("Step", i), (*state[:i], value + 1, *state[i + 1 :])
            elif value == self.n:
                yield ("Finish", i), (*state[:i], value + 1, *state[i + 1 :])

    def is_terminal(self, state: State) -> bool:
        return all(v == self.n + 1 for v in state)

    def actor(self, action: Action) -> int:
        return int(action[1])

    def visible(self, action: Action) -> bool:
        if self.liar:
            return False
        if self.invariant == "FirstNotLast":  # reads worker 0's count and the last worker's doneness
            return action[1] == 0 or (action[0] == "Finish" and action[1] == self.k - 1)
        return action[0] == "Finish"

    @property
    def invariants(self) -> Mapping[str, Callable[[State], bool]]:
        if self.invariant == "FirstNotLast":
            return {"FirstNotLast": lambda s: not (s[-1] == self.n + 1 and s[0] == 0)}
        return {"NotAllDone": lambda s: not all(v == self.n + 1 for v in s)}

    @property
    def action_properties(self) -> Mapping[str, Callable[[State, Action, State], bool]]:
        return {}

    @property
    def liveness(self) -> Mapping[str, Liveness]:
        return {}


class TokenRing:
    """k indistinguishable tokens on a ring of n places; Move(i): place i's token to a free place i+1."""

    def __init__(self, n: int = 6, k: int = 2, leaky: bool = False) -> None:
        self.n, self.k, self.leaky = n, k, leaky
        self.name = f"token-ring-{n}-{k}" + ("-leaky" if leaky else "")

    def expected_states(self) -> int:
        return comb(self.n, self.k)

    def expected_orbits(self) -> int:
        """Binary necklaces of length n with k ones (rotation orbits), counted by brute force."""
        seen = set()
        for places in combinations(range(self.n), self.k):
            ring = tuple(1 if i in places else 0 for i in range(self.n))
            seen.add(self.canonical(ring))
        return len(seen)

    def init_states(self) -> list[State]:
        return [tuple(1 if i < self.k else 0 for i in range(self.n))]

    def successors(self, state: State) -> Iterator[tuple[Action, State]]:
        n = self.n
        for i in range(n):
            j = (i + 1) % n
            if state[i] and (self.leaky or not state[j]):  # leaky: a token may move onto another
                nxt = list(state)
                nxt[i], nxt[j] = 0, 1
                yield ("Move", i), tuple(nxt)

    def canonical(self, state: State) -> State:
        return min(state[i:] + state[:i] for i in range(self.n))

    @property
    def invariants(self) -> Mapping[str, Callable[[State], bool]]:
        return {"TokensKept": lambda s: sum(s) == self.k}

    @property
    def action_properties(self) -> Mapping[str, Callable[[State, Action, State], bool]]:
        return {}

    @property
    def liveness(self) -> Mapping[str, Liveness]:
        return {}


class Spinner:
    """Actor 0 spins mod n (invisible); actor 1 may Fire once (visible), which breaks ``NeverFired``.

    Without the cycle proviso (C3) a reduction would spin forever and never look at Fire.
    """

    def __init__(self, n: int = 3) -> None:
        self.n = n
        self.name = f"spinner-{n}"

    def init_states(self) -> list[State]:
        return [(0, False)]

    def successors(self, state: State) -> Iterator[tuple[Action, State]]:
        x, fired = state
        yield ("Spin", 0), ((x + 1) % self.n, fired)
        if not fired:
            yield ("Fire", 1), (x, True)

    def actor(self, action: Action) -> int:
        return int(action[1])

    def visible(self, action: Action) -> bool:
        return action[0] == "Fire"

    @property
    def invariants(self) -> Mapping[str, Callable[[State], bool]]:
        return {"NeverFired": lambda s: not s[1]}

    @property
    def action_properties(self) -> Mapping[str, Callable[[State, Action, State], bool]]:
        return {}

    @property
    def liveness(self) -> Mapping[str, Liveness]:
        return {}


class Mutex:
    """Two processes; pc 0 idle, 1 checked the other's flag, 2 critical. State: (pc0, pc1, flag0, flag1)."""

    def __init__(self, fixed: bool = False) -> None:
        self.fixed = fixed
        self.name = "mutex-fixed" if fixed else "mutex-buggy"

    def init_states(self) -> list[State]:
        return [(0, 0, False, False)]

    def successors(self, state: State) -> Iterator[tuple[Action, State]]:
        for i in (0, 1):
            pc, flag, other_flag = state[i], state[2 + i], state[3 - i]
            if pc == 0 and not other_flag:
                if self.fixed:  # atomic test-and-set
                    yield ("Acquire", i), self._set(state, i, 2, True)
                else:
                    yield ("Check", i), self._set(state, i, 1, flag)
            elif pc == 1:
                yield ("Enter", i), self._set(state, i, 2, True)
            elif pc == 2:
                yield ("Exit", i), self._set(state, i, 0, False)

    @staticmethod
    def _set(state: State, i: int, pc: int, flag: bool) -> State:
        pcs = list(state[:2])
        flags = list(state[2:])
        pcs[i], flags[i] = pc, flag
        return (*pcs, *flags)

    @property
    def invariants(self) -> Mapping[str, Callable[[State], bool]]:
        return {"MutualExclusion": lambda s: not (s[0] == 2 and s[1] == 2)}

    @property
    def action_properties(self) -> Mapping[str, Callable[[State, Action, State], bool]]:
        return {"EnterOnlyWhenChecked": lambda s, a, t: a[0] != "Enter" or s[a[1]] == 1}

    @property
    def liveness(self) -> Mapping[str, Liveness]:
        return {}

    def state_to_itf(self, state: State) -> dict[str, Any]:
        return {"pc": {0: state[0], 1: state[1]}, "flag": {0: state[2], 1: state[3]}}


class Livelock:
    """A counter spinning mod n; mode "ok" can Finish, "livelock" cannot, "stuck" finishes badly."""

    def __init__(self, n: int = 3, mode: str = "livelock") -> None:
        if mode not in ("ok", "livelock", "stuck"):
            raise ValueError(f"unknown Livelock mode {mode!r}")
        self.n, self.mode = n, mode
        self.name = f"livelock-{mode}-{n}"

    def init_states(self) -> list[State]:
        return [(0, "spinning")]

    def successors(self, state: State) -> Iterator[tuple[Action, State]]:
        x, phase = state
        if phase != "spinning":
            return
        yield ("Spin",), ((x + 1) % self.n, phase)
        if x == self.n - 1 and self.mode != "livelock":
            yield ("Finish",), (x, "done" if self.mode == "ok" else "failed")

    def is_terminal(self, state: State) -> bool:
        return bool(state[1] != "spinning")

    @property
    def invariants(self) -> Mapping[str, Callable[[State], bool]]:
        return {}

    @property
    def action_properties(self) -> Mapping[str, Callable[[State, Action, State], bool]]:
        return {}

    @property
    def liveness(self) -> Mapping[str, Liveness]:
        return {"Finishes": Liveness(goal=lambda s: s[1] == "done", description="the counter finishes")}


class Philosophers:
    """n philosophers; pc 0 thinking, 1 holds the left fork, 2 eats (holds both). Deadlock: all hold one."""

    def __init__(self, n: int = 3) -> None:
        self.n = n
        self.name = f"philosophers-{n}"

    def init_states(self) -> list[State]:
        return [(0,) * self.n]

    def successors(self, state: State) -> Iterator[tuple[Action, State]]:
        n = self.n
        for i, pc in enumerate(state):
            left_free = state[(i - 1) % n] != 2  # fork i is the right fork of philosopher i - 1
            right_free = state[(i + 1) % n] == 0  # fork i + 1 is the left fork of philosopher i + 1
            if pc == 0 and left_free:
                yield ("TakeLeft", i), (*state[:i], 1, *state[i + 1 :])
            elif pc == 1 and right_free:
                yield ("TakeRight", i), (*state[:i], 2, *state[i + 1 :])
            elif pc == 2:
                yield ("Release", i), (*state[:i], 0, *state[i + 1 :])

    @property
    def invariants(self) -> Mapping[str, Callable[[State], bool]]:
        return {}

    @property
    def action_properties(self) -> Mapping[str, Callable[[State, Action, State], bool]]:
        return {}

    @property
    def liveness(self) -> Mapping[str, Liveness]:
        return {}


class WholeParts:
    """A toy whose state is a tuple of ``width`` parts, declared for the step memo in the simplest way: its
    successors are its ``enabled`` steps ``fire``d, and every guard and step reads every part whole."""

    width = 2

    def successors(self, state: State) -> Iterator[tuple[Action, State]]:
        for step in self.enabled(state):
            target = self.fire(state, step)
            if target is not None:
                yield step[0], target

    def enabled(self, state: State) -> list[tuple[Action]]:
        raise NotImplementedError

    def fire(self, state: State, step: tuple[Action]) -> State | None:
        raise NotImplementedError

    def guard_reads(self) -> tuple[None, ...]:
        return (None,) * self.width

    def footprint(self, action: Action) -> tuple[tuple[int, None], ...]:
        return tuple((k, None) for k in range(self.width))

    def components(self, state: State) -> tuple[Any, ...]:
        return tuple(state)

    def assemble(self, parts: list[Any]) -> State:
        return tuple(parts)


class PartedLivelock(WholeParts, Livelock):
    """``Livelock`` as two components, ``((x,), (phase,))``, with the step memo's declarations."""

    def __init__(self, n: int = 3, mode: str = "livelock") -> None:
        super().__init__(n, mode)
        self.name = f"parted-livelock-{mode}-{n}"

    def init_states(self) -> list[State]:
        return [((0,), ("spinning",))]

    def enabled(self, state: State) -> list[tuple[Action]]:
        (x,), (phase,) = state
        if phase != "spinning":
            return []
        steps: list[tuple[Action]] = [(("Spin",),)]
        if x == self.n - 1 and self.mode != "livelock":
            steps.append((("Finish",),))
        return steps

    def fire(self, state: State, step: tuple[Action]) -> State:
        (x,), (phase,) = state
        if step[0] == ("Spin",):
            return ((x + 1) % self.n,), (phase,)
        return (x,), ("done" if self.mode == "ok" else "failed",)

    def is_terminal(self, state: State) -> bool:
        return bool(state[1][0] != "spinning")

    @property
    def liveness(self) -> Mapping[str, Liveness]:
        return {"Finishes": Liveness(goal=lambda s: s[1][0] == "done", description="the counter finishes")}
