from functools import lru_cache

from pydantic import Field

from firstin_serving import ServingSettings


class ProcessorSettings(ServingSettings):
    """Every setting of the processor, read from FIRSTIN_* environment variables."""

    processor_host: str = "127.0.0.1"
    # Health and metrics only: the processor takes no orders over HTTP.
    processor_port: int = Field(default=8002, ge=1, le=65535)
    # Orders decided per script call. Bigger batches amortise the round trip; each call blocks Redis for
    # roughly batch x 10 us, so keep it well under a millisecond's worth of work.
    decide_batch_size: int = Field(default=200, ge=1, le=5000)
    # How often an idle processor looks at every line anyway, in case a wake-up message was missed
    # (pub/sub is at-most-once) or orders were left from before a restart.
    poll_interval_seconds: float = Field(default=0.5, gt=0, le=30)
    # A standby processor takes over at most this long after the lease holder dies.
    lease_ttl_seconds: float = Field(default=3.0, ge=0.5, le=60)
    max_message_bytes: int = Field(default=4096, ge=256)
    dead_letters_kept: int = Field(default=10_000, ge=1)


@lru_cache
def get_settings() -> ProcessorSettings:
    return ProcessorSettings()
