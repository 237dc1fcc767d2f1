"""gunicorn as `make run` starts it, on a free port, for the benchmarks and the tests that need
real workers (bbox, faults, memory, tests/test_limits.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from bench import common, loadgen


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from the state on (3rd) onward


class Gunicorn:
    """`gunicorn --workers N <app>` on a free port with `env`, its output in `log_path`;
    `extra` adds options (an access log…). Ready once every worker is forked and /healthz
    answers 200 (the database is reachable)."""

    def __init__(self, env: dict[str, str], log_path: Path, workers: int = 2,
                 app: str = "app:create_app()", extra: tuple[str, ...] = (), timeout: float = 30) -> None:
        self.port, self.log_path, self.workers_wanted = common.free_port(), Path(log_path), workers
        self.cmd = [str(common.VENV_BIN / "gunicorn"), "--workers", str(workers), "--bind",
                    f"127.0.0.1:{self.port}", *extra, app]
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(self.cmd, cwd=common.ROOT, env=env, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        if not self.wait_ready(timeout):
            self.stop()
            raise SystemExit(f"bench: gunicorn did not start, see {self.log_path}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[tuple[int, float]]:
        """(pid, age in s) of the master's live workers, oldest first."""
        ticks, uptime = os.sysconf("SC_CLK_TCK"), float(Path("/proc/uptime").read_text().split()[0])
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                stat = _proc_stat(int(entry.name))
                # fields: state, ppid, …, starttime is the 22nd field of the whole line
                if stat and int(stat[1]) == self.proc.pid and stat[0] != "Z":
                    found.append((int(entry.name), uptime - int(stat[19]) / ticks))
        return sorted(found, key=lambda w: -w[1])

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                client = loadgen.HttpClient("127.0.0.1", self.port, timeout=2)
                status, _ = client.get("/healthz")
                client.close()
                if status == 200 and len(self.workers()) == self.workers_wanted:
                    return True
            except (OSError, loadgen.HttpError):
                pass
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the master stops its own workers
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def stopped_cleanly(self) -> bool:
        return self.proc.returncode in (0, -signal.SIGTERM)
