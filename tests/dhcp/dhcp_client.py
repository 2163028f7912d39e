"""A minimal DHCP client for tests: DISCOVER, then REQUEST what was offered.

Run inside a client network namespace (``ip netns exec``). It sends from
UDP port 68 on one interface with a chosen hardware address (chaddr),
optionally as iPXE (option 77 user class "iPXE") and with a client
architecture (option 93), and prints one JSON line: the offered address and
boot file (the BOOTP ``file`` field and option 67) of the OFFER and the ACK,
or ``{"offer": null}`` when no server answers in time.

    python -m tests.dhcp.dhcp_client --interface veth-c --mac 52:54:00:12:34:56 --ipxe
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import time
from typing import Any

MAGIC = b"\x63\x82\x53\x63"
DISCOVER, OFFER, REQUEST, ACK = 1, 2, 3, 5


def _packet(xid: int, mac: bytes, message: int, options: list[tuple[int, bytes]]) -> bytes:
    header = struct.pack(
        "!BBBBIHHIIII16s64s128s",
        1,  # BOOTREQUEST
        1,  # Ethernet
        6,
        0,
        xid,
        0,
        0x8000,  # broadcast the reply: we have no address yet
        0,
        0,
        0,
        0,
        mac.ljust(16, b"\0"),
        b"",
        b"",
    )
    body = bytes([53, 1, message])
    for code, value in options:
        body += bytes([code, len(value)]) + value
    return header + MAGIC + body + b"\xff"


def _parse(data: bytes) -> dict[str, Any]:
    yiaddr = socket.inet_ntoa(data[16:20])
    file_field = data[108:236].split(b"\0", 1)[0].decode()
    options: dict[int, bytes] = {}
    i = 240
    while i < len(data) and data[i] != 255:
        if data[i] == 0:
            i += 1
            continue
        code, length = data[i], data[i + 1]
        options[code] = data[i + 2 : i + 2 + length]
        i += 2 + length
    return {
        "xid": struct.unpack("!I", data[4:8])[0],
        "type": options.get(53, b"\0")[0],
        "yiaddr": yiaddr,
        "file": file_field,
        "option67": options[67].split(b"\0", 1)[0].decode() if 67 in options else None,
        "server": socket.inet_ntoa(options[54]) if 54 in options else None,
    }


def _receive(sock: socket.socket, xid: int, wanted: int, deadline: float) -> dict[str, Any] | None:
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(2048)
        except TimeoutError:
            return None
        if len(data) < 240 or data[236:240] != MAGIC:
            continue
        reply = _parse(data)
        if reply["xid"] == xid and reply["type"] == wanted:
            return reply
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interface", required=True)
    parser.add_argument("--mac", required=True)
    parser.add_argument("--ipxe", action="store_true", help="send user class iPXE (option 77)")
    parser.add_argument("--arch", type=int, default=0, help="client architecture (option 93)")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()
    mac = bytes.fromhex(args.mac.replace(":", ""))
    xid = int.from_bytes(os.urandom(4), "big")
    common = [(93, struct.pack("!H", args.arch)), (55, bytes([1, 3, 6, 66, 67, 175]))]
    if args.ipxe:
        common.append((77, b"iPXE"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, args.interface.encode())
    sock.bind(("0.0.0.0", 68))
    deadline = time.monotonic() + args.timeout
    sock.sendto(_packet(xid, mac, DISCOVER, common), ("255.255.255.255", 67))
    offer = _receive(sock, xid, OFFER, deadline)
    result: dict[str, Any] = {"offer": offer, "ack": None}
    if offer is not None:
        chosen = [(50, socket.inet_aton(offer["yiaddr"])), (54, socket.inet_aton(offer["server"]))]
        sock.sendto(_packet(xid, mac, REQUEST, chosen + common), ("255.255.255.255", 67))
        result["ack"] = _receive(sock, xid, ACK, deadline)
    sock.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
