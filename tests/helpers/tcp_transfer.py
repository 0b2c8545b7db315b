"""A byte-checked TCP transfer between two netns hosts (appliance.netns.Host).

    python tcp_transfer.py recv PORT             -> prints "<bytes> <sha256>" when the peer closes
    python tcp_transfer.py send ADDR PORT NBYTES SEED -> sends NBYTES pseudo-random bytes

:func:`transfer` runs both (receiver in ``dst``, sender in ``src``) and returns what each
side counted, so a test compares the digests.
"""

from __future__ import annotations

import hashlib
import random
import socket
import subprocess
import sys
import time

CHUNK = 1 << 16


def _blocks(nbytes: int, seed: int):
    rng = random.Random(seed)
    block = rng.randbytes(CHUNK)
    sent = 0
    while sent < nbytes:
        n = min(CHUNK, nbytes - sent)
        # Vary every block so reordering or duplication would change the digest.
        yield (sent // CHUNK).to_bytes(8, "big") + block[8:n] if n > 8 else block[:n]
        sent += n


def expected_digest(nbytes: int, seed: int) -> str:
    h = hashlib.sha256()
    for b in _blocks(nbytes, seed):
        h.update(b)
    return h.hexdigest()


def recv(port: int) -> None:
    srv = socket.create_server(("0.0.0.0", port))
    print("listening", flush=True)
    conn, _ = srv.accept()
    h, total = hashlib.sha256(), 0
    while True:
        data = conn.recv(1 << 20)
        if not data:
            break
        h.update(data)
        total += len(data)
    print(total, h.hexdigest(), flush=True)


def send(addr: str, port: int, nbytes: int, seed: int) -> None:
    s = socket.create_connection((addr, port), timeout=30)
    for b in _blocks(nbytes, seed):
        s.sendall(b)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    s.close()


def transfer(src, dst, nbytes: int, seed: int = 7, port: int = 5001,
             timeout: float = 300) -> tuple[int, str, float]:
    """Sends ``nbytes`` from host ``src`` to host ``dst``; returns (bytes received, their
    sha256, seconds)."""
    rx = subprocess.Popen(dst.argv([sys.executable, __file__, "recv", str(port)]),
                          stdout=subprocess.PIPE, text=True)
    try:
        assert rx.stdout.readline().strip() == "listening"
        t0 = time.monotonic()
        src.run([sys.executable, __file__, "send", dst.address, str(port), str(nbytes),
                 str(seed)], timeout=timeout, check=True)
        out, _ = rx.communicate(timeout=60)
        elapsed = time.monotonic() - t0
    finally:
        if rx.poll() is None:
            rx.kill()
            rx.wait()
    got, digest = out.split()
    return int(got), digest, elapsed


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(int(sys.argv[2]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
