"""GroupCommit on its own: which orders travel together, and who gets which answer."""

import asyncio

import pytest

from firstin_api.group_commit import GroupCommit


class Recorder:
    def __init__(self, *, fail_group: int | None = None):
        self.groups: list[list[int]] = []
        self.fail_group = fail_group

    async def commit(self, items: list[int]) -> list[int | Exception]:
        self.groups.append(items)
        await asyncio.sleep(0.01)  # a round trip, during which more items arrive
        if len(self.groups) - 1 == self.fail_group:
            raise ConnectionError("redis went away")
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


async def test_items_submitted_together_commit_as_one_group_and_each_gets_its_own_answer() -> None:
    recorder = Recorder()
    committer = GroupCommit(recorder.commit, max_group=100)
    results = await asyncio.gather(*(committer.submit(i) for i in range(6)), return_exceptions=True)
    assert recorder.groups == [[0, 1, 2, 3, 4, 5]]
    assert [r if isinstance(r, int) else str(r) for r in results] == [0, "odd 1", 20, "odd 3", 40, "odd 5"]


async def test_items_arriving_during_a_commit_wait_and_go_as_the_next_group() -> None:
    recorder = Recorder()
    committer = GroupCommit(recorder.commit, max_group=100)
    first = asyncio.ensure_future(committer.submit(0))
    await asyncio.sleep(0.002)  # the first group is in flight now
    later = [asyncio.ensure_future(committer.submit(i)) for i in (2, 4)]
    assert await first == 0
    assert await asyncio.gather(*later) == [20, 40]
    assert recorder.groups == [[0], [2, 4]]


async def test_groups_are_capped() -> None:
    recorder = Recorder()
    sizes: list[int] = []
    committer = GroupCommit(recorder.commit, max_group=4, on_group=sizes.append)
    await asyncio.gather(*(committer.submit(i * 2) for i in range(10)))
    assert [len(g) for g in recorder.groups] == [4, 4, 2] == sizes
    assert [i for g in recorder.groups for i in g] == [i * 2 for i in range(10)], "arrival order is kept"


async def test_a_failed_commit_fails_its_whole_group_and_the_next_group_still_commits() -> None:
    recorder = Recorder(fail_group=0)
    committer = GroupCommit(recorder.commit, max_group=2)
    results = await asyncio.gather(*(committer.submit(i * 2) for i in range(4)), return_exceptions=True)
    assert [type(r).__name__ for r in results[:2]] == ["ConnectionError", "ConnectionError"]
    assert results[2:] == [40, 60]


async def test_cancelling_the_committer_cancels_every_waiting_submitter() -> None:
    started = asyncio.Event()

    async def never_answers(items: list[int]) -> list[int | Exception]:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    committer: GroupCommit[int, int] = GroupCommit(never_answers, max_group=10)
    waiting = [asyncio.ensure_future(committer.submit(i)) for i in range(3)]
    await started.wait()
    assert committer._committer is not None
    committer._committer.cancel()
    for submitter in waiting:
        with pytest.raises(asyncio.CancelledError):
            await submitter
