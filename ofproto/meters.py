"""The OpenFlow meter table (spec 1.3.5 section 5.7 "Meter Table", 6.6 "Meter
Modification Messages", A.3.4.4, A.3.5.12-A.3.5.14).

Relation to the other modules: :class:`ofproto.flowtable.Pipeline` owns a
:class:`MeterTable`; the connection manager sends OFPT_METER_MOD through
``Pipeline.meter_mod`` (which also deletes the flows using a deleted meter) and
answers meter config/stats/features from :meth:`MeterTable.config`,
:meth:`MeterTable.stats` and :meth:`MeterTable.features`.  The pipeline validates
``InstructionMeter`` with :meth:`MeterTable.exists` and reports flow references with
:meth:`MeterTable.flow_ref` (``flow_count``).  Enforcement (xlate/datapath) calls
:meth:`MeterState.admit` per batch of packets.

Validation follows OVS (``lib/ofp-meter.c`` ``ofputil_decode_meter_mod``,
``ofproto/ofproto.c`` ``handle_meter_mod``): OFPMMFC_BAD_COMMAND, BAD_FLAGS (KBPS and
PKTPS together, unknown bits), INVALID_METER (id 0 or above OFPM_MAX except the
virtual SLOWPATH/CONTROLLER meters), OUT_OF_BANDS, BAD_BAND (only DROP and
DSCP_REMARK), BAD_RATE (rate 0), METER_EXISTS, OUT_OF_METERS, UNKNOWN_METER (modify).
Deleting an unknown meter is not an error; OFPM_ALL deletes all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ofproto.ofp import messages
from ofproto.ofp.consts import OFPErrorType as ET
from ofproto.ofp.consts import OFPMeter
from ofproto.ofp.consts import OFPMeterBandType as MBT
from ofproto.ofp.consts import OFPMeterFlags as MF
from ofproto.ofp.consts import OFPMeterModCommand as MC
from ofproto.ofp.consts import OFPMeterModFailedCode as MMFC
from ofproto.ofp.errors import OFPDecodeError as OFPError

__all__ = ["MeterState", "MeterModResult", "MeterTable", "OFPError"]

OFPM_MAX = int(OFPMeter.OFPM_MAX)
OFPM_ALL = int(OFPMeter.OFPM_ALL)
_VIRTUAL = (int(OFPMeter.OFPM_SLOWPATH), int(OFPMeter.OFPM_CONTROLLER))
_FLAGS = int(MF.OFPMF_KBPS | MF.OFPMF_PKTPS | MF.OFPMF_BURST | MF.OFPMF_STATS)
_BAND_TYPES = (int(MBT.OFPMBT_DROP), int(MBT.OFPMBT_DSCP_REMARK))


def _err(code: int, message: str = "") -> OFPError:
    return OFPError(ET.OFPET_METER_MOD_FAILED, code, message)


@dataclass(eq=False)
class MeterState:
    """One meter: configuration, counters and token buckets.

    Each band polices independently with a token bucket (spec 1.3.5 section 5.7: a
    band applies when the measured rate exceeds its rate; of several, the one with the
    highest rate applies).  Units: ``OFPMF_PKTPS`` meters count packets; otherwise
    (``OFPMF_KBPS``, also the default when neither flag is set, as in OVS) rates are
    kbit/s and bursts kbit.  A band's bucket holds ``burst_size`` (with
    ``OFPMF_BURST`` and a non-zero burst) or one second of its rate, and starts full.
    """

    meter_id: int
    flags: int
    bands: list[messages.MeterBand]
    created: float = 0.0
    packet_in_count: int = 0
    byte_in_count: int = 0
    band_stats: list[list[int]] = field(default_factory=list)  # [packets, bytes]
    flow_count: int = 0
    last_dropped: int = 0
    last_remarked: int = 0
    _tokens: list[float] = field(default_factory=list, repr=False)
    _last: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.reset_buckets()
        if not self.band_stats:
            self.band_stats = [[0, 0] for _ in self.bands]

    @property
    def pktps(self) -> bool:
        return bool(self.flags & MF.OFPMF_PKTPS)

    def _scale(self) -> int:
        return 1 if self.pktps else 1000  # tokens per rate unit: packets, or bits

    def capacity(self, band: messages.MeterBand) -> float:
        size = band.burst_size if self.flags & MF.OFPMF_BURST and band.burst_size else band.rate
        return float(size * self._scale())

    def reset_buckets(self) -> None:
        self._tokens = [self.capacity(b) for b in self.bands]
        self._last = None

    def _refill(self, now: float) -> None:
        if self._last is not None and now > self._last:
            dt = now - self._last
            scale = self._scale()
            for i, b in enumerate(self.bands):
                self._tokens[i] = min(self.capacity(b), self._tokens[i] + dt * b.rate * scale)
        if self._last is None or now > self._last:
            self._last = now

    def admit(self, now: float, n_packets: int, n_bytes: int) -> int:
        """Police ``n_packets`` packets totalling ``n_bytes`` arriving at ``now``
        (seconds); returns how many are admitted (not dropped by a DROP band).
        ``last_dropped``/``last_remarked`` tell how many were dropped or are to get
        their DSCP drop precedence raised (DSCP_REMARK band)."""
        self._refill(now)
        self.packet_in_count += n_packets
        self.byte_in_count += n_bytes
        self.last_dropped = self.last_remarked = 0
        if n_packets <= 0:
            return 0
        base, extra = divmod(n_bytes, n_packets)
        admitted = 0
        for k in range(n_packets):
            size = base + (1 if k < extra else 0)
            cost = 1.0 if self.pktps else size * 8.0
            applied = -1
            for i, b in enumerate(self.bands):
                if self._tokens[i] >= cost:
                    self._tokens[i] -= cost
                elif applied < 0 or b.rate > self.bands[applied].rate:
                    applied = i
            if applied < 0:
                admitted += 1
                continue
            self.band_stats[applied][0] += 1
            self.band_stats[applied][1] += size
            if self.bands[applied].type == MBT.OFPMBT_DROP:
                self.last_dropped += 1
            else:
                self.last_remarked += 1
                admitted += 1
        return admitted


@dataclass
class MeterModResult:
    """What a meter-mod changed (meter ids)."""

    command: int
    added: list[int] = field(default_factory=list)
    modified: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)


class MeterTable:
    """The switch's meters (``max_meters``, ``max_bands`` per meter)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_meters: int = 65536,
                 max_bands: int = 8, max_color: int = 0) -> None:
        self.clock = clock
        self.max_meters = max_meters
        self.max_bands = max_bands
        self.max_color = max_color
        self._meters: dict[int, MeterState] = {}

    def exists(self, meter_id: int) -> bool:
        return meter_id in self._meters

    __contains__ = exists

    def get(self, meter_id: int) -> MeterState | None:
        return self._meters.get(meter_id)

    def __len__(self) -> int:
        return len(self._meters)

    def __iter__(self) -> Iterator[MeterState]:
        return iter([self._meters[m] for m in sorted(self._meters)])

    def flow_ref(self, meter_id: int, delta: int) -> None:
        """Called by the pipeline when flows start/stop using ``meter_id``."""
        m = self._meters.get(meter_id)
        if m is not None:
            m.flow_count = max(0, m.flow_count + delta)

    def meter_mod(self, mm: messages.MeterMod) -> MeterModResult:
        """Apply OFPT_METER_MOD (spec 1.3.5 section 6.6); raises :class:`OFPError`
        with nothing changed."""
        cmd, mid = mm.command, mm.meter_id
        res = MeterModResult(cmd)
        if cmd not in MC._value2member_map_:
            raise _err(MMFC.OFPMMFC_BAD_COMMAND, f"command {cmd}")
        if cmd == MC.OFPMC_DELETE:
            if mid == OFPM_ALL:
                res.deleted = sorted(self._meters)
                self._meters.clear()
            elif mid in self._meters:
                del self._meters[mid]
                res.deleted.append(mid)
            return res
        if mm.flags & ~_FLAGS or (mm.flags & MF.OFPMF_KBPS and mm.flags & MF.OFPMF_PKTPS):
            raise _err(MMFC.OFPMMFC_BAD_FLAGS, f"flags {mm.flags:#x}")
        if mid == 0 or (mid > OFPM_MAX and mid not in _VIRTUAL):
            raise _err(MMFC.OFPMMFC_INVALID_METER, f"meter id {mid:#x}")
        if len(mm.bands) > self.max_bands:
            raise _err(MMFC.OFPMMFC_OUT_OF_BANDS, f"{len(mm.bands)} bands")
        for b in mm.bands:
            if b.type not in _BAND_TYPES:
                raise _err(MMFC.OFPMMFC_BAD_BAND, f"band type {b.type:#x}")
            if b.rate == 0:
                raise _err(MMFC.OFPMMFC_BAD_RATE, "rate 0")
        old = self._meters.get(mid)
        bands = [messages.MeterBand(b.type, b.rate, b.burst_size, b.prec_level)
                 for b in mm.bands]
        if cmd == MC.OFPMC_ADD:
            if old is not None:
                raise _err(MMFC.OFPMMFC_METER_EXISTS, f"meter {mid}")
            if len(self._meters) >= self.max_meters:
                raise _err(MMFC.OFPMMFC_OUT_OF_METERS)
            self._meters[mid] = MeterState(mid, mm.flags, bands, self.clock())
            res.added.append(mid)
        else:
            if old is None:
                raise _err(MMFC.OFPMMFC_UNKNOWN_METER, f"meter {mid}")
            old.flags, old.bands = mm.flags, bands
            old.band_stats = [[0, 0] for _ in bands]
            old.reset_buckets()
            res.modified.append(mid)
        return res

    def config(self, meter_id: int = OFPM_ALL) -> list[messages.MeterConfig]:
        """OFPMP_METER_CONFIG body (spec 1.3.5 A.3.5.13)."""
        return [messages.MeterConfig(m.flags, m.meter_id,
                                     [messages.MeterBand(b.type, b.rate, b.burst_size,
                                                         b.prec_level) for b in m.bands])
                for m in self._select(meter_id)]

    def stats(self, meter_id: int = OFPM_ALL, now: float | None = None
              ) -> list[messages.MeterStats]:
        """OFPMP_METER body (spec 1.3.5 A.3.5.12)."""
        t = self.clock() if now is None else now
        out = []
        for m in self._select(meter_id):
            d = max(0.0, t - m.created)
            out.append(messages.MeterStats(m.meter_id, m.flow_count, m.packet_in_count,
                                           m.byte_in_count, int(d), int((d - int(d)) * 1e9),
                                           [(p, b) for p, b in m.band_stats]))
        return out

    def features(self) -> messages.MeterFeatures:
        """OFPMP_METER_FEATURES body (spec 1.3.5 A.3.5.14)."""
        return messages.MeterFeatures(
            max_meter=self.max_meters,
            band_types=sum(1 << t for t in _BAND_TYPES),
            capabilities=_FLAGS,
            max_bands=self.max_bands,
            max_color=self.max_color)

    def _select(self, meter_id: int) -> list[MeterState]:
        if meter_id == OFPM_ALL:
            return list(self)
        m = self._meters.get(meter_id)
        return [m] if m is not None else []
