"""Forged TCP segments: resets to both ends, and an HTTP redirect to the block page.

copgate sees only the client's segments. From one it knows what both ends
expect next: the server's RCV.NXT is the segment's own sequence number (the
segment is dropped, so the server never sees it) and the client's RCV.NXT is
the segment's acknowledgment number. A reset carrying exactly those numbers
is accepted at once (RFC 5961 §3.2: an in-window reset whose sequence number
is not exactly RCV.NXT only draws a challenge ACK), so the browser fails
immediately instead of hanging. Builds bytes only.
"""

from __future__ import annotations

from copgate.forge.packets import tcp_segment
from copgate.wire.packet import TCP_ACK, TCP_FIN, TCP_RST, Packet

TCP_PSH = 0x08


def resets_for(packet: Packet) -> tuple[bytes, bytes]:
    """RSTs to the server (as the client) and to the client (as the server)."""
    client = (packet.src, packet.sport)
    server = (packet.dst, packet.dport)
    to_server = tcp_segment(client, server, packet.seq, 0, TCP_RST)
    after = packet.seq + len(packet.payload)
    to_client = tcp_segment(server, client, packet.ack, after, TCP_RST | TCP_ACK)
    return to_server, to_client


def reply_and_close(packet: Packet, payload: bytes) -> tuple[bytes, bytes]:
    """``payload`` to the client as the server, with FIN; and a RST to the server."""
    client = (packet.src, packet.sport)
    server = (packet.dst, packet.dport)
    after = packet.seq + len(packet.payload)
    flags = TCP_PSH | TCP_ACK | TCP_FIN
    to_client = tcp_segment(server, client, packet.ack, after, flags, payload)
    to_server = tcp_segment(client, server, packet.seq, 0, TCP_RST)
    return to_client, to_server


def http_redirect(location: str) -> bytes:
    """A minimal HTTP/1.1 302 to the block page that closes the connection."""
    body = f'<a href="{_attr(location)}">This site is blocked.</a>\n'.encode()
    head = (
        "HTTP/1.1 302 Found\r\n"
        f"Location: {location}\r\n"
        "Cache-Control: no-store\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii", "replace") + body


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
