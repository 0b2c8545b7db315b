"""Driver discovery from the DPDK drivers' ELF files (appliance.dpif.drivers).

Runs against the DPDK installed on the machine (Debian's dpdk packages); nothing is
loaded or executed, the PMD_INFO_STRINGs are read with pyelftools.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.common.exceptions import ELFError

from appliance.dpif import drivers
from appliance.dpif.drivers import DriverInfo, discover, vdev_driver_for, vdev_drivers

# What the datapath relies on: dpdk ports in tests (pcap, null, ring), internal (tap),
# system (af_packet) and vhost-user (vhost; virtio_user is the guest side in tests).
NEEDED = ["net_null", "net_pcap", "net_ring", "net_tap", "net_af_packet", "net_vhost",
          "net_virtio_user"]


@pytest.fixture(scope="module")
def found() -> dict[str, DriverInfo]:
    return discover()


def test_plugin_dir_is_dpdks():
    d = drivers.plugin_dir()
    assert d.is_dir(), d
    assert list(d.glob("librte_net_*.so*")), f"no net drivers in {d}"
    # Debian's libdpdk.pc has no pmdsdir: the directory comes from librte_eal's
    # embedded DPDK_PLUGIN_PATH, which is where EAL loads drivers from.
    assert d == Path(drivers.DEFAULT_PLUGIN_DIR)


def test_the_drivers_we_rely_on_are_found(found):
    missing = [n for n in NEEDED if n not in found]
    assert not missing, f"missing drivers {missing}; found {sorted(found)}"
    for name in NEEDED:
        d = found[name]
        assert d.name == name
        assert d.source.is_file() and d.source.is_relative_to(drivers.plugin_dir())
        assert not d.is_pci and d.is_vdev, d
    assert set(NEEDED) <= set(vdev_drivers(found))
    assert found["net_vhost"].source.name.startswith("librte_net_vhost.so")
    # Two drivers from one library: net_virtio (PCI) and net_virtio_user (vdev).
    assert found["net_virtio"].source == found["net_virtio_user"].source
    assert found["net_virtio"].is_pci and not found["net_virtio"].is_vdev


def test_params_text(found):
    pcap = found["net_pcap"]
    assert "rx_pcap" in pcap.params and "tx_pcap" in pcap.params
    names = pcap.param_names()
    assert {"rx_pcap", "tx_pcap", "iface", "infinite_rx"} <= set(names)
    assert "iface" in found["net_vhost"].param_names()
    assert {"path", "server", "queues"} <= set(found["net_virtio_user"].param_names())
    assert "iface" in found["net_tap"].param_names()


def test_pci_drivers_have_pci_ids(found):
    pci = [n for n in ("net_ixgbe", "net_e1000_igb", "net_i40e", "net_virtio") if n in found]
    assert pci, "none of the common PCI drivers found"
    for name in pci:
        d = found[name]
        assert d.is_pci and not d.is_vdev
        assert all(len(ids) == 4 and all(0 <= x <= 0xFFFF for x in ids) for ids in d.pci_ids)
        assert all(ids[0] == 0x8086 for ids in d.pci_ids) or name == "net_virtio"
        assert "vfio-pci" in d.kmod
    # virtio-net's legacy and modern device ids (Red Hat/Qumranet vendor 0x1af4).
    virtio = {(v, dev) for v, dev, _, _ in found["net_virtio"].pci_ids}
    assert {(0x1AF4, 0x1000), (0x1AF4, 0x1041)} <= virtio
    # A device id as an "lspci -n" user would look it up: the 82599 SFP+ NIC.
    assert any(ids[:2] == (0x8086, 0x10FB) for ids in found["net_ixgbe"].pci_ids)


def test_agrees_with_dpdk_pmdinfo(found):
    """DPDK's own tool (usertools/dpdk-pmdinfo.py) lists the same drivers."""
    tool = shutil.which("dpdk-pmdinfo.py")
    if not tool:
        pytest.fail("dpdk-pmdinfo.py is not installed (Debian package dpdk)")
    files = sorted({str(found[n].source) for n in NEEDED})
    r = subprocess.run([tool, *files], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    theirs = {d["name"]: d for d in json.loads(r.stdout)}
    ours = discover(files)
    # Their list also holds drivers of the libraries these link (librte_bus_*, ...).
    assert set(ours) <= set(theirs)
    for name, d in ours.items():
        assert d.params == theirs[name].get("params", "")
        assert d.kmod == theirs[name].get("kmod", "")


def test_corrupt_and_foreign_files_are_skipped(tmp_path, found, caplog):
    pcap = found["net_pcap"].source
    (tmp_path / "notelf.so").write_bytes(b"this is not an ELF file\n" * 10)
    (tmp_path / "empty.so.1").write_bytes(b"")
    (tmp_path / "truncated.so").write_bytes(pcap.read_bytes()[:300])
    # A plausible ELF header followed by garbage section headers.
    header = bytearray(pcap.read_bytes()[:64])
    header[0x28:0x30] = (10**12).to_bytes(8, "little")   # e_shoff far beyond the file
    (tmp_path / "badshoff.so").write_bytes(bytes(header) + b"\0" * 64)
    # A real ELF without any driver: no entry.
    shutil.copy("/bin/true", tmp_path / "true.so")
    # A driver library whose PMD_INFO_STRING lost its "name" key: ignored, logged.
    data = bytearray(pcap.read_bytes())
    at = data.index(b'PMD_INFO_STRING= {"name"')
    data[at + len(b'PMD_INFO_STRING= {"nam')] = ord("#")
    (tmp_path / "badjson.so").write_bytes(bytes(data))
    (tmp_path / "good.so").symlink_to(found["net_ring"].source)
    (tmp_path / "subdir.so").mkdir()

    got = discover([tmp_path])
    assert set(got) == {"net_ring"}
    assert got["net_ring"].params == found["net_ring"].params
    with pytest.raises(ELFError):      # read_file itself raises; discover skips
        drivers.read_file(tmp_path / "notelf.so")
    assert drivers.read_file(tmp_path / "badjson.so") == []
    assert discover([tmp_path / "nonexistent.so"]) == {}


def test_vdev_driver_for_devargs(found):
    assert vdev_driver_for("net_pcap_rx1,rx_pcap=/tmp/x.pcap", found).name == "net_pcap"
    # The longest driver name wins: net_virtio is PCI, net_virtio_user the vdev.
    assert vdev_driver_for("net_virtio_user0,path=/tmp/s", found).name == "net_virtio_user"
    assert vdev_driver_for("net_vhost3,iface=/tmp/s,client=1", found).name == "net_vhost"
    assert vdev_driver_for("net_tap0,iface=br0", found).name == "net_tap"
    assert vdev_driver_for("0000:03:00.0", found) is None
    assert vdev_driver_for("net_nosuchdriver0", found) is None
    # Crypto/event vdevs are vdevs too, but none is a net_ driver.
    assert "crypto_null" in vdev_drivers(found)
    assert all(found[n].source.exists() for n in vdev_drivers(found))


def test_randomly_corrupted_headers_never_crash(tmp_path, found):
    """ELF and section headers with random bytes: discover() skips or reads each file,
    it never raises (nor tries to allocate a section's bogus size)."""
    data = found["net_pcap"].source.read_bytes()
    shoff = int.from_bytes(data[0x28:0x30], "little")
    rnd = random.Random(20221122)
    for i in range(120):
        d = bytearray(data)
        for _ in range(8):
            pos = rnd.randrange(0, 64) if rnd.random() < 0.5 else rnd.randrange(shoff, len(d))
            d[pos] = rnd.randrange(256)
        (tmp_path / f"fuzz{i}.so").write_bytes(bytes(d))
    got = discover([tmp_path])
    assert set(got) <= {"net_pcap"}
    if got:
        assert got["net_pcap"].params == found["net_pcap"].params
