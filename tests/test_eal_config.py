"""Open_vSwitch other_config -> EAL arguments (:func:`eal_config`), and EAL failures.

The unit tests need no DPDK. The last tests run the datapath in a subprocess
(tests/helpers/dp_runner.py) with EAL options DPDK rejects: ``init_dpdk`` must raise
DpifError carrying DPDK's errno and message, and the process must exit normally
instead of aborting (DPDK's rte_panic/exit paths).
"""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

import pytest
from helpers.dp_runner import DpRunner

from appliance.dpif import DpifError
from appliance.dpif.netdev import EalConfig, eal_config


def argv_of(other_config, cpus=(0, 1)) -> list[str]:
    return eal_config(other_config, list(cpus)).argv[1:]


def test_defaults_main_lcore_and_one_pmd():
    cfg = eal_config({}, [0, 1])
    assert isinstance(cfg, EalConfig)
    assert cfg.argv == ["vswitchd", "-l", "0,1", "--main-lcore", "0"]
    assert cfg.pmd_cores == [1]
    # The lowest usable CPU is the main lcore, the next one the only default PMD.
    cfg = eal_config({}, [2, 5, 7])
    assert cfg.argv[1:] == ["-l", "2,5", "--main-lcore", "2"]
    assert cfg.pmd_cores == [5]


def test_default_cpus_are_the_process_affinity():
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        with pytest.raises(DpifError):
            eal_config({})
        return
    cfg = eal_config({})
    assert cfg.argv[1:] == ["-l", f"{cpus[0]},{cpus[1]}", "--main-lcore", str(cpus[0])]


@pytest.mark.parametrize("other_config, lcores, main, pmds", [
    ({"dpdk-lcore-mask": "0x2", "pmd-cpu-mask": "0x1"}, "1,0", "1", [0]),
    ({"dpdk-lcore-mask": "0x1", "pmd-cpu-mask": "0xc"}, "0,2,3", "0", [2, 3]),
    ({"pmd-cpu-mask": "0xc"}, "0,2,3", "0", [2, 3]),
    ({"pmd-cpu-mask": "e"}, "0,1,2,3", "0", [1, 2, 3]),        # no 0x: still hex
    ({"pmd-cpu-mask": "0XA"}, "0,1,3", "0", [1, 3]),
    ({"dpdk-lcore-mask": "0x6"}, "1,0", "1", [0]),              # main = lowest bit
    ({"dpdk-lcore-mask": "0x8", "pmd-cpu-mask": "0xf"}, "3,0,1,2", "3", [0, 1, 2]),
])
def test_masks(other_config, lcores, main, pmds):
    cfg = eal_config(other_config, [0, 1, 2, 3])
    assert cfg.argv[1:5] == ["-l", lcores, "--main-lcore", main]
    assert cfg.pmd_cores == pmds


def test_memory_and_hugepage_options():
    argv = argv_of({"dpdk-socket-mem": "1024,0", "dpdk-socket-limit": "2048,0",
                    "dpdk-hugepage-dir": "/mnt/huge"})
    assert argv[4:] == ["--socket-mem", "1024,0", "--socket-limit", "2048,0",
                        "--huge-dir", "/mnt/huge"]
    # Empty values are as good as absent.
    assert argv_of({"dpdk-socket-mem": "", "dpdk-hugepage-dir": ""})[4:] == []


def test_dpdk_extra_is_split_like_a_shell():
    extra = ("--vdev 'net_pcap0,rx_pcap=/tmp/a b.pcap' -n 4 "
             "--vdev \"net_null0,size=64\"  --log-level=pmd.net.pcap:debug")
    argv = argv_of({"dpdk-extra": extra, "dpdk-socket-mem": "512"})
    assert argv[4:] == ["--socket-mem", "512",
                        "--vdev", "net_pcap0,rx_pcap=/tmp/a b.pcap", "-n", "4",
                        "--vdev", "net_null0,size=64", "--log-level=pmd.net.pcap:debug"]
    with pytest.raises(ValueError):       # shlex: an unclosed quote
        argv_of({"dpdk-extra": "--vdev 'net_null0"})


@pytest.mark.parametrize("key, mask", [
    ("pmd-cpu-mask", "0xZZ"), ("pmd-cpu-mask", "cpu1"), ("pmd-cpu-mask", ""),
    ("dpdk-lcore-mask", "0xg"), ("dpdk-lcore-mask", "0x0"), ("dpdk-lcore-mask", ""),
    ("pmd-cpu-mask", "0x0"),
])
def test_bad_masks_are_einval(key, mask):
    with pytest.raises(DpifError) as e:
        eal_config({key: mask}, [0, 1])
    assert e.value.errno == errno.EINVAL and e.value.name == "EINVAL"
    assert key in str(e.value) or "PMD" in str(e.value)


@pytest.mark.parametrize("mask", ["-0x2", "0x_3", " 0x3", "0x3 "])
def test_malformed_masks_are_einval(mask):
    with pytest.raises(DpifError) as e:
        eal_config({"dpdk-lcore-mask": mask}, [0, 1, 2])
    assert e.value.errno == errno.EINVAL


def test_masks_beyond_the_usable_cpus_are_einval():
    with pytest.raises(DpifError) as e:
        eal_config({"pmd-cpu-mask": "0x100"}, [0, 1])
    assert e.value.errno == errno.EINVAL and "8" in str(e.value)


@pytest.mark.parametrize("other_config, cpus", [
    ({"dpdk-lcore-mask": "0x1", "pmd-cpu-mask": "0x1"}, [0, 1]),
    ({"dpdk-lcore-mask": "0x4", "pmd-cpu-mask": "0x4"}, [0, 1, 2]),
    ({}, [3]),                      # one CPU: nothing left for a PMD
    ({"pmd-cpu-mask": "0x1"}, [0, 1]),   # the default main lcore is CPU 0
])
def test_pmd_mask_on_the_main_lcore_only_is_an_error(other_config, cpus):
    with pytest.raises(DpifError) as e:
        eal_config(other_config, cpus)
    assert e.value.errno == errno.EINVAL
    assert "main lcore" in str(e.value)


# -- EAL failures, in a subprocess ----------------------------------------------------

def _failed_start(tmp_path: Path, eal_args: list[str]) -> tuple[dict, int, str]:
    prefix = f"vsweal{os.getpid()}"
    runner = DpRunner(tmp_path, [*eal_args, f"--file-prefix={prefix}"])
    status = runner.wait_exit(60)
    assert not Path(f"/var/run/dpdk/{prefix}").exists()
    return runner.ready, status, runner.log()


@pytest.mark.parametrize("bad, name, dpdk_says", [
    (["--no-such-option"], "EINVAL", "Invalid 'command line' arguments"),
    # -m and --socket-mem are mutually exclusive (and --socket-mem needs hugepages).
    (["--socket-mem", "64"], "EINVAL", "Invalid 'command line' arguments"),
    (["--vdev", "net_nosuchdriver0"], "ENODEV", "net_nosuchdriver0"),
])
def test_bad_eal_options_raise_instead_of_aborting(tmp_path, bad, name, dpdk_says):
    ready, status, log = _failed_start(
        tmp_path, ["--no-huge", "-m", "128", "--no-pci", "--huge-dir", "/nonexistent",
                   *bad])
    # The runner caught DpifError from init_dpdk and exited 3 by itself: no abort
    # (-SIGABRT), no exit() from inside DPDK.
    assert status == 3, f"exit status {status}\n{log[-3000:]}"
    assert status != -signal.SIGABRT
    assert ready["ok"] is False and ready["errno"] == name
    assert ready["error"].startswith("DPDK EAL initialisation failed: ")
    assert os.strerror(getattr(errno, name)) in ready["error"]
    # DPDK's own reason reaches the caller, not just the log.
    assert dpdk_says in ready["error"] and dpdk_says in log


def test_too_little_memory_after_eal_init_is_an_error_too(tmp_path):
    """EAL starts, but the datapath's mbuf pool does not fit in -m 8."""
    ready, status, log = _failed_start(tmp_path, ["--no-huge", "-m", "8", "--no-pci"])
    assert status == 3, log[-3000:]
    assert ready["ok"] is False and ready["errno"] == "ENOMEM"
    assert "cannot create the mbuf pool" in ready["error"]


def test_good_options_start(tmp_path):
    """The same runner with valid options starts, with its PMD on the second CPU."""
    runner = DpRunner(tmp_path, ["--no-huge", "-m", "128", "--no-pci",
                                 f"--file-prefix=vsweal{os.getpid()}ok"])
    try:
        assert runner.ready["ok"] is True, runner.log()
        cpus = sorted(os.sched_getaffinity(0))
        assert runner.ready["pmd_cores"] == [cpus[1]]
        pmds = runner.call("pmd_stats")["pmds"]
        assert [p["core"] for p in pmds] == [cpus[1]]
    finally:
        assert runner.stop() == 0, runner.log()[-3000:]
