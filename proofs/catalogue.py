"""The default configs of ``zkfle prove all``, written as zoo.cfg text and read by the shared parser.

Rules: every config here goes through ``zkfle.zoocfg.parse_zoo_cfg`` exactly as a user's file would, so
``prove all`` checks the same code path as ``prove quorums --config``. Each config has a short name used in
reports and SMT-LIB file names; ``zoo_cfg_text(name)`` gives the text so it can be written out and re-run.

Positive configs (quorum intersection must be proven): majority 3, 5 and 7; 5 voters + 2 observers;
hierarchical 9 (3 groups of 3) and 25 (5 groups of 5, mixed weights, a zero-weight server); hierarchical 9
with a zero-weight group. Pairs for reconfiguration: 3 -> 4 voters (proven), 3 -> 5 voters (two servers
added at once: refuted). ``overflow`` is a real ZooKeeper 3.8.0 config whose weights overflow a Java
``long`` (``QuorumHierarchical`` then accepts {1} and {2}, checked against the 3.8.0 jar): refuted.
"""

from __future__ import annotations

from zkfle.zoocfg import ZooCfg, parse_zoo_cfg

_BASE_PORT = 21000


def _servers(voters: int, observers: int = 0) -> list[str]:
    lines = []
    for sid in range(1, voters + observers + 1):
        kind = ":observer" if sid > voters else ""
        lines.append(f"server.{sid}=127.0.0.1:{_BASE_PORT + 2 * sid}:{_BASE_PORT + 2 * sid + 1}{kind}")
    return lines


def _groups(groups: int, size: int) -> list[str]:
    return [
        f"group.{g + 1}=" + ":".join(str(g * size + i) for i in range(1, size + 1)) for g in range(groups)
    ]


def _text(lines: list[str]) -> str:
    return "\n".join(["tickTime=2000", "initLimit=10", "syncLimit=5", *lines]) + "\n"


def _hierarchical_25() -> list[str]:
    weights = [f"weight.{sid}={1 + sid % 3}" for sid in range(1, 26)]
    weights[6] = "weight.7=0"  # a zero-weight server: counts in no quorum, never elected
    return [*_servers(25), *_groups(5, 5), *weights]


def _zero_weight_group() -> list[str]:
    return [*_servers(9), *_groups(3, 3), "weight.7=0", "weight.8=0", "weight.9=0"]


def _overflow() -> list[str]:
    big = 1 << 62  # two of these overflow the group weight to Long.MIN_VALUE
    return [*_servers(3), "group.1=1:2:3", f"weight.1={big}", f"weight.2={big}", "weight.3=0"]


CONFIGS: dict[str, list[str]] = {
    "majority-3": _servers(3),
    "majority-4": _servers(4),
    "majority-5": _servers(5),
    "majority-7": _servers(7),
    "majority-5+2-observers": _servers(5, 2),
    "hierarchical-9": [*_servers(9), *_groups(3, 3)],
    "hierarchical-25": _hierarchical_25(),
    "hierarchical-9-zero-weight-group": _zero_weight_group(),
    "overflow": _overflow(),
}

# (config, expected verdict of quorum intersection)
INTERSECTION: tuple[tuple[str, str], ...] = (
    ("majority-3", "proven"),
    ("majority-5", "proven"),
    ("majority-7", "proven"),
    ("majority-5+2-observers", "proven"),
    ("hierarchical-9", "proven"),
    ("hierarchical-25", "proven"),
    ("hierarchical-9-zero-weight-group", "proven"),
    ("overflow", "refuted"),
)
# (old, new, expected verdict of old/new quorum intersection)
RECONFIG: tuple[tuple[str, str, str], ...] = (
    ("majority-3", "majority-4", "proven"),
    ("majority-3", "majority-5", "refuted"),
)
# (config, mutant): the half-inclusive off-by-one must be refuted on an even ensemble
MUTATED: tuple[tuple[str, str], ...] = (("majority-4", "half-inclusive"),)


def zoo_cfg_text(name: str) -> str:
    return _text(CONFIGS[name])


def config(name: str) -> ZooCfg:
    return parse_zoo_cfg(zoo_cfg_text(name), name)
