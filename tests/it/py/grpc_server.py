"""A gRPC server on gRPC's C core (grpcio), for the proxy's gRPC tests (tests/it/grpc_*.rs).

Binds 127.0.0.1:0, prints `listening ADDR` and serves raw bytes (no protobuf) on:

- /mesh.Test/Echo     unary: answers the request bytes.
- /mesh.Test/Hold     unary: never answers; returns once the caller cancels. Counts arrivals.
- /mesh.Test/Held     unary: how many Hold calls have arrived so far (decimal text).
- /mesh.Test/Stream   server streaming: sends `first`, then waits the number of seconds the
                      request holds (decimal text; forever when empty), then sends `second`.

Flags set the server's HTTP/2 ping policy (C core's defaults otherwise: one ping per 5 minutes
on a connection that sends no data, and a GOAWAY `too_many_pings` after 2 strikes):
  --min-ping-interval-ms MS   grpc.http2.min_ping_interval_without_data_ms
  --max-ping-strikes N        grpc.http2.max_ping_strikes
"""

import argparse
import threading
from concurrent import futures

import grpc

held = 0
held_lock = threading.Lock()


def echo(request, context):
    return request


def hold(request, context):
    global held
    done = threading.Event()
    context.add_callback(done.set)
    with held_lock:
        held += 1
    done.wait()
    return b""


def held_count(request, context):
    with held_lock:
        return str(held).encode()


def stream(request, context):
    done = threading.Event()
    context.add_callback(done.set)
    yield b"first"
    text = request.decode()
    if done.wait(float(text) if text else None):
        return
    yield b"second"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--min-ping-interval-ms", type=int)
    parser.add_argument("--max-ping-strikes", type=int)
    args = parser.parse_args()
    options = []
    if args.min_ping_interval_ms is not None:
        options.append(
            ("grpc.http2.min_ping_interval_without_data_ms", args.min_ping_interval_ms)
        )
    if args.max_ping_strikes is not None:
        options.append(("grpc.http2.max_ping_strikes", args.max_ping_strikes))

    handlers = grpc.method_handlers_generic_handler(
        "mesh.Test",
        {
            "Echo": grpc.unary_unary_rpc_method_handler(echo),
            "Hold": grpc.unary_unary_rpc_method_handler(hold),
            "Held": grpc.unary_unary_rpc_method_handler(held_count),
            "Stream": grpc.unary_stream_rpc_method_handler(stream),
        },
    )
    # Enough threads for every call a test holds at once.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=200), options=options)
    server.add_generic_rpc_handlers((handlers,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"listening 127.0.0.1:{port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
