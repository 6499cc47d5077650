#!/usr/bin/env python3
"""A keep-alive HTTP load generator for scripts/bench-pages where wrk is not installed: CONNS
threads, each with one connection, send GET URL for SECS seconds. Prints what bench-pages reads
from wrk: the latency percentiles, the requests, Requests/sec, and a Non-2xx line when any
answer was not 2xx. Python itself limits the rate it can reach (a few thousand requests a
second), so at many connections its ratios are lower bounds of the gap, not measures of it.

usage: http_bench.py CONNS SECS URL [HEADER]
"""
import http.client
import sys
import threading
import time
import urllib.parse


def main():
    conns, secs, url = int(sys.argv[1]), float(sys.argv[2].rstrip("s")), sys.argv[3]
    headers = {}
    if len(sys.argv) > 4:
        name, value = sys.argv[4].split(":", 1)
        headers[name.strip()] = value.strip()
    parts = urllib.parse.urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    latencies, bad = [], [0]
    lock = threading.Lock()
    deadline = time.monotonic() + secs

    def worker():
        mine, failed = [], 0
        conn = http.client.HTTPConnection(parts.hostname, parts.port)
        while True:
            start = time.monotonic()
            if start >= deadline:
                break
            conn.request("GET", path, headers=headers)
            answer = conn.getresponse()
            answer.read()
            mine.append(time.monotonic() - start)
            if not 200 <= answer.status < 300:
                failed += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            bad[0] += failed

    threads = [threading.Thread(target=worker) for _ in range(conns)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - began
    latencies.sort()

    def pct(p):
        return f"{latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] * 1000:.2f}ms"

    print(f"     50% {pct(50)}")
    print(f"     99% {pct(99)}")
    print(f"  {len(latencies)} requests in {took:.2f}s")
    if bad[0]:
        print(f"  Non-2xx or 3xx responses: {bad[0]}")
    print(f"Requests/sec: {len(latencies) / took:.2f}")


main()
