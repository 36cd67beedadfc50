"""A real gRPC server (grpcio, gRPC's C core) with a low stream limit.

Usage: grpc_limited.py MAX_CONCURRENT_STREAMS DELAY_MS

Serves any unary method: echoes the request bytes after DELAY_MS. Prints `listening ADDR`, then
serves until killed.
"""
import sys
import time
from concurrent import futures

import grpc

max_streams, delay_ms = int(sys.argv[1]), int(sys.argv[2])


def echo(request, context):
    time.sleep(delay_ms / 1000)
    return request


class Any(grpc.GenericRpcHandler):
    def service(self, handler_call_details):
        return grpc.unary_unary_rpc_method_handler(echo)


server = grpc.server(
    futures.ThreadPoolExecutor(max_workers=200),
    options=[("grpc.max_concurrent_streams", max_streams)],
)
server.add_generic_rpc_handlers((Any(),))
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(f"listening 127.0.0.1:{port}", flush=True)
server.wait_for_termination()
