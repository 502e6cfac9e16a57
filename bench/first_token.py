#!/usr/bin/env python3
"""Process start to the first guest token, on the embedded default store (a new SQLite file
in a fresh directory, the example config): spawn `stagedoor serve`, then ask
`/api/auth/guest/refresh` over and over on a raw socket until it answers 200.

    bench/first_token.py [binary, default target/release/stagedoor] [runs, default 20]
    SHARED=1 bench/first_token.py   # the same file declared shared (stagedoor.databaseShared)

Prints each run's milliseconds and min / median / max. Loopback only; each run is bounded.
"""
import os, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/stagedoor")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
SHARED = os.environ.get("SHARED") == "1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET /api/auth/guest/refresh HTTP/1.1\r\nHost: localhost\r\n"
                      b"X-Requested-With: XMLHttpRequest\r\nConnection: close\r\n\r\n")
            head = s.recv(64)
            return int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else None
    except OSError:
        return None


def run_once():
    port = free_port()
    with tempfile.TemporaryDirectory() as work:
        local = os.path.join(work, "local.yaml")
        with open(local, "w") as f:
            f.write(f"stagedoor:\n  listen: {{ host: 127.0.0.1, port: {port} }}\n")
            f.write("  database: ./stagedoor.sqlite\n")
            if SHARED:
                f.write("  databaseShared: true\n")
        env = dict(os.environ, RUST_LOG="warn")
        started = time.monotonic()
        child = subprocess.Popen(
            [BINARY, "serve", "--config", os.path.join(ROOT, "app-config.example.yaml"), "--config", local],
            cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while time.monotonic() - started < 10:
                if status(port) == 200:
                    return (time.monotonic() - started) * 1000
                if child.poll() is not None:
                    raise SystemExit(f"stagedoor exited with {child.returncode}")
            raise SystemExit("no token within 10 s")
        finally:
            child.terminate()
            child.wait()


times = [run_once() for _ in range(RUNS)]
print("runs (ms):", " ".join(f"{t:.1f}" for t in times))
print(f"start to first guest token: min {min(times):.1f} ms, median {statistics.median(times):.1f} ms, "
      f"max {max(times):.1f} ms ({'shared' if SHARED else 'private'} SQLite file, {RUNS} runs)")
