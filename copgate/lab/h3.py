"""The lab's HTTP/3 server and client, over aioquic (QUIC v1 and v2).

Debian's nginx 1.22 has no HTTP/3, and Debian's curl none either, so the lab
serves and fetches HTTP/3 with aioquic. Run as a module inside a namespace:

    python -m copgate.lab.h3 serve --cert C --key K --host A [--host B ...]
    python -m copgate.lab.h3 get --address A --name N --cafile CA [--version 2]

``serve`` answers every request with a short page naming the host, the QUIC
version and the client's address (as nginx does on TCP). ``get`` prints one
JSON object: status, body, QUIC version, or the error. This module is a lab
tool: the daemon never imports it, and it never runs outside the lab.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any, cast

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, ProtocolNegotiated, QuicEvent
from aioquic.quic.packet import QuicProtocolVersion

VERSIONS = {1: QuicProtocolVersion.VERSION_1, 2: QuicProtocolVersion.VERSION_2}
"""QUIC v1 (RFC 9000) and v2 (RFC 9369), by the number a test names."""
HTTPS_PORT = 443


def _header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> str:
    for key, value in headers:
        if key == name:
            return value.decode(errors="replace")
    return ""


class _Responder(QuicConnectionProtocol):
    """Answers each request stream with a page naming host, version and client."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http: H3Connection | None = None

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self._http = H3Connection(self._quic)
        if self._http is None:
            return
        for h3_event in self._http.handle_event(event):
            if isinstance(h3_event, HeadersReceived):
                self._respond(self._http, h3_event)

    def _respond(self, http: H3Connection, request: HeadersReceived) -> None:
        host = _header(request.headers, b":authority")
        client = self._quic._network_paths[0].addr[0]
        version = f"0x{self._quic._version:x}"
        body = (
            f"<!doctype html><title>lab {host}</title>\n"
            f"host={host} scheme=https protocol=HTTP/3 quic_version={version} client={client}\n"
        ).encode()
        http.send_headers(
            request.stream_id,
            [
                (b":status", b"200"),
                (b"content-type", b"text/html"),
                (b"content-length", str(len(body)).encode()),
            ],
        )
        http.send_data(request.stream_id, body, end_stream=True)
        self.transmit()


class _Fetcher(QuicConnectionProtocol):
    """Sends one GET and collects its answer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http = H3Connection(self._quic)
        self._events: list[H3Event] = []
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def get(self, authority: str, path: str) -> tuple[int, bytes]:
        stream_id = self._quic.get_next_available_stream_id()
        self._http.send_headers(
            stream_id,
            [
                (b":method", b"GET"),
                (b":scheme", b"https"),
                (b":authority", authority.encode()),
                (b":path", path.encode()),
                (b"user-agent", b"copgate-lab-h3"),
            ],
            end_stream=True,
        )
        self.transmit()
        await self._done
        status, body = 0, b""
        for event in self._events:
            if isinstance(event, HeadersReceived):
                status = int(_header(event.headers, b":status") or 0)
            elif isinstance(event, DataReceived):
                body += event.data
        return status, body

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ConnectionTerminated) and not self._done.done():
            self._done.set_exception(ConnectionError(f"terminated: {event.reason_phrase}"))
            return
        for h3_event in self._http.handle_event(event):
            self._events.append(h3_event)
            ended = isinstance(h3_event, DataReceived | HeadersReceived) and h3_event.stream_ended
            if ended and not self._done.done():
                self._done.set_result(None)


async def _serve(args: argparse.Namespace) -> None:
    configuration = QuicConfiguration(
        is_client=False,
        alpn_protocols=H3_ALPN,
        supported_versions=[VERSIONS[1], VERSIONS[2]],
    )
    configuration.load_cert_chain(args.cert, args.key)
    # One socket per address: a UDP socket bound to a wildcard answers from
    # whatever address the route prefers, and the client drops the answer.
    for host in args.host:
        await serve(host, args.port, configuration=configuration, create_protocol=_Responder)
    print(f"serving HTTP/3 on port {args.port} of {' '.join(args.host)}", flush=True)
    await asyncio.Event().wait()


async def _get(args: argparse.Namespace) -> dict[str, Any]:
    configuration = QuicConfiguration(
        is_client=True,
        alpn_protocols=H3_ALPN,
        server_name=args.name,
        supported_versions=[VERSIONS[args.version]],
    )
    configuration.load_verify_locations(cafile=args.cafile)
    result: dict[str, Any] = {"status": None, "body": "", "version": None, "error": None}
    try:
        async with asyncio.timeout(args.timeout):
            async with connect(
                args.address, args.port, configuration=configuration, create_protocol=_Fetcher
            ) as client:
                fetcher = cast(_Fetcher, client)  # create_protocol above
                status, body = await fetcher.get(args.name, args.path)
                result.update(status=status, body=body.decode(errors="replace"))
                result["version"] = fetcher._quic._version
    except (TimeoutError, ConnectionError, OSError) as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m copgate.lab.h3", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="answer HTTP/3 on UDP")
    serve_cmd.add_argument("--cert", required=True)
    serve_cmd.add_argument("--key", required=True)
    serve_cmd.add_argument("--host", action="append", required=True, help="address to serve")
    serve_cmd.add_argument("--port", type=int, default=HTTPS_PORT)
    get_cmd = commands.add_parser("get", help="one HTTP/3 GET, printed as JSON")
    get_cmd.add_argument("--address", required=True, help="server address to send to")
    get_cmd.add_argument("--name", required=True, help="SNI and :authority")
    get_cmd.add_argument("--cafile", required=True)
    get_cmd.add_argument("--port", type=int, default=HTTPS_PORT)
    get_cmd.add_argument("--path", default="/")
    get_cmd.add_argument("--version", type=int, choices=sorted(VERSIONS), default=1)
    get_cmd.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.command == "serve":
        asyncio.run(_serve(args))
        return 0
    result = asyncio.run(_get(args))
    print(json.dumps(result))
    return 0 if result["error"] is None else 1


if __name__ == "__main__":
    sys.exit(main())
