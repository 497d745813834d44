"""Rating spread over ``db_worker`` processes (issue 10, item 4), on the data of ``bench/rating.py``.

Run ``bench/rating.py`` first on the same database (it loads 1,000,000 calls), then:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_rating .venv/bin/python bench/rating_workers.py

It rates the month with ``manage.py rate_usage`` and the database task backend three ways, each
twice, and prints the seconds and the speed-up over the first:

- the coordinator alone, one connection (``RATING_CONCURRENCY=1``, no worker running);
- the coordinator and one ``db_worker`` process taking chunks beside it;
- the coordinator and two ``db_worker`` processes.

Each worker takes the chunks left (``SELECT … FOR UPDATE SKIP LOCKED``); the coordinator waits
for the last one and publishes. Flags: ``--chunk-calls`` (default 50,000: 20 chunks).
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def environment(chunk_calls):
    return {**os.environ, "TASKS_BACKEND": "database", "RATING_CONCURRENCY": "1",
            "RATING_CHUNK_CALLS": str(chunk_calls), "RATING_HELPER_TASKS": "8",
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key"), "DEBUG": "0"}


def manage(*args, env, **kwargs):
    return subprocess.Popen([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, **kwargs)


def rate(workers, env):
    processes = [manage("db_worker", "--interval", "0.1", "--no-startup-delay", env=env,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    try:
        time.sleep(3 if workers else 0)  # the workers are polling the queue
        started = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "rate_usage", "--month", "2026-09"], cwd=ROOT,
                       env=env, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - started
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunk-calls", type=int, default=50_000)
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        sys.exit("Set DATABASE_URL to the PostgreSQL database of bench/rating.py.")
    env = environment(args.chunk_calls)
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"], cwd=ROOT, env=env,
                   check=True)
    baseline = None
    for workers in (0, 1, 2):
        for attempt in (1, 2):
            seconds = rate(workers, env)
            baseline = baseline or seconds
            print(f"coordinator + {workers} worker(s), run {attempt}: {seconds:.1f} s "
                  f"(speed-up {baseline / seconds:.2f}x over the coordinator alone)", flush=True)


if __name__ == "__main__":
    main()
