"""A ZooKeeper-style leader election between three members, for the capture tests
(tests/it/capture_election.rs). Standard library only.

    election.py MY_ID MY_IP PEER_IP... 

Like ZooKeeper, each member binds its quorum ports to its own (pod) IP:
- 3888, election: a member connects to every other one and sends its vote (the client speaks
  first); the other answers with its own. The highest id among a majority wins.
- 2888, quorum: a follower connects to the leader, which speaks first (its greeting), and acks.
  A follower waits GREETING_TIMEOUT for that greeting, as ZooKeeper's initLimit bounds a sync.

Messages are binary, as ZooKeeper's are: an 8-byte protocol version (-65536, ZooKeeper's first
bytes on 3888), a 4-byte kind and an 8-byte server id, big-endian.

Prints `LEADING` or `FOLLOWING <leader id>` and exits 0, or prints why and exits 1 within
DEADLINE seconds.
"""

import socket
import struct
import sys
import threading
import time

ELECTION_PORT = 3888
QUORUM_PORT = 2888
GREETING_TIMEOUT = 2.0
DEADLINE = 12.0
LINGER = 1.0


def listen(ip, port):
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    s = socket.socket(family)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port))
    s.listen()
    return s


VERSION = -65536
VOTE, LEADER, ACK = 1, 2, 3
MESSAGE = struct.Struct(">qiq")


def send(conn, kind, sid):
    conn.sendall(MESSAGE.pack(VERSION, kind, sid))


def receive(conn):
    """The (kind, sid) of the next message; (None, None) if the connection ends first."""
    data = b""
    while len(data) < MESSAGE.size:
        chunk = conn.recv(MESSAGE.size - len(data))
        if not chunk:
            return None, None
        data += chunk
    _, kind, sid = MESSAGE.unpack(data)
    return kind, sid


def serve_votes(server, my_id):
    while True:
        conn, _ = server.accept()
        try:
            conn.settimeout(5)
            receive(conn)
            send(conn, VOTE, my_id)
        except OSError:
            pass
        finally:
            conn.close()


def ask_vote(ip, my_id, until):
    while time.monotonic() < until:
        try:
            with socket.create_connection((ip, ELECTION_PORT), timeout=2) as conn:
                send(conn, VOTE, my_id)
                kind, sid = receive(conn)
                if kind == VOTE:
                    return sid
        except OSError:
            pass
        time.sleep(0.1)
    return None


def main():
    my_id, my_ip, peers = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    until = time.monotonic() + DEADLINE
    votes = listen(my_ip, ELECTION_PORT)
    quorum = listen(my_ip, QUORUM_PORT)
    print("listening", flush=True)
    threading.Thread(target=serve_votes, args=(votes, my_id), daemon=True).start()

    # Ask every peer at once; wait for all of them (they are all starting), or the deadline.
    heard = {}
    askers = [
        threading.Thread(target=lambda ip=ip: heard.update({ip: ask_vote(ip, my_id, until)}))
        for ip in peers
    ]
    for t in askers:
        t.start()
    for t in askers:
        t.join()
    heard = {ip: vote for ip, vote in heard.items() if vote is not None}
    members = len(peers) + 1
    if len(heard) + 1 <= members // 2:
        print(f"no quorum: heard from {sorted(heard)} only", flush=True)
        return 1
    leader_id = max([my_id, *heard.values()])
    code = lead(quorum, my_id, len(heard), until) if leader_id == my_id else follow(
        next(ip for ip, vote in heard.items() if vote == leader_id), leader_id, my_id, until
    )
    # Keep answering votes a little longer, for members that ask late.
    time.sleep(LINGER)
    return code


def lead(quorum, my_id, followers, until):
    acked = 0
    try:
        while acked < followers:
            quorum.settimeout(max(0.1, until - time.monotonic()))
            conn, _ = quorum.accept()
            with conn:
                send(conn, LEADER, my_id)
                conn.settimeout(5)
                if receive(conn)[0] == ACK:
                    acked += 1
                    if acked == 1:
                        # A majority of three: this member and one follower.
                        print("LEADING", flush=True)
    except OSError as e:
        if acked == 0:
            print(f"no quorum as leader: no follower acked ({e})", flush=True)
            return 1
    return 0


def follow(leader_ip, leader_id, my_id, until):
    while time.monotonic() < until:
        try:
            with socket.create_connection((leader_ip, QUORUM_PORT), timeout=2) as conn:
                conn.settimeout(GREETING_TIMEOUT)
                try:
                    greeting = receive(conn)
                except socket.timeout:
                    print(
                        f"the leader {leader_id} sent no greeting on {QUORUM_PORT} within "
                        f"{GREETING_TIMEOUT}s",
                        flush=True,
                    )
                    return 1
                if greeting == (LEADER, leader_id):
                    send(conn, ACK, my_id)
                    print(f"FOLLOWING {leader_id}", flush=True)
                    return 0
        except OSError:
            time.sleep(0.1)
    print(f"could not reach the leader {leader_id} on {QUORUM_PORT}", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
