#!/usr/bin/env python3
"""The app behind bench/upload-burst.sh: an HTTP/1.1 server that holds uploads until N of them are
in flight at once.

A POST to /upload has its head read; then its handler waits, without reading the body, until N
such uploads are open at the same time, keeps them all waiting LINGER seconds more (so the proxies
in front can be measured with every upload in flight, each stalled mid-body with every buffer on
its way full), and only then reads each body to the end and answers 200 with its byte count. The
burst so cannot finish unless the N uploads were really concurrent. If fewer than N arrive within
HOLD seconds of the first, the ones that came are released anyway, and the line printed when the
last one ends says how many were held at once. Other requests are answered at once; keep-alive as
usual; bodies with Content-Length or chunked.

Usage: upload-app.py N [HOLD [LINGER]]   (defaults 30 and 0 seconds) prints
       `listening http 127.0.0.1:PORT`, then per burst `burst: N uploads in flight at once` when
       the Nth arrives and `burst: held K uploads at once, released after S s; BYTES bytes
       received` when the last one ends.
"""
import asyncio
import sys
import time

N = int(sys.argv[1])
HOLD = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
LINGER = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0


class Burst:
    def __init__(self):
        self.open = 0
        self.held = 0
        self.bytes = 0
        self.first = None
        self.released = asyncio.Event()

    async def hold(self):
        if self.first is None:
            self.first = time.monotonic()
        self.open += 1
        self.held = max(self.held, self.open)
        if self.open == N:
            print(f"burst: {N} uploads in flight at once", flush=True)
            asyncio.get_running_loop().call_later(LINGER, self.released.set)
        left = self.first + HOLD - time.monotonic()
        try:
            await asyncio.wait_for(self.released.wait(), max(left, 0))
        except asyncio.TimeoutError:
            self.released.set()

    def done(self, received):
        self.open -= 1
        self.bytes += received
        if self.open == 0:
            after = time.monotonic() - self.first
            print(f"burst: held {self.held} uploads at once, released after {after:.2f} s; "
                  f"{self.bytes} bytes received", flush=True)
            self.__init__()


burst = None


async def read_body(reader, headers):
    """Reads and discards the body; returns its length."""
    if "chunked" in headers.get("transfer-encoding", ""):
        total = 0
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                return total
            await discard(reader, size)
            await reader.readexactly(2)
            total += size
    length = int(headers.get("content-length", "0"))
    await discard(reader, length)
    return length


async def discard(reader, n):
    while n > 0:
        n -= len(await reader.readexactly(min(n, 65536)))


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method = lines[0].split(" ", 1)[0]
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip().lower()
            held = method == "POST" and lines[0].split(" ")[1].startswith("/upload")
            if held:
                await burst.hold()
            received = await read_body(reader, headers)
            if held:
                burst.done(received)
            text = f"{received}\n".encode()
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"
                         b"content-length: %d\r\n\r\n%s" % (len(text), text))
            await writer.drain()
            if headers.get("connection") == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    global burst
    burst = Burst()
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"listening http 127.0.0.1:{port}", flush=True)
    await server.serve_forever()


asyncio.run(main())
