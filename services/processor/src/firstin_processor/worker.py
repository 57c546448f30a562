"""The decision loop: drains the lines of the products whose lease it holds, one batch at a time.

Correctness lives in the script (pop and decide are one atomic step); this loop only decides *when* to call
it: at once when an order joins an empty line (ProductQueued), and on a poll in case a ring was lost. The poll
also finds lines whose holder died, once their lease has lapsed.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from firstin_contracts import ProgressUpdated
from firstin_processor import metrics
from firstin_processor.lease import ProductLeases
from firstin_processor.store import BatchSummary, DecisionStore
from firstin_serving import BackgroundTask

log = logging.getLogger("firstin.processor")

# A product is drained at most this many batches in a row before other products get their turn.
BATCHES_PER_TURN = 50
# Progress ("now serving") goes out at most this often per product: enough to feel live, cheap at any rate.
PROGRESS_INTERVAL_SECONDS = 0.2

ProgressPublisher = Callable[[ProgressUpdated], Awaitable[None]]


class DecisionWorker:
    def __init__(
        self,
        store: DecisionStore,
        leases: ProductLeases,
        *,
        poll_interval: float,
        publish_progress: ProgressPublisher,
    ):
        self._store = store
        self._leases = leases
        self._publish_progress = publish_progress
        self._progress: dict[str, ProgressUpdated] = {}
        self._poll_interval = poll_interval
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._progress_loop = BackgroundTask(self._send_progress, "progress")

    def kick(self, sku: str) -> None:
        self._dirty.add(sku)
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="decision-worker")
        self._progress_loop.start()

    async def stop(self) -> None:
        """Let the batch in hand finish (it is one atomic script call), then return."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await self._progress_loop.stop()
        await self._flush_progress()

    async def _send_progress(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL_SECONDS)
            await self._flush_progress()

    async def _flush_progress(self) -> None:
        pending, self._progress = self._progress, {}
        for update in pending.values():
            try:
                await self._publish_progress(update)
            except (RedisError, OSError) as exc:
                log.warning("progress not published", extra={"sku": update.sku, "error": repr(exc)})

    async def _run(self) -> None:
        backoff = 0.05
        look_at_every_line = True  # at start: this finds work left from before a restart
        while not self._stopping:
            try:
                if look_at_every_line:
                    self._dirty.update(await self._store.lines_with_work())
                dirty, self._dirty = self._dirty, set()
                for sku in sorted(dirty):
                    if self._stopping:
                        break
                    if await self._leases.take(sku):
                        await self._drain(sku)
                backoff = 0.05
                look_at_every_line = False
                if not self._dirty and not self._stopping:
                    try:
                        await asyncio.wait_for(self._wake.wait(), self._poll_interval)
                    except TimeoutError:
                        look_at_every_line = True
                    self._wake.clear()
            except (RedisError, OSError) as exc:
                metrics.REDIS_ERRORS.inc()
                log.warning("redis unavailable, retrying", extra={"error": repr(exc), "retry_in_s": backoff})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                look_at_every_line = True

    async def _drain(self, sku: str) -> None:
        for _ in range(BATCHES_PER_TURN):
            started = time.perf_counter()
            summary = await self._store.decide_batch(sku)
            metrics.BATCH_DURATION.observe(time.perf_counter() - started)
            self._record(sku, summary)
            if summary.remaining == 0:
                self._leases.line_empty(sku)
                return
            self._leases.line_busy(sku)
            if self._stopping or not self._leases.holds(sku):
                return
        self._dirty.add(sku)  # more left: come back after the other products' turn

    def _record(self, sku: str, summary: BatchSummary) -> None:
        if summary.accepted:
            metrics.DECISIONS.labels(sku, "accepted", "").inc(summary.accepted)
        for reason, count in summary.rejected.items():
            metrics.DECISIONS.labels(sku, "rejected", reason).inc(count)
        for reason, count in summary.dead_lettered.items():
            metrics.DEAD_LETTERS.labels(sku, reason).inc(count)
            log.warning("messages dead-lettered", extra={"sku": sku, "reason": reason, "count": count})
        for wait in summary.waits_ms:
            metrics.DECISION_WAIT.observe(wait / 1000)
        metrics.QUEUE_LENGTH.labels(sku).set(summary.remaining)
        if summary.stock_left is not None:
            metrics.STOCK_LEFT.labels(sku).set(summary.stock_left)
        if summary.popped and summary.stock_left is not None and summary.now_serving is not None:
            self._progress[sku] = ProgressUpdated(
                sku=sku, now_serving=summary.now_serving, stock_left=summary.stock_left, queue_length=summary.remaining
            )
        if summary.decided:
            log.info(
                "batch decided",
                extra={
                    "sku": sku,
                    "decided": summary.decided,
                    "accepted": summary.accepted,
                    "remaining": summary.remaining,
                    "stock_left": summary.stock_left,
                },
            )
