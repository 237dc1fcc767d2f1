"""HTTP load generators: a small keep-alive client in pure Python, and `wrk` when installed.

The Python client speaks just enough HTTP/1.1 for GET: it keeps the connection open when
the server allows it and reconnects when the server says `Connection: close` (gunicorn's
sync workers close after every response, as they did for the reference's wrk runs).
The concurrent mode mirrors `wrk -t2 -c4`: 2 processes × 2 connections, so the GIL of one
process never serialises all the clients.
"""

from __future__ import annotations

import multiprocessing
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


class HttpError(Exception):
    pass


class HttpClient:
    """One connection to host:port; `get(path)` returns (status, body)."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None
        self.buf = b""
        self.connects = 0

    def _connect(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.connects += 1

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _recv(self) -> bytes:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise HttpError("connection closed by the server")
        return chunk

    def get(self, path: str) -> tuple[int, bytes]:
        request = (f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                   "Accept: application/geo+json\r\nAccept-Encoding: identity\r\n\r\n").encode()
        reused = self.sock is not None
        if not reused:
            self._connect()
        try:
            self.sock.sendall(request)
            return self._read_response()
        except (HttpError, OSError):
            self.close()
            if not reused:
                raise
            self._connect()  # a kept-alive connection the server had closed meanwhile
            self.sock.sendall(request)
            return self._read_response()

    def _read_response(self) -> tuple[int, bytes]:
        buf = self.buf
        while b"\r\n\r\n" not in buf:
            buf += self._recv()
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        if headers.get("transfer-encoding") == "chunked":
            body, rest = self._read_chunked(rest)
        else:
            length = int(headers.get("content-length", "-1"))
            if length < 0:  # no length: the body runs to the end of the connection
                parts = [rest]
                try:
                    while True:
                        parts.append(self._recv())
                except HttpError:
                    pass
                self.close()
                return status, b"".join(parts)
            parts, have = [rest], len(rest)
            while have < length:
                chunk = self._recv()
                parts.append(chunk)
                have += len(chunk)
            data = b"".join(parts)
            body, rest = data[:length], data[length:]
        self.buf = rest
        if headers.get("connection") == "close":
            self.close()
        return status, body

    def _read_chunked(self, buf: bytes) -> tuple[bytes, bytes]:
        body = []
        while True:
            while b"\r\n" not in buf:
                buf += self._recv()
            size_line, _, buf = buf.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(buf) < size + 2:
                buf += self._recv()
            body.append(buf[:size])
            buf = buf[size + 2:]
            if size == 0:
                return b"".join(body), buf


# --------------------------------------------------------------------------- concurrent


@dataclass
class LoadResult:
    tool: str
    duration_s: float
    connections: int
    requests: int = 0
    errors: int = 0
    non_200: int = 0
    latencies_ms: list[float] = field(default_factory=list)  # empty for wrk (percentiles below)
    percentiles_ms: dict[str, float] = field(default_factory=dict)
    connections_opened: int | None = None
    command: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s


def _connection_loop(host, port, paths, offset, start_at, stop_at, out) -> None:
    client = HttpClient(host, port)
    latencies, errors, bad, i = [], 0, 0, offset
    while time.time() < start_at:
        time.sleep(0.001)
    while True:
        started = time.perf_counter()
        if time.time() >= stop_at:
            break
        try:
            status, _ = client.get(paths[i % len(paths)])
            bad += status != 200
            latencies.append((time.perf_counter() - started) * 1000)
        except (HttpError, OSError):
            errors += 1
            client.close()
        i += 1
    client.close()
    out.append((latencies, errors, bad, client.connects))


def _process(host, port, paths, offsets, start_at, stop_at):
    out: list = []
    threads = [threading.Thread(target=_connection_loop, args=(host, port, paths, o, start_at, stop_at, out))
               for o in offsets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def python_load(host: str, port: int, paths: list[str], connections: int = 4,
                duration: float = 20.0, processes: int = 2) -> LoadResult:
    """Closed-loop load: `connections` clients in `processes` processes for `duration` s."""
    ctx = multiprocessing.get_context("spawn")
    processes = max(1, min(processes, connections))
    offsets = [[c * len(paths) // connections for c in range(p, connections, processes)]
               for p in range(processes)]
    start_at = time.time() + 1.5  # leave the spawned interpreters time to start
    stop_at = start_at + duration
    with ctx.Pool(processes) as pool:
        parts = pool.starmap(_process, [(host, port, paths, o, start_at, stop_at) for o in offsets])
    result = LoadResult("python", duration, connections,
                        command=f"bench.loadgen.python_load(c={connections}, processes={processes}, d={duration:g}s)")
    result.connections_opened = 0
    for part in parts:
        for latencies, errors, bad, connects in part:
            result.latencies_ms.extend(latencies)
            result.requests += len(latencies)
            result.errors += errors
            result.non_200 += bad
            result.connections_opened += connects
    return result


# --------------------------------------------------------------------------- wrk

WRK_SCRIPT = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk_load(host: str, port: int, paths: list[str], connections: int = 4,
             duration: float = 20.0, threads: int = 2) -> LoadResult:
    """`wrk -t2 -c4 -d20s --latency` cycling over paths, as in the reference (§6)."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bboxes.lua"
        script.write_text(WRK_SCRIPT % ", ".join(f'"{p}"' for p in paths))
        cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--timeout", "10s",
               "--latency", "-s", str(script), f"http://{host}:{port}"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    out = done.stdout
    if done.returncode:
        raise RuntimeError(f"wrk failed: {done.stderr or out}")
    result = LoadResult("wrk", duration, connections, command=" ".join(cmd[:-3] + ["-s bboxes.lua", cmd[-1]]))
    result.requests = int(re.search(r"(\d+) requests in", out).group(1))
    duration_match = re.search(r"requests in ([\d.]+)(us|ms|s|m)", out)
    result.duration_s = _ms(duration_match.group(1) + duration_match.group(2)) / 1000
    for pct, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.M):
        result.percentiles_ms[f"p{pct}"] = round(_ms(value), 3)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result.non_200 = int(non2xx.group(1)) if non2xx else 0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result.errors = sum(int(x) for x in socket_errors.groups()) if socket_errors else 0
    return result
