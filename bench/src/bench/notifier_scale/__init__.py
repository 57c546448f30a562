"""The notifier's own numbers: sockets held by one process, decision-to-socket latency, and buyers leaving.

    python -m bench.notifier_scale                  # a private redis-server + one notifier, both tests
    python -m bench.notifier_scale --tests fanout --fanout-sockets 10000
    python -m bench.notifier_scale --notifier-url http://127.0.0.1:8001 --redis-url redis://127.0.0.1:6379/0

Test "fanout": N sockets (10,000), each in its own buyer session, connected with the websocket transport; one
decision per session is published on the outcomes channel (OrdersDecided, exactly as decide.lua publishes it,
in batches of --batch decisions, as fast as possible). Each socket must get exactly one `order` event; the
figure is publication -> receipt per socket (target p99 <= 1 s).

Test "latency": M sockets (1,000); decisions are published at a steady --rate (1,000/s) for --duration seconds,
to the sockets in turn; the figure is publication -> receipt per decision (target p99 < 20 ms).

Publication time is the wall clock just before PUBLISH (recorded per message; decided_at is set to it in ms);
receipt time is the wall clock when the client process reads the frame. Clients and notifier share the
machine, so client-side delays are in the figures. The clients are not python-socketio: each client process
(--workers of them, uvloop) holds its sockets as bench/sio.py's bare asyncio protocols speaking Engine.IO v4 /
Socket.IO v5 over a hand-rolled websocket, with no task per socket:

    client: GET /socket.io/?EIO=4&transport=websocket (Upgrade: websocket)
    server: 0{"sid":..}        client: 40{"token":".."}        server: 40{"sid":..}  (or 44{"message":..})
    server: 2                  client: 3                       (Engine.IO ping / pong)
    server: 42["order",{..}]                                   (an event)

Test "leave": N sockets (10,000); decisions flow at --rate to the first half while the other half leaves at once
(every socket closed together, as when a sale ends and its buyers close their tabs); the figure is publication ->
receipt of the decisions published until the notifier has forgotten the sockets that left (target p99 <= 100 ms).

Also measured: the connect ramp (rate, connect time, notifier CPU and RSS), and at the end a mass disconnect (every
socket closed at once, as after a network blip or a proxy restart): how long until the notifier has forgotten
them all, and how long it answers nothing meanwhile. --deflate makes the clients offer permessage-deflate as
browsers do (uvicorn accepts it: more CPU and memory per socket). Every test also reports the notifier's CPU
(total, peak) and the whole machine's, since other work on a shared box skews everything (--wait-quiet).

--profile samples the notifier with py-spy during each phase (install it: `.tools/bin/uv pip install --python
.venv/bin/python py-spy`; raw stacks in bench/results/). Results are printed and written to
bench/results/notifier_scale-*.json.

Modules: clients.py (the client processes), measure.py (CPU, memory, /metrics, slow episodes), scenario.py (the
tests), report.py (the table), cli.py (options and the run).
"""

from bench.notifier_scale.cli import main

__all__ = ["main"]
