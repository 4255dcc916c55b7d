"""A TCP and UDP echo server and its probe, run inside lab namespaces.

The lab's own servers speak DNS, HTTP, TLS and QUIC only; the daemon's tests
also need traffic copgate cannot read (SSH-like TCP, UDP on 853 or any other
port) to show what the kernel refuses and for whom. ``serve`` echoes on the
given ports of the given addresses and prints ``echo ready`` once bound;
``probe`` sends one line and prints one JSON object: ``{"ok": true}`` when the
line came back, else ``{"ok": false, "error": "refused" | "timeout" | ...}``.
A refusal by the gateway (TCP reset, ICMP unreachable) reads "refused"; a
server that answers reads ok, so a refused probe beside an ok one from
another client proves the gateway refused it. Standard library only.

    python -m tests.lab.echo_peer serve --host 198.51.100.80 --tcp 2222 --udp 853
    python -m tests.lab.echo_peer probe --host 198.51.100.80 --port 853 --udp
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import sys
from collections.abc import Sequence

READY = "echo ready"
MAX_DATAGRAM = 2048
LINE = b"copgate lab echo\n"


def serve(hosts: Sequence[str], tcp_ports: Sequence[int], udp_ports: Sequence[int]) -> None:
    """Echo forever on every (host, port); one selector loop, one line per TCP connection."""
    selector = selectors.DefaultSelector()
    for host in hosts:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        for port in tcp_ports:
            listener = socket.socket(family, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(16)
            selector.register(listener, selectors.EVENT_READ, "accept")
        for port in udp_ports:
            datagram = socket.socket(family, socket.SOCK_DGRAM)
            datagram.bind((host, port))
            selector.register(datagram, selectors.EVENT_READ, "udp")
    print(READY, flush=True)
    while True:
        for key, _events in selector.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if key.data == "udp":
                data, peer = sock.recvfrom(MAX_DATAGRAM)
                sock.sendto(data, peer)
            elif key.data == "accept":
                conn, _peer = sock.accept()
                conn.setblocking(False)
                selector.register(conn, selectors.EVENT_READ, "tcp")
            else:
                try:
                    data = sock.recv(MAX_DATAGRAM)
                except OSError:
                    data = b""
                if data:
                    sock.sendall(data)
                selector.unregister(sock)
                sock.close()


def probe(host: str, port: int, udp: bool, timeout: float) -> dict[str, object]:
    """Send one line to ``host:port`` and wait for it to come back."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    with socket.socket(family, kind) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((host, port))
            sock.send(LINE)
            # A connected UDP socket reports an ICMP unreachable on the next call.
            back = sock.recv(MAX_DATAGRAM)
        except (ConnectionRefusedError, ConnectionResetError):
            return {"ok": False, "error": "refused"}
        except TimeoutError:
            return {"ok": False, "error": "timeout"}
        except OSError as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    if back != LINE:
        return {"ok": False, "error": f"echoed {back!r}"}
    return {"ok": True}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.lab.echo_peer")
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("serve")
    server.add_argument("--host", action="append", required=True)
    server.add_argument("--tcp", type=int, action="append", default=[])
    server.add_argument("--udp", type=int, action="append", default=[])
    client = commands.add_parser("probe")
    client.add_argument("--host", required=True)
    client.add_argument("--port", type=int, required=True)
    client.add_argument("--udp", action="store_true")
    client.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.host, args.tcp, args.udp)
        return 0
    print(json.dumps(probe(args.host, args.port, args.udp, args.timeout)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
