"""Is a TCP port on loopback free? Used to refuse politely before a JVM fails on bind."""

from __future__ import annotations

import socket


def port_free(host: str, port: int) -> bool:
    """True if nothing listens on host:port and we could bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_block(host: str, size: int, start: int) -> int:
    """The first of `size` consecutive free ports at or above `start` (below 32768, where the
    kernel's ephemeral range begins: a client's own socket could take a broker's port there);
    a `start` already in that range searches from 20000 instead."""
    base = start if start + size < 32768 else 20000
    while base + size < 32768:
        taken = next((i for i in range(size) if not port_free(host, base + i)), None)
        if taken is None:
            return base
        base += taken + 1
    raise OSError(f"no {size} consecutive free ports on {host} from {start}")
