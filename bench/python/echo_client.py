"""Blocking echo client: CONNS connections, ROUNDS rounds of one 64-byte
message on each, every reply read in full. Prints round trips."""

from __future__ import annotations

import socket
import sys

port, conns, rounds = (int(a) for a in sys.argv[1:4])
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
msg = b"x" * 64
for _ in range(rounds):
    for s in socks:
        s.sendall(msg)
    for s in socks:
        got = 0
        while got < len(msg):
            got += len(s.recv(len(msg) - got))
for s in socks:
    s.close()
print(conns * rounds)
