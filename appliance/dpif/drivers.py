"""Which DPDK poll-mode drivers this DPDK build offers, read from the drivers' ELF files.

Every DPDK driver library carries, for each driver it registers, a string
``PMD_INFO_STRING= {json}`` that DPDK's build (buildtools/pmdinfogen.py) compiled into
its read-only data: a JSON object with the driver's ``name``, its devargs ``params``
help text, the ``kmod`` it needs and the PCI ``pci_ids`` (vendor, device, subsystem
vendor, subsystem device; 0xffff = any) it binds to. :func:`discover` reads these
strings with pyelftools, as DPDK's usertools/dpdk-pmdinfo.py does, without loading or
running any DPDK code, so it is safe in processes that never initialise the EAL (the
OVSDB side of vswitchd, ``ovs-vsctl``-style tools, tests).

vswitchd uses it for two things:

- reporting ``Open_vSwitch:iface_types``: the ``dpdk`` type needs ethdev drivers, the
  ``dpdkvhostuser``/``dpdkvhostuserclient`` types need ``net_vhost``, ``system`` needs
  ``net_af_packet`` and ``internal`` needs ``net_tap`` (see :mod:`.netdev`);
- validating ``options:dpdk-devargs`` before a port is added: a vdev name such as
  ``net_pcap_rx1`` selects the driver whose name it starts with
  (:func:`vdev_driver_for`), so a typo is reported with the list of drivers instead of
  EAL's bare "cannot attach".

Where the drivers are: DPDK's EAL loads every library in its plugin directory
(``RTE_EAL_PMD_PATH``, which librte_eal embeds as the string ``DPDK_PLUGIN_PATH=...``).
Debian's libdpdk.pc has no variable for it (no ``pmdsdir``), so :func:`plugin_dir` reads
it from librte_eal in pkg-config's ``libdir``, falling back to Debian's
``/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0``.

The JSON does not say which bus a driver registers on. A driver with PCI ids is a PCI
driver; one without is taken for a virtual device (vdev) driver when its library links
librte_bus_vdev and no bus other than PCI (the DT_NEEDED entries); that is exact for the
``net_*`` drivers and a heuristic for a few other classes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

log = logging.getLogger(__name__)

DEFAULT_PLUGIN_DIR = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0"
DEFAULT_LIBDIR = "/usr/lib/x86_64-linux-gnu"

PMD_INFO_PREFIX = b"PMD_INFO_STRING="
PLUGIN_PATH_PREFIX = b"DPDK_PLUGIN_PATH="
# A NUL-terminated run of printable ASCII starting with the prefix.
_STRING_RE = {p: re.compile(re.escape(p) + rb"([\x20-\x7e\t\n\r]*)\x00")
              for p in (PMD_INFO_PREFIX, PLUGIN_PATH_PREFIX)}
# Buses a vdev driver's library may link besides librte_bus_vdev.
_VDEV_COMPATIBLE_BUSES = {"vdev", "pci"}


@dataclass(frozen=True)
class DriverInfo:
    """One driver, as its PMD_INFO_STRING describes it.

    ``pci_ids`` holds (vendor, device, subsystem vendor, subsystem device) tuples,
    0xffff meaning any; ``buses`` the buses its library links (``{"pci", "vdev"}``).
    """

    name: str
    params: str = ""
    kmod: str = ""
    pci_ids: tuple[tuple[int, int, int, int], ...] = ()
    source: Path = Path()
    buses: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_pci(self) -> bool:
        return bool(self.pci_ids)

    @property
    def is_vdev(self) -> bool:
        return (not self.pci_ids and "vdev" in self.buses
                and self.buses <= _VDEV_COMPATIBLE_BUSES)

    def param_names(self) -> list[str]:
        """Devargs keys of ``params`` ("rx_pcap=<string> tx_pcap=<string>" -> rx_pcap,
        tx_pcap; also copes with DPDK's missing spaces, "<int>infinite_rx=<0|1>")."""
        return re.findall(r"(?:^|[\s>])([A-Za-z_][\w-]*)=", self.params)


def _find_strings(data: bytes, prefix: bytes) -> list[str]:
    return [m.group(1).decode("ascii").strip() for m in _STRING_RE[prefix].finditer(data)]


def _elf_strings(elf: ELFFile, prefix: bytes, file_size: int) -> list[str]:
    """Strings ``prefix...`` in the ELF's allocated, non-executable data sections
    (.rodata in practice; .data and .data.rel.ro too, in case a toolchain moves them)."""
    out: list[str] = []
    for sec in elf.iter_sections():
        flags = sec["sh_flags"]
        if (sec["sh_type"] != "SHT_PROGBITS" or not flags & 0x2      # SHF_ALLOC
                or flags & 0x4):                                     # SHF_EXECINSTR
            continue
        if sec["sh_offset"] + sec["sh_size"] > file_size:
            raise ELFError(f"section {sec.name} extends past the end of the file")
        out += _find_strings(sec.data(), prefix)
    return out


def _needed_buses(elf: ELFFile) -> frozenset[str]:
    buses = set()
    for sec in elf.iter_sections():
        if isinstance(sec, DynamicSection):
            for tag in sec.iter_tags():
                if tag.entry.d_tag == "DT_NEEDED":
                    m = re.match(r"librte_bus_(\w+)\.so", tag.needed)
                    if m:
                        buses.add(m.group(1))
    return frozenset(buses)


def read_file(path: str | os.PathLike) -> list[DriverInfo]:
    """The drivers one ELF file describes; [] for a file without PMD_INFO_STRINGs.
    Raises OSError or ELFError for an unreadable or non-ELF file."""
    path = Path(path)
    with path.open("rb") as f:
        elf = ELFFile(f)
        strings = _elf_strings(elf, PMD_INFO_PREFIX, os.fstat(f.fileno()).st_size)
        if not strings:
            return []
        buses = _needed_buses(elf)
    drivers = []
    for text in strings:
        try:
            info = json.loads(text)
            name = info["name"]
            pci_ids = tuple(tuple(int(x) for x in ids) for ids in info.get("pci_ids") or ())
            if not isinstance(name, str) or any(len(ids) != 4 for ids in pci_ids):
                raise ValueError("bad name or pci_ids")
        except (ValueError, KeyError, TypeError) as e:
            log.warning("%s: ignoring malformed PMD_INFO_STRING (%s): %.80s", path, e, text)
            continue
        drivers.append(DriverInfo(name=name, params=str(info.get("params") or ""),
                                  kmod=str(info.get("kmod") or ""), pci_ids=pci_ids,
                                  source=path, buses=buses))
    return drivers


def _pkg_config(*args: str) -> str:
    exe = shutil.which("pkg-config")
    if not exe:
        return ""
    try:
        r = subprocess.run([exe, *args, "libdpdk"], capture_output=True, text=True,
                           timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return r.stdout.strip() if r.returncode == 0 else ""


def plugin_dir() -> Path:
    """DPDK's driver directory: pkg-config's ``pmdsdir`` if libdpdk.pc has one, else the
    ``DPDK_PLUGIN_PATH`` librte_eal embeds, else Debian's default."""
    pmdsdir = _pkg_config("--variable=pmdsdir")
    if pmdsdir:
        return Path(pmdsdir)
    libdir = Path(_pkg_config("--variable=libdir") or DEFAULT_LIBDIR)
    for eal in sorted(libdir.glob("librte_eal.so*")):
        try:
            with eal.open("rb") as f:
                found = _elf_strings(ELFFile(f), PLUGIN_PATH_PREFIX,
                                     os.fstat(f.fileno()).st_size)
        except Exception as e:     # any unreadable file: try the next
            log.debug("%s: %s", eal, e)
            continue
        if found and found[0]:
            return Path(found[0])
    return Path(DEFAULT_PLUGIN_DIR)


def _candidates(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files named by ``paths`` (directories: their ``*.so*`` files), each real file
    once (the .so -> .so.23 -> .so.23.0 symlink chains collapse)."""
    seen: set[Path] = set()
    out = []
    for p in map(Path, paths):
        files = sorted(p.glob("*.so*")) if p.is_dir() else [p]
        for f in files:
            real = f.resolve()
            if real in seen or not real.is_file():
                continue
            seen.add(real)
            out.append(real)
    return out


def discover(paths: Iterable[str | os.PathLike] | None = None) -> dict[str, DriverInfo]:
    """Drivers by name, from ``paths`` (files or directories; default:
    :func:`plugin_dir`). Files that are not ELF, or unreadable, are skipped (logged)."""
    drivers: dict[str, DriverInfo] = {}
    for f in _candidates([plugin_dir()] if paths is None else paths):
        try:
            found = read_file(f)
        except Exception as e:
            # pyelftools raises ELFError for a bad magic or a truncated file, but a
            # corrupt one can also make it fail with OSError, ValueError, struct or
            # construct errors: any of them means "not a driver we can read".
            log.debug("%s: not a readable ELF file: %s: %s", f, type(e).__name__, e)
            continue
        for d in found:
            drivers.setdefault(d.name, d)
    return drivers


def vdev_drivers(drivers: dict[str, DriverInfo] | None = None) -> list[str]:
    """Names of the virtual-device drivers (for ``--vdev`` / vdev devargs), sorted."""
    if drivers is None:
        drivers = discover()
    return sorted(name for name, d in drivers.items() if d.is_vdev)


def vdev_driver_for(devargs: str, drivers: dict[str, DriverInfo] | None = None
                    ) -> DriverInfo | None:
    """The vdev driver a devargs string such as ``net_pcap_rx1,rx_pcap=x`` names: as
    DPDK's vdev bus does, the driver whose name the device name starts with (the
    longest, so net_virtio_user wins over a hypothetical net_virtio vdev). None if no
    vdev driver matches (a PCI address, or an unknown driver)."""
    if drivers is None:
        drivers = discover()
    devname = devargs.split(",", 1)[0].strip()
    best = None
    for d in drivers.values():
        if d.is_vdev and devname.startswith(d.name):
            if best is None or len(d.name) > len(best.name):
                best = d
    return best
