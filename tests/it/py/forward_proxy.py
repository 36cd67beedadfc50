"""A small HTTP forward proxy (an egress proxy, as squid would be) for the capture tests.

Absolute-form requests are fetched from the target and CONNECT is tunnelled; every host name
is this namespace's loopback (a stand-in for DNS, which the test namespaces have none of). A
request carrying `proxy-authorization: no` is refused with 407. Each request line it receives is
written to stderr, so a test can see what arrived. Usage: forward_proxy.py ADDR PORT
"""
import socket
import sys
import threading


def relay(a, b):
    def pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    t = threading.Thread(target=pump, args=(b, a), daemon=True)
    t.start()
    pump(a, b)
    t.join()


def handle(conn):
    reader = conn.makefile("rb")
    line = reader.readline().decode("latin-1")
    headers = []
    while True:
        h = reader.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        headers.append(h.decode("latin-1").strip())
    sys.stderr.write(line)
    sys.stderr.flush()
    try:
        method, target, _ = line.split(" ", 2)
    except ValueError:
        conn.close()
        return
    if any(h.lower() == "proxy-authorization: no" for h in headers):
        body = b"the egress proxy says no"
        conn.sendall(
            b"HTTP/1.1 407 Proxy Authentication Required\r\n"
            b'proxy-authenticate: Basic realm="egress"\r\n'
            b"content-length: %d\r\n\r\n" % len(body) + body
        )
        conn.close()
        return
    if method == "CONNECT":
        port = int(target.rsplit(":", 1)[1])
        upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\nvia: test-egress\r\n\r\n")
        relay(conn, upstream)
    elif target.startswith("http://"):
        hostport, _, path = target[len("http://"):].partition("/")
        port = int(hostport.rsplit(":", 1)[1]) if ":" in hostport else 80
        upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
        upstream.sendall(f"{method} /{path} HTTP/1.0\r\nhost: {hostport}\r\n\r\n".encode())
        while True:
            data = upstream.recv(65536)
            if not data:
                break
            conn.sendall(data)
        upstream.close()
    else:
        body = b"not a proxy request: " + target.encode()
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
    conn.close()


def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    server = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((addr, port))
    server.listen()
    print("listening", flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
