"""BackgroundTask runs its loop until stopped, and stopping waits for the loop to have ended."""

import asyncio

from firstin_serving import BackgroundTask


async def test_a_background_loop_runs_until_stopped_and_stop_waits_for_its_end() -> None:
    ticks: list[int] = []
    ticking, ended = asyncio.Event(), asyncio.Event()

    async def loop() -> None:
        try:
            while True:
                ticks.append(len(ticks))
                if len(ticks) == 3:
                    ticking.set()
                await asyncio.sleep(0)
        finally:
            ended.set()

    task = BackgroundTask(loop, "ticker")
    await task.stop()  # before start: nothing to stop
    task.start()
    await asyncio.wait_for(ticking.wait(), 5)
    await task.stop()
    assert ended.is_set(), "stop returns once the loop has ended"
    stopped_at = len(ticks)
    await asyncio.sleep(0)
    assert len(ticks) == stopped_at
    await task.stop()  # twice: harmless
