"""An HTTP/2 server (hyper-h2) that answers gRPC-style, with behaviours on demand.

Usage: h2_server.py MODE [ARGS]

  refuse               refuses each request the first time it sees its body (RST_STREAM
                       REFUSED_STREAM), and answers it the next time
  goaway N             on each connection answers the first N streams; on the next one sends
                       GOAWAY naming the Nth as the last it processes, and closes once they are
                       answered
  lower FIRST THEN MS  announces max_concurrent_streams FIRST, then THEN in a second SETTINGS
                       frame; answers each stream after holding it MS milliseconds

An answer echoes the request body with `grpc-status: 0` in trailers. Prints `listening ADDR`,
then serves until killed.
"""
import asyncio
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings
from h2.errors import ErrorCodes
from h2.settings import SettingCodes

MODE = sys.argv[1]
ARGS = [int(a) for a in sys.argv[2:]]
# Request bodies seen (refuse mode), across connections.
SEEN = set()


class Connection:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        config = h2.config.H2Configuration(client_side=False, validate_inbound_headers=False)
        self.h2 = h2.connection.H2Connection(config=config)
        self.bodies = {}
        self.requests = 0
        self.answering = set()
        self.answered = 0
        self.going_away = False
        self.finish = False
        # GOAWAY sent: what arrives now is read and dropped until the client closes.
        self.closed = False

    def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.writer.write(data)

    async def run(self):
        if MODE == "lower":
            self.h2.local_settings = h2.settings.Settings(
                client=False, initial_values={SettingCodes.MAX_CONCURRENT_STREAMS: ARGS[0]}
            )
        self.h2.initiate_connection()
        if MODE == "lower":
            # In the same write as the first, so the client has both before it sends anything
            # (it may send past the new limit until it has read it; this server would not cope).
            self.h2.update_settings({SettingCodes.MAX_CONCURRENT_STREAMS: ARGS[1]})
        self.flush()
        await self.writer.drain()
        while True:
            try:
                data = await asyncio.wait_for(self.reader.read(65536), 10)
            except asyncio.TimeoutError:
                break
            if not data:
                break
            if self.closed:
                continue
            try:
                events = self.h2.receive_data(data)
            except Exception as e:  # a protocol error: the test will see the connection fail
                print(f"h2_server: {e!r}", file=sys.stderr, flush=True)
                self.flush()
                break
            for event in events:
                self.on(event)
            if self.finish:
                await self.go_away()
            self.flush()
            await self.writer.drain()
        self.writer.close()

    async def go_away(self):
        # GOAWAY, then a half close: reading on until the client closes keeps the kernel from
        # resetting the connection (which could lose the answers and the GOAWAY in flight).
        self.h2.close_connection(last_stream_id=self.answered)
        self.flush()
        await self.writer.drain()
        self.writer.write_eof()
        self.closed = True
        self.finish = False

    def on(self, event):
        if isinstance(event, h2.events.RequestReceived):
            self.requests += 1
            sid = event.stream_id
            self.bodies[sid] = b""
            if MODE == "goaway" and self.requests > ARGS[0]:
                # Not processed: GOAWAY will name the last stream answered, below this one.
                self.going_away = True
                self.finish = not self.answering
                self.bodies.pop(sid)
            else:
                self.answering.add(sid)
        elif isinstance(event, h2.events.DataReceived):
            self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            if event.stream_id in self.bodies:
                self.bodies[event.stream_id] += event.data
        elif isinstance(event, h2.events.StreamEnded):
            sid = event.stream_id
            if sid not in self.bodies:
                return
            if MODE == "refuse" and self.bodies[sid] not in SEEN:
                SEEN.add(self.bodies.pop(sid))
                self.answering.discard(sid)
                self.h2.reset_stream(sid, ErrorCodes.REFUSED_STREAM)
                return
            asyncio.ensure_future(self.answer(sid))

    async def answer(self, sid):
        if MODE == "lower":
            await asyncio.sleep(ARGS[2] / 1000)
        body = self.bodies.pop(sid)
        self.h2.send_headers(sid, [(":status", "200"), ("content-type", "application/grpc")])
        self.h2.send_data(sid, body)
        self.h2.send_headers(sid, [("grpc-status", "0")], end_stream=True)
        self.answering.discard(sid)
        self.answered = max(self.answered, sid)
        if self.going_away and not self.answering and not self.closed:
            await self.go_away()
            return
        self.flush()
        await self.writer.drain()


async def main():
    server = await asyncio.start_server(
        lambda r, w: Connection(r, w).run(), "127.0.0.1", 0
    )
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening {host}:{port}", flush=True)
    await server.serve_forever()


asyncio.run(main())
