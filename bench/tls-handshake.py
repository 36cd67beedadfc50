#!/usr/bin/env python3
"""What a new mutual TLS connection to a mesh inbound costs, against a new plaintext one.

Opens N fresh connections to the inbound one after another, each sending one HTTP/1.1 request
(`Connection: close`) and reading the whole response: first over mutual TLS as a meshed caller
does it (the mesh's ALPN, the server's identity as SNI and checked in its certificate, a client
certificate), then over plaintext. Prints one line for bench/proxy.sh:

    handshake RUN inbound tls_ms=.. plain_ms=.. tls_cpu_ms=.. plain_cpu_ms=..

`*_ms` is the caller's wall time per connection (handshake, request and response), `*_cpu_ms`
the server proxy's CPU time (user + system, from /proc/PID/stat) per connection; their
differences are the handshake's cost. Python's ssl module is the client, so the wall time
includes OpenSSL's client side; the CPU figure is the proxy's alone.
"""
import argparse, os, socket, ssl, time

MESH_ALPN = "mesh.io/proxy"


def cpu_ms(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def one(addr, host, wrap):
    sock = socket.create_connection(addr, timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if wrap:
        sock = wrap(sock)
    sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    if not data.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"tls-handshake.py: not a 200: {data[:200]!r}")


def measure(addr, host, pid, n, wrap):
    for _ in range(20):  # warm up
        one(addr, host, wrap)
    cpu, start = cpu_ms(pid), time.perf_counter()
    for _ in range(n):
        one(addr, host, wrap)
    wall = (time.perf_counter() - start) * 1000 / n
    return wall, (cpu_ms(pid) - cpu) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="1")
    ap.add_argument("--inbound", required=True, help="HOST:PORT of the mTLS inbound")
    ap.add_argument("--pid", required=True, type=int, help="the server proxy's pid")
    ap.add_argument("--identity", required=True, help="the caller's identity dir (tls.crt, tls.key, ca.crt)")
    ap.add_argument("--server-id", required=True, help="the identity the server must prove")
    ap.add_argument("--host", required=True, help="the Host header")
    ap.add_argument("-n", type=int, default=2000, help="connections per measurement")
    a = ap.parse_args()
    host, port = a.inbound.rsplit(":", 1)
    addr = (host, int(port))
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=os.path.join(a.identity, "ca.crt"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(os.path.join(a.identity, "tls.crt"), os.path.join(a.identity, "tls.key"))
    ctx.set_alpn_protocols([MESH_ALPN])
    def wrap(sock):
        s = ctx.wrap_socket(sock, server_hostname=a.server_id)
        if s.selected_alpn_protocol() != MESH_ALPN:
            raise SystemExit("tls-handshake.py: the inbound did not terminate the mesh's TLS")
        return s
    tls_ms, tls_cpu = measure(addr, a.host, a.pid, a.n, wrap)
    plain_ms, plain_cpu = measure(addr, a.host, a.pid, a.n, None)
    print(f"handshake {a.run} inbound tls_ms={tls_ms:.3f} plain_ms={plain_ms:.3f} "
          f"tls_cpu_ms={tls_cpu:.3f} plain_cpu_ms={plain_cpu:.3f}")


if __name__ == "__main__":
    main()
