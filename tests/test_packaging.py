"""Every Python package in the source tree is installed (setup.cfg lists them by hand,
because twisted_plugins/ is mapped onto twisted.plugins)."""

from __future__ import annotations

import configparser
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_in_setup_cfg():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for top in ("appliance", "dpdk_glue", "ofproto", "ovsdb")
        for init in (REPO / top).rglob("__init__.py")
    }
    assert found <= listed, f"not installed: {sorted(found - listed)}"
