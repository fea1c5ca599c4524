"""The symbolic quorum verifiers against ZooKeeper 3.8.0's own QuorumMaj/QuorumHierarchical (the real jar).

A small Java program (written here, compiled into tmp_path) loads each zoo.cfg with the jar's
``QuorumMaj(Properties)`` / ``QuorumHierarchical(Properties)`` and prints ``containsQuorum`` for every subset
of the voters; every answer must equal ``SymbolicQuorum.holds`` (and so the Z3 formula).
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from zkfle.proofs import catalogue
from zkfle.proofs.quorum_system import SymbolicQuorum, prove_intersection
from zkfle.zoocfg import ZooCfg, parse_zoo_cfg

JARS = ("/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-api.jar", "/usr/share/java/slf4j-nop.jar")

PROBE = """
import java.io.FileReader;
import java.util.*;
import org.apache.zookeeper.server.quorum.flexible.*;

public class QuorumProbe {
    public static void main(String[] args) throws Exception {
        for (String path : args) {
            Properties props = new Properties();
            try (FileReader in = new FileReader(path)) { props.load(in); }
            boolean hier = props.stringPropertyNames().stream().anyMatch(k -> k.startsWith("group"));
            QuorumVerifier qv = hier ? new QuorumHierarchical(props) : new QuorumMaj(props);
            List<Long> voters = new ArrayList<>(qv.getVotingMembers().keySet());
            Collections.sort(voters);
            StringBuilder out = new StringBuilder(voters.toString()).append('|');
            for (int mask = 0; mask < (1 << voters.size()); mask++) {
                Set<Long> set = new HashSet<>();
                for (int i = 0; i < voters.size(); i++) if ((mask & (1 << i)) != 0) set.add(voters.get(i));
                out.append(qv.containsQuorum(set) ? '1' : '0');
            }
            System.out.println(out);
        }
    }
}
"""


def random_cfgs(count: int, seed: int = 3_8_0) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        voters = rng.randint(1, 7)
        lines = [f"server.{s}=127.0.0.1:{31000 + 2 * s}:{31001 + 2 * s}" for s in range(1, voters + 1)]
        if rng.random() < 0.3:
            lines.append(f"server.{voters + 1}=127.0.0.1:31900:31901:observer")
        if rng.random() < 0.7:
            groups = rng.randint(1, 3)
            assignment = {s: rng.randint(1, groups) for s in range(1, voters + 1)}
            for g in sorted(set(assignment.values())):
                lines.append(f"group.{g}=" + ":".join(str(s) for s, h in assignment.items() if h == g))
            for s in range(1, voters + 1):
                lines.append(f"weight.{s}={rng.choice([0, 1, 1, 2, 3, 1 << 62])}")
        texts.append("\n".join(lines) + "\n")
    return texts


@pytest.mark.zookeeper
def test_symbolic_verifiers_equal_zookeeper_380_on_every_subset(tmp_path: Path) -> None:
    if shutil.which("javac") is None or not all(Path(j).is_file() for j in JARS):
        pytest.skip("needs javac and the Debian zookeeper/slf4j jars")
    classpath = ":".join(JARS)
    (tmp_path / "QuorumProbe.java").write_text(PROBE)
    subprocess.run(["javac", "-cp", classpath, "QuorumProbe.java"], cwd=tmp_path, check=True, timeout=120)
    names = [n for n in catalogue.CONFIGS if len(catalogue.config(n).voters) <= 9]
    texts = [catalogue.zoo_cfg_text(n) for n in names] + random_cfgs(40)
    cfgs: list[ZooCfg] = []
    paths: list[str] = []
    for i, text in enumerate(texts):
        path = tmp_path / f"cfg{i}.cfg"
        path.write_text(text)
        paths.append(str(path))
        cfgs.append(parse_zoo_cfg(text, str(path)))
    run = subprocess.run(
        ["java", "-cp", f"{classpath}:{tmp_path}", "QuorumProbe", *paths],
        capture_output=True, text=True, check=True, timeout=120,
    )
    lines = run.stdout.splitlines()
    assert len(lines) == len(cfgs)
    overflowing = 0
    for cfg, line in zip(cfgs, lines, strict=True):
        voters_text, bits = line.split("|")
        voters = sorted(cfg.voters)
        assert voters_text == "[" + ", ".join(map(str, voters)) + "]"
        sq = SymbolicQuorum.of(cfg)
        for mask, bit in enumerate(bits):
            subset = frozenset(v for i, v in enumerate(voters) if mask >> i & 1)
            assert sq.holds(subset) == (bit == "1"), (cfg.path, sorted(subset))
        java_disjoint = any(
            bits[m1] == bits[m2] == "1" and not m1 & m2 for m1 in range(len(bits)) for m2 in range(len(bits))
        )
        assert prove_intersection(cfg).verdict == ("refuted" if java_disjoint else "proven")
        overflowing += java_disjoint
    assert overflowing >= 1  # the overflow config (at least) has disjoint quorums in ZooKeeper itself
