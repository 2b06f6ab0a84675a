"""The ``CapacityModel`` kind: the demand, media and price assumptions ``streamverse ctl capacity`` plans with.

Every field has the seed's figure as its default (100 M users, ~6 M requests/s at peak, tens of
Tbps of egress, ~100 PB of storage after retention, ~$10-15 M a month), so an inventory without a
CapacityModel plans with the seed's numbers; ``inventories/base/capacity.yaml`` spells them out.
The formulas are in :mod:`streamverse_ctl.engine.capacity`.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from .models import Spec

CLASSES = ("hot", "warm", "cold", "archive")


class StorageClass(Spec):
    days: int = Field(gt=0, description="age (days since upload) until which data stays in this class")
    copies: int = Field(1, ge=1, le=10, description="copies kept (replicas across regions)")
    capacity_pb: float | None = Field(None, gt=0, description="declared capacity of the class's storage (PB, all "
                                      "copies); `capacity` checks the steady-state need against it")


def _cls(days: int, copies: int = 1) -> StorageClass:
    return StorageClass(days=days, copies=copies)


class Storage(Spec):
    """Renditions live in hot until ``hot.days``, then warm until ``warm.days``, then cold until
    ``cold.days`` (then they are deleted); the uploaded source (mezzanine) is kept in archive for
    ``archive.days``."""

    hot: StorageClass = Field(default_factory=lambda: _cls(30, 2))
    warm: StorageClass = Field(default_factory=lambda: _cls(365))
    cold: StorageClass = Field(default_factory=lambda: _cls(1825))
    archive: StorageClass = Field(default_factory=lambda: _cls(1825))

    @model_validator(mode="after")
    def _ordered(self) -> Storage:
        if not self.hot.days < self.warm.days < self.cold.days:
            raise ValueError(f"days must grow hot < warm < cold (got {self.hot.days}, {self.warm.days}, "
                             f"{self.cold.days}): each class holds the ages after the one before")
        return self


class StoragePrices(Spec):
    hot: float = Field(0.021, ge=0)
    warm: float = Field(0.0125, ge=0)
    cold: float = Field(0.004, ge=0)
    archive: float = Field(0.00099, ge=0)


class Prices(Spec):
    """USD per unit."""

    cdn_egress_per_gb: float = Field(0.001, ge=0, description="CDN egress to viewers, per GB")
    transfer_per_gb: float = Field(0.004, ge=0, description="origin to PoP (inter-region) transfer, per GB")
    gpu_hour: float = Field(0.8, ge=0, description="one transcode GPU for an hour")
    server_hour: float = Field(1.0, ge=0, description="one serving (API/origin) server for an hour")
    storage_per_gb_month: StoragePrices = Field(default_factory=StoragePrices)


class Headroom(Spec):
    factor: float = Field(10, gt=0, description="capacity / need every resource should have (the seed's 10x)")
    resources: dict[str, float] = Field(default_factory=dict, description="resource -> its own factor")


DEFAULT_MIX = {"4k": 5.0, "1080p": 40.0, "720p": 30.0, "480p": 15.0, "360p": 10.0}
DEFAULT_SPEED = {"4k": 2.0, "1080p": 8.0, "720p": 16.0, "480p": 30.0, "360p": 40.0}


class CapacityModelSpec(Spec):
    users: int = Field(100_000_000, gt=0)
    peak_concurrent_percent: float = Field(15, gt=0, le=100, description="users watching at the global peak; "
                                           "regions get their part through the traffic policies (as failover does)")
    peak_concurrent_by_region: dict[str, float] = Field(
        default_factory=dict, description="region -> percent of all users watching at peak from that region's PoPs "
        "(where the users are); when given, replaces peakConcurrentPercent (their sum) and splits the PoPs' and edge "
        "sites' egress by region")
    requests_per_viewer_per_second: float = Field(0.4, gt=0, description="segments, manifests, API calls")
    average_to_peak_percent: float = Field(40, gt=0, le=100, description="a month's average egress / the peak")
    uploads_per_day: int = Field(20_000, ge=0)
    upload_minutes: float = Field(12, gt=0, description="average duration of an upload")
    upload_peak_to_average: float = Field(2, ge=1)
    source_bitrate_kbps: int = Field(10_000, ge=0, description="the kept source (mezzanine)")
    ladder: str = Field("main", description="the EncodingLadder whose rungs are stored and encoded")
    rendition_mix: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_MIX),
                                            description="rung name -> percent of viewing time (sums to 100)")
    cdn_hit_ratio_percent: float = Field(95, ge=0, le=100)
    cache_working_set_percent: float = Field(40, gt=0, le=100, description="of the hot window's viewed renditions "
                                             "a PoP must hold to reach the hit ratio")
    encode_speed: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_SPEED),
                                           description="rung name -> times realtime one GPU encodes it")
    gpus_per_node: int = Field(4, ge=1)
    rps_per_server: float = Field(2000, gt=0)
    origin_gbps_per_server: float = Field(20, gt=0)
    storage: Storage = Field(default_factory=Storage)
    prices: Prices = Field(default_factory=Prices)
    headroom: Headroom = Field(default_factory=Headroom)

    @field_validator("rendition_mix")
    @classmethod
    def _mix(cls, v: dict[str, float]) -> dict[str, float]:
        if any(x < 0 for x in v.values()):
            raise ValueError("percentages must be 0 or more")
        total = sum(v.values())
        if abs(total - 100) > 0.01:
            raise ValueError(f"must sum to 100 (percent of viewing time), got {total:g}")
        return v

    @field_validator("peak_concurrent_by_region")
    @classmethod
    def _by_region(cls, v: dict[str, float]) -> dict[str, float]:
        if any(x < 0 for x in v.values()):
            raise ValueError("percentages must be 0 or more")
        if v and not 0 < sum(v.values()) <= 100:
            raise ValueError(f"must sum to more than 0 and at most 100 (percent of users), got {sum(v.values()):g}")
        return v

    @model_validator(mode="after")
    def _one_concurrency(self) -> CapacityModelSpec:
        if self.peak_concurrent_by_region and "peak_concurrent_percent" in self.model_fields_set:
            raise ValueError("give peakConcurrentPercent or peakConcurrentByRegion, not both (the global figure is "
                             "the regions' sum)")
        return self

    def concurrent_percent(self) -> float:
        """Percent of users watching at the peak: the regions' sum when given by region."""
        return sum(self.peak_concurrent_by_region.values()) if self.peak_concurrent_by_region \
            else self.peak_concurrent_percent

    @field_validator("encode_speed")
    @classmethod
    def _speed(cls, v: dict[str, float]) -> dict[str, float]:
        if any(x <= 0 for x in v.values()):
            raise ValueError("values must be above 0 (times realtime)")
        return v
