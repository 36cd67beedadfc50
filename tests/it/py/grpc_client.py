"""A gRPC client on gRPC's C core (grpcio), for the proxy's gRPC tests (tests/it/grpc_*.rs).

    grpc_client.py TARGET [--authority A] COMMAND ...

calls grpc_server.py's methods at TARGET (directly, or through an outbound proxy with --authority
naming the service) and prints one JSON line with what the client saw: the status `code` (the
name, `OK`, `UNAVAILABLE`, ...), `details` (grpc-message), the `messages` received and the
`trailing` metadata. Commands:

  unary METHOD [--timeout S] [--metadata-bytes N]   one unary call (N bytes of extra metadata)
  stream [--wait S] [--kill-pid PID | --cancel]     a server-streaming call (the server waits
         [--timeout S]                              S seconds between its two messages); after
                                                    the first message, kills PID (the server) or
                                                    cancels the call, if asked
  cancel --count N --held ADDR [--timeout S]        N Hold calls; once the server at ADDR has
                                                    seen all N, cancels them (without --timeout)
                                                    or lets their deadline pass (with it)
"""

import argparse
import json
import os
import signal
import sys
import time

import grpc


def channel(target, authority):
    options = [("grpc.enable_http_proxy", 0), ("grpc.enable_retries", 0)]
    if authority:
        options.append(("grpc.default_authority", authority))
    return grpc.insecure_channel(target, options=options)


def outcome(error, messages=0, trailing=None):
    result = {"code": "OK", "details": "", "messages": messages, "trailing": {}}
    if error is not None:
        result["code"] = error.code().name
        result["details"] = error.details() or ""
        trailing = error.trailing_metadata()
    for key, value in trailing or ():
        if isinstance(value, str):
            result["trailing"][key] = value
    return result


def unary(ch, args):
    call = ch.unary_unary(f"/mesh.Test/{args.method}")
    metadata = []
    if args.metadata_bytes:
        metadata.append(("x-large", "x" * args.metadata_bytes))
    try:
        _, c = call.with_call(b"hello", timeout=args.timeout, metadata=metadata)
        return outcome(None, 1, c.trailing_metadata())
    except grpc.RpcError as e:
        return outcome(e)


def stream(ch, args):
    call = ch.unary_stream("/mesh.Test/Stream")
    responses = call(args.wait.encode(), timeout=args.timeout)
    received = 0
    try:
        for _ in responses:
            received += 1
            if received == 1 and args.kill_pid:
                os.kill(args.kill_pid, signal.SIGKILL)
            if received == 1 and args.cancel:
                responses.cancel()
        return outcome(None, received, responses.trailing_metadata())
    except grpc.RpcError as e:
        return outcome(e, received)


def held(addr):
    with channel(addr, None) as ch:
        return int(ch.unary_unary("/mesh.Test/Held")(b"", timeout=5))


def cancel(ch, args):
    before = held(args.held)
    hold = ch.unary_unary("/mesh.Test/Hold")
    calls = [hold.future(b"", timeout=args.timeout) for _ in range(args.count)]
    deadline = time.monotonic() + 10
    while held(args.held) - before < args.count:
        if time.monotonic() > deadline:
            return {"error": "the server did not see every call within 10s"}
        time.sleep(0.01)
    if args.timeout is None:
        for c in calls:
            c.cancel()
    codes = {}
    for c in calls:
        try:
            c.result()
            code = "OK"
        except grpc.FutureCancelledError:
            code = "CANCELLED"
        except grpc.RpcError as e:
            code = e.code().name
        codes[code] = codes.get(code, 0) + 1
    return {"codes": codes}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("target")
    parser.add_argument("--authority")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("unary")
    p.add_argument("method")
    p.add_argument("--timeout", type=float)
    p.add_argument("--metadata-bytes", type=int, default=0)
    p = commands.add_parser("stream")
    p.add_argument("--wait", default="")
    p.add_argument("--kill-pid", type=int)
    p.add_argument("--cancel", action="store_true")
    p.add_argument("--timeout", type=float)
    p = commands.add_parser("cancel")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--held", required=True)
    p.add_argument("--timeout", type=float)
    args = parser.parse_args()
    run = {"unary": unary, "stream": stream, "cancel": cancel}[args.command]
    with channel(args.target, args.authority) as ch:
        print(json.dumps(run(ch, args)), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
