"""The notifier against clients that misbehave: oversized long-polling bodies, malformed packets, tokens in URLs."""

import asyncio
import json

import httpx
import socketio

from firstin_stack import FirstinClient, unique_email

from .conftest import StackFactory


async def _polling_sid(http: httpx.AsyncClient, url: str) -> str:
    opened = await http.get(f"{url}/socket.io/", params={"EIO": "4", "transport": "polling"})
    assert opened.status_code == 200, opened.text
    return str(json.loads(opened.text[1:])["sid"])  # "0{...}": Engine.IO OPEN


async def _post_status(url: str, target: str, *, declared: int | None, send: int) -> tuple[int, bytes]:
    """POST on a raw connection: the head declares `declared` bytes (None: chunked), then `send` bytes follow and the
    client waits for the answer; its status and head. (A client that went on sending after the server answered and
    closed would see its connection reset, which says nothing about the server's answer.)"""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        length = "Transfer-Encoding: chunked" if declared is None else f"Content-Length: {declared}"
        writer.write(f"POST {target} HTTP/1.1\r\nHost: {host}\r\n{length}\r\n\r\n".encode())
        for _ in range(send // 1000):
            writer.write(b"3e8\r\n" + b"4" * 1000 + b"\r\n" if declared is None else b"4" * 1000)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        return int(head.split()[1]), head
    finally:
        writer.close()


async def test_an_oversized_polling_post_gets_413_and_the_connection_closes(firstin: FirstinClient) -> None:
    url = firstin.notifier_url
    async with httpx.AsyncClient(timeout=10) as http:
        sid = await _polling_sid(http, url)
        target = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
        # answered from the declared length, without reading the body
        status, head = await _post_status(url, target, declared=1_100_000, send=0)
        assert status == 413 and b"connection: close" in head.lower()
        # chunked: answered as soon as the limit (16 KiB) is passed, the last chunk sent passing it
        status, head = await _post_status(url, target, declared=None, send=17_000)
        assert status == 413 and b"connection: close" in head.lower()
        assert (await http.get(f"{url}/readyz")).status_code == 200


async def test_malformed_packets_are_one_warning_line_and_tokens_never_reach_the_log(
    private_stack: StackFactory, client_of
) -> None:
    _server, stack = private_stack(FIRSTIN_LOG_LEVEL="DEBUG")  # DEBUG: uvicorn logs every websocket URL
    client = client_of(stack)
    token = await client.open_session(unique_email())
    url = stack.notifier_url
    async with httpx.AsyncClient(timeout=10) as http:
        sid = await _polling_sid(http, url)
        params = {"EIO": "4", "transport": "polling", "sid": sid}
        garbage = await http.post(f"{url}/socket.io/", params=params, content=b"4\xff\xfe not a packet {[")
        assert garbage.status_code < 500
    # A token sent in the URL as well, as some clients do, besides the auth payload.
    in_url = socketio.AsyncClient(reconnection=False)
    await in_url.connect(f"{url}?token={token}", auth={"token": token}, transports=["websocket"])
    await in_url.disconnect()

    log = stack.notifier.tail_log(1_000_000)
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert token not in log and token.split(".")[2] not in log, "no token, not even its signature, in the log"
    assert "Traceback" not in log
    client_errors = [entry for entry in lines if entry["logger"] in ("engineio.server", "socketio.server")]
    assert client_errors and all(entry["level"] == "WARNING" for entry in client_errors), client_errors
