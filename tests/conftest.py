"""Shared test set-up.

Under CI the browser test of rendered traces must run too, so a missing ``chromium`` is an error there.
Tests marked ``zookeeper`` need Debian's ZooKeeper 3.8.0 and Java. Locally, without them, those tests are
skipped with the install command; under CI (``CI`` set) a missing ZooKeeper is an error, because `.ci/run`
installs it and a silent skip would hide a broken set-up.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ZK_JAR = Path("/usr/share/java/zookeeper.jar")


def zookeeper_available() -> bool:
    return ZK_JAR.is_file() and shutil.which("java") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("CI") and shutil.which("chromium") is None:
        raise pytest.UsageError("CI is set but chromium is missing: run `make chromium`")
    if zookeeper_available():
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(
            "CI is set but Debian's ZooKeeper 3.8.0 or Java is missing: "
            "run `make zookeeper` (apt-get install zookeeper)"
        )
    skip = pytest.mark.skip(reason="needs Debian's ZooKeeper 3.8.0 and Java: sudo apt-get install zookeeper")
    for item in items:
        if "zookeeper" in item.keywords:
            item.add_marker(skip)
