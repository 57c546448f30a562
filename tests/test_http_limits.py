"""Every HTTP port of firstin against clients that send too much or too slowly: oversized heads, too many
headers, heads and bodies that trickle in, connections that say nothing. Each is refused or closed within its
limit, and buyers meanwhile are served as fast as without them."""

import asyncio
import json
import signal
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest
import pytest_asyncio

from firstin_stack import FirstinClient, RedisServer, Stack, StackConfig, unique_email, unique_sku

pytestmark = pytest.mark.slow

TIMEOUT = 1.0  # header, body and keep-alive timeouts of this module's stack, in seconds
# How late a timeout may fire on a busy machine. Without the timeout nothing comes at all: the slow head below
# is still trickling after 8 s, and _answer gives up after 10.
SLACK = 4.0
MAX_HEAD = 16_384


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    timeouts = {
        "FIRSTIN_HTTP_HEADER_TIMEOUT_SECONDS": str(TIMEOUT),
        "FIRSTIN_HTTP_BODY_TIMEOUT_SECONDS": str(TIMEOUT),
        "FIRSTIN_HTTP_KEEP_ALIVE_SECONDS": str(TIMEOUT),
    }
    with RedisServer() as server:
        config = StackConfig(redis_url=server.url, log_dir=tmp_path_factory.mktemp("logs"), extra_env=timeouts)
        with Stack(config) as started:
            yield started


@pytest_asyncio.fixture
async def client(stack: Stack) -> AsyncIterator[FirstinClient]:
    firstin = FirstinClient(stack.api_url, stack.notifier_url, stack.config.admin_token)
    yield firstin
    await firstin.aclose()


def _address(stack: Stack, service: str) -> tuple[str, int]:
    url = {"api": stack.api_url, "notifier": stack.notifier_url, "processor": stack.processor.url}[service]
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


async def _answer(
    reader: asyncio.StreamReader, head: bytes | None = None, timeout: float = 10.0
) -> tuple[int | None, bool]:
    """The status of the one response on a connection (None: closed without one), and whether the server
    closed the connection after it. `head`: the response's head, when already read."""
    try:
        head = head or await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except asyncio.IncompleteReadError:
        return None, True
    status = int(head.split()[1])
    try:
        await asyncio.wait_for(reader.read(), timeout)  # the rest, then EOF; a timeout if the server keeps it open
    except ConnectionResetError:
        pass  # closed too: bytes we sent after the server's close were answered with a reset
    return status, True


SERVICES = ["api", "notifier", "processor"]


@pytest.mark.parametrize("service", SERVICES)
async def test_a_head_over_the_limit_gets_431_and_the_connection_closes(stack: Stack, service: str) -> None:
    reader, writer = await asyncio.open_connection(*_address(stack, service))
    writer.write(b"GET /livez HTTP/1.1\r\nHost: firstin\r\nX-Padding: " + b"a" * MAX_HEAD + b"\r\n\r\n")
    assert await _answer(reader) == (431, True)
    writer.close()


@pytest.mark.parametrize("service", SERVICES)
async def test_too_many_headers_get_431_and_as_many_as_allowed_are_served(stack: Stack, service: str) -> None:
    def request(headers: int) -> bytes:
        lines = b"".join(b"X-H%d: 1\r\n" % i for i in range(headers - 1))  # and Host
        return b"GET /livez HTTP/1.1\r\nHost: firstin\r\nConnection: close\r\n" + lines + b"\r\n"

    for count, expected in ((99, 200), (101, 431)):  # Connection is one more
        reader, writer = await asyncio.open_connection(*_address(stack, service))
        writer.write(request(count))
        assert await _answer(reader) == (expected, True), f"{count + 1} headers"
        writer.close()


async def _trickle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, pieces: list[bytes], every: float
) -> tuple[int | None, bool]:
    """Send `head`, then one piece every `every` seconds (the pace is the attack), until the server answers; its
    answer as `_answer` gives it. Nothing is sent once an answer has come: a piece sent after the server answered
    and closed would be met with a reset, which discards the unread answer."""
    writer.write(head)
    for piece in pieces:
        try:
            answer_head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), every)
        except TimeoutError:
            writer.write(piece)
            continue
        return await _answer(reader, answer_head)
    return await _answer(reader)


@pytest.mark.parametrize("service", SERVICES)
async def test_a_head_sent_a_line_at_a_time_is_cut_off_after_the_header_timeout(stack: Stack, service: str) -> None:
    reader, writer = await asyncio.open_connection(*_address(stack, service))
    started = time.monotonic()
    lines = [b"X-Slow-%d: 1\r\n" % i for i in range(40)]
    answer = await _trickle(reader, writer, b"GET /livez HTTP/1.1\r\nHost: firstin\r\n", lines, 0.2)
    assert answer == (408, True)
    assert TIMEOUT <= time.monotonic() - started < TIMEOUT + SLACK
    writer.close()


async def _polling_path(stack: Stack) -> bytes:
    """The path of a long-polling Engine.IO session just opened on the notifier: it takes POSTed packets."""
    async with httpx.AsyncClient(timeout=10) as http:
        opened = await http.get(f"{stack.notifier_url}/socket.io/", params={"EIO": "4", "transport": "polling"})
    sid = json.loads(opened.text[1:])["sid"]  # "0{...}": Engine.IO OPEN
    return f"/socket.io/?EIO=4&transport=polling&sid={sid}".encode()


@pytest.mark.parametrize("service", ["api", "notifier"])
async def test_a_body_that_stops_halfway_is_cut_off_after_the_body_timeout(stack: Stack, service: str) -> None:
    if service == "api":
        path, body = b"/sessions", b'{"email": "slow@example.com"}'
    else:
        path, body = await _polling_path(stack), b"40" * 10
    reader, writer = await asyncio.open_connection(*_address(stack, service))
    started = time.monotonic()
    head = b"POST %s HTTP/1.1\r\nHost: firstin\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (
        path,
        len(body),
    )
    writer.write(head + body[:5])  # and the rest never
    assert await _answer(reader) == (408, True)
    assert TIMEOUT <= time.monotonic() - started < TIMEOUT + SLACK
    writer.close()


@pytest.mark.parametrize("service", SERVICES)
async def test_a_connection_that_says_nothing_is_closed_after_the_keep_alive_timeout(
    stack: Stack, service: str
) -> None:
    for first_request in (b"", b"GET /livez HTTP/1.1\r\nHost: firstin\r\n\r\n"):
        reader, writer = await asyncio.open_connection(*_address(stack, service))
        writer.write(first_request)
        started = time.monotonic()
        everything = await asyncio.wait_for(reader.read(), TIMEOUT + SLACK + 1)  # until the server closes
        assert first_request == b"" or everything.startswith(b"HTTP/1.1 200")
        assert time.monotonic() - started < TIMEOUT + SLACK
        writer.close()


async def test_a_websocket_outlives_every_http_timeout(stack: Stack, client: FirstinClient) -> None:
    sku = unique_sku("ws-timeouts")
    await client.create_product(sku, stock=1)
    email = unique_email()
    token = await client.open_session(email)
    socket = await client.listen_for(token)
    await asyncio.sleep(3 * TIMEOUT)  # time itself is the subject: past every HTTP timeout of this stack
    order = (await client.place_order(email, sku, token=token)).json()
    assert (await socket.wait_for_final(order["order_id"]))["status"] == "accepted"
    await socket.close()


# Ten connections, each sending a 50 MB header at 3 MB/s (as over a fast link; loopback would make it a flood of
# connections instead, a different attack) and starting over when refused. One line out per refusal.
ATTACKER = r"""
import socket, sys, threading, time
host, port, connections = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def attack():
    chunk = b"a" * 65536
    while True:
        s = socket.create_connection((host, port))
        try:
            s.sendall(b"GET /livez HTTP/1.1\r\nHost: firstin\r\nX-Huge: ")
            for _ in range(800):
                s.sendall(chunk)
                time.sleep(0.02)
        except OSError:
            print("refused", flush=True)
        s.close()
for _ in range(connections):
    threading.Thread(target=attack, daemon=True).start()
threading.Event().wait()
"""


async def _latencies(call: Callable[[], Awaitable[None]], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


@pytest.mark.parametrize("service", ["api", "notifier"])
async def test_ten_huge_heads_do_not_slow_other_buyers(stack: Stack, client: FirstinClient, service: str) -> None:
    sku = unique_sku("huge-heads")
    await client.create_product(sku, stock=100_000)

    async def buyer() -> None:
        if service == "api":
            answer = await client.place_order(unique_email(), sku)
            assert answer.status_code == 202
        else:
            handshake = {"EIO": "4", "transport": "polling"}
            answer = await client.http.get(f"{stack.notifier_url}/socket.io/", params=handshake)
            assert answer.status_code == 200

    await _latencies(buyer, 50)  # warm up
    host, port = _address(stack, service)
    attacker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", ATTACKER, host, str(port), "10", stdout=asyncio.subprocess.PIPE
    )
    assert attacker.stdout is not None
    counting = asyncio.create_task(attacker.stdout.read())  # keeps the pipe drained
    quiet: list[float] = []
    attacked: list[float] = []
    try:
        # Windows with and without the attack, in turn, so that a machine getting busier or quieter meanwhile
        # weighs on both alike. The attacker is paused (SIGSTOP) between its windows.
        for _ in range(3):
            attacker.send_signal(signal.SIGSTOP)
            quiet += await _latencies(buyer, 150)
            attacker.send_signal(signal.SIGCONT)
            attacked += await _latencies(buyer, 150)
    finally:
        attacker.kill()
        await attacker.wait()
    refused = len((await counting).split())
    assert refused >= 100, f"the attack ran: {refused} huge heads refused"
    assert _p99(attacked) <= _p99(quiet) + 0.020, (
        f"p99 {_p99(attacked) * 1000:.1f} ms under attack, {_p99(quiet) * 1000:.1f} ms without"
    )
