#!/usr/bin/env python3
"""Load generator of scripts/load (standard library only): honest customers alone, then with
an abuser; figures per kind, then checks against the database (psql, database $LOAD_DB)."""
import argparse
import base64
import http.client
import io
import json
import os
import random
import re
import subprocess
import tarfile
import threading
import time
import urllib.parse

HONEST_MIX = [("page", 3), ("api_read", 3), ("write", 2), ("restart", 1), ("alarm", 2), ("upload", 1)]
ABUSE_MIX = [("bad_login", 2), ("bad_basic", 2), ("check", 2), ("upload_flood", 2)]
TERMINAL = ("done", "failed", "cancelled")


class Client:
    """One keep-alive connection; every request is recorded with its kind and latency."""

    def __init__(self, port, record, source="127.0.0.1"):
        self.port, self.record, self.conn, self.source = port, record, None, source

    def request(self, kind, method, path, body=None, headers=None):
        headers = dict(headers or {})
        started = time.monotonic()
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(
                        "127.0.0.1", self.port, timeout=60, source_address=(self.source, 0))
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                status = response.status
                break
            except (OSError, http.client.HTTPException):
                if self.conn:
                    self.conn.close()
                self.conn, status, data, response = None, 0, b"", None
                if attempt == 1:
                    break
        if kind:
            self.record(kind, status, time.monotonic() - started)
        return status, data, response


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def cookies_of(response):
    jar = {}
    for name, value in response.getheaders() if response else []:
        if name.lower() == "set-cookie":
            key, _, rest = value.partition("=")
            jar[key] = rest.split(";", 1)[0]
    return jar


def cookie_header(jar):
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}


def login_form(client, kind, user, password, jar=None):
    """Logs in through the form; returns (status, cookies). The CSRF token comes from the form."""
    jar = dict(jar or {})
    if "distropanel_csrf" not in jar or "token" not in jar:
        _, page, response = client.request(None, "GET", "/login")
        jar.update(cookies_of(response))
        jar["token"] = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    token = jar["token"]
    body = urllib.parse.urlencode({"csrf_token": token, "username": user, "password": password})
    sent = {k: v for k, v in jar.items() if k != "token"}
    status, _, response = client.request(
        kind, "POST", "/login", body,
        {"Content-Type": "application/x-www-form-urlencoded", **cookie_header(sent)})
    jar.update(cookies_of(response))
    return status, jar


def tiny_image(seq):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in (".", "./.old_root", "./containers", "./etc", "./usr", "./usr/bin"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in (("./etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
                           ("./marker", str(seq).encode()), ("./usr/bin/sh", b"\x7fELF")):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


class Customer:
    def __init__(self, spec, port, shared, source="127.0.0.1"):
        self.name, storage, web = spec.split(":")
        self.storage, self.web = int(storage), int(web)
        self.password = f"load-{self.name}-pw"
        self.shared, self.port = shared, port
        self.client = Client(port, self.record, source)
        self.seq = 0

    def record(self, kind, status, seconds):
        with self.shared["lock"]:
            self.shared["samples"].append((self.shared["phase"], self.name, kind, status, seconds))

    def setup(self):
        """A bearer token, a browser session, storage on and one custom distro."""
        auth = basic(self.name, self.password)
        status, data, _ = self.client.request(None, "POST", "/api/tokens", json.dumps({"name": "load"}), auth)
        assert status == 201, (status, data)
        self.bearer = {"Authorization": "Bearer " + json.loads(data)["token"]}
        self.basic = auth
        status, self.jar = login_form(self.client, None, self.name, self.password)
        assert status == 303, status
        self.jar.pop("token", None)
        status, data, _ = self.client.request(
            None, "POST", f"/api/containers/{self.storage}", json.dumps({"custom_distros_storage": True}), self.bearer)
        assert status == 200, (status, data)
        status, data, _ = self.client.request(
            None, "POST", f"/api/custom_distros/{self.storage}",
            json.dumps({"name": "load", "path": f"load{self.name}", "note": ""}), self.bearer)
        assert status == 201, (status, data)
        self.distro = json.loads(data)["id"]

    def accepted_job(self, status, data):
        if status == 202:
            with self.shared["lock"]:
                self.shared["jobs"].add(json.loads(data)["job"]["id"])

    def upload(self, kind):
        self.seq += 1
        status, data, _ = self.client.request(
            kind, "PUT", f"/api/custom_distro/{self.distro}/image", tiny_image(self.seq),
            {**self.bearer, "Content-Type": "application/x-tar"})
        self.accepted_job(status, data)

    def honest_step(self, kind):
        c, web = self.client, self.web
        if kind == "page":
            c.request(kind, "GET", "/containers", None, cookie_header(self.jar))
        elif kind == "api_read":
            c.request(kind, "GET", "/api/containers", None, self.basic)
        elif kind == "write":
            self.seq += 1
            note = f"{self.name}-note-{self.seq}"
            status, _, _ = c.request(kind, "POST", f"/api/containers/{web}", json.dumps({"note": note}), self.bearer)
            if status == 200:
                self.shared["notes"][web] = note
        elif kind == "restart":
            status, _, _ = c.request(kind, "POST", f"/api/containers/{web}", json.dumps({"reboot": True}), self.bearer)
            if status == 200:
                self.shared["reboots"].add(web)
        elif kind == "alarm":
            self.seq += 1
            msg = f"{self.name}-alarm-{self.seq}"
            status, _, _ = c.request(kind, "POST", f"/api/alarms/raise/{web}?level=2", msg, self.bearer)
            if status in (200, 201):
                self.shared["alarms"].setdefault(web, []).append(msg)
        elif kind == "upload":
            self.upload(kind)

    def run(self, mix, until, think):
        kinds = [k for k, w in mix for _ in range(w)]
        while time.monotonic() < until:
            self.step(random.choice(kinds))
            if think:
                time.sleep(think)

    def step(self, kind):
        if kind in ("bad_login", "bad_basic", "check", "upload_flood"):
            self.abuse_step(kind)
        else:
            self.honest_step(kind)

    def abuse_step(self, kind):
        if kind == "bad_login":
            guess = f"guess-{random.randrange(1 << 30)}"
            _, self.abuse_jar = login_form(self.client, kind, random.choice(self.shared["names"]), guess,
                                           getattr(self, "abuse_jar", None))
        elif kind == "bad_basic":
            self.client.request(kind, "GET", "/api/me", None, basic(random.choice(self.shared["names"]), "nope-nope"))
        elif kind == "check":
            status, data, _ = self.client.request(kind, "POST", f"/api/custom_distro/{self.distro}/check", "{}", self.bearer)
            self.accepted_job(status, data)
        else:
            self.upload(kind)


def run_phase(shared, phase, honest, abusers, seconds, think):
    shared["phase"] = phase
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=h.run, args=(HONEST_MIX, until, think)) for h in honest]
    threads += [threading.Thread(target=a.run, args=(ABUSE_MIX, until, 0)) for a in abusers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


def report(shared, phase, seconds, abuser_name):
    rows = [s for s in shared["samples"] if s[0] == phase]
    print(f"\n== phase {phase}: {len(rows)} requests in {seconds:.0f} s, {len(rows) / seconds:.0f} req/s")
    print(f"{'who':7} {'kind':13} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}  answers")
    groups = {}
    for _, who, kind, status, secs in rows:
        groups.setdefault(("abuser" if who == abuser_name else "honest", kind), []).append((status, secs))
    for (who, kind), items in sorted(groups.items()):
        statuses = {}
        for status, _ in items:
            statuses[status] = statuses.get(status, 0) + 1
        answers = " ".join(f"{s}:{n}" for s, n in sorted(statuses.items()))
        lat = [s for _, s in items]
        print(f"{who:7} {kind:13} {len(items) / seconds:7.1f} {pct(lat, .5):8.1f} {pct(lat, .99):8.1f}  {answers}")
    honest = [secs for _, who, _, _, secs in rows if who != abuser_name]
    errors = sum(1 for _, who, _, st, _ in rows if who != abuser_name and (st == 0 or st >= 500))
    print(f"honest: p50 {pct(honest, .5):.1f} ms, p99 {pct(honest, .99):.1f} ms, 5xx/connection errors {errors}")
    return pct(honest, .99)


def psql(sql):
    out = subprocess.run(["psql", "-d", os.environ["LOAD_DB"], "-At", "-F", "\t", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def check(name, ok, detail):
    print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")
    return ok


def checks(shared, drain_deadline):
    ok = True
    notes = shared["notes"]
    stored = {int(i) + 30000: n for i, n in psql("SELECT id, note FROM containers")}
    wrong = [uid for uid, note in notes.items() if stored.get(uid) != note]
    ok &= check("writes", not wrong and bool(notes),
                f"{len(notes)} containers' last accepted note is in the database" if not wrong
                else f"containers {wrong} hold another note than the last accepted one")
    until = time.monotonic() + drain_deadline
    while True:
        pending = int(psql("SELECT count(*) FROM jobs WHERE state IN ('queued','retrying','running')")[0][0])
        if pending == 0 or time.monotonic() > until:
            break
        time.sleep(0.5)
    states = {}
    for state, n in psql("SELECT state, count(*) FROM jobs GROUP BY state"):
        states[state] = int(n)
    ok &= check("queue drained", pending == 0, f"{pending} unfinished jobs left; all jobs by state {states}")
    ids = shared["jobs"]
    found = dict(psql("SELECT id, state FROM jobs")) if ids else {}
    unfinished = [i for i in ids if found.get(str(i)) not in TERMINAL]
    ok &= check("accepted jobs", not unfinished,
                f"{len(ids)} accepted image jobs all finished" if not unfinished
                else f"{len(unfinished)} of {len(ids)} accepted jobs missing or unfinished: {unfinished[:10]}")
    restarted = {int(c) + 30000 for (c,) in psql(
        "SELECT DISTINCT container_id FROM jobs WHERE kind = 'restart' AND state IN ('done','failed')")}
    missing = sorted(shared["reboots"] - restarted)
    ok &= check("restarts", not missing,
                f"{len(shared['reboots'])} containers restarted as asked" if not missing
                else f"containers {missing} were asked to restart and have no finished restart job")
    bad = []
    total = kept = 0
    for uid, raised in shared["alarms"].items():
        have = [m for (m,) in psql(f"SELECT msg FROM alarms WHERE container_id = {uid - 30000} ORDER BY unix, id")]
        total, kept = total + len(raised), kept + len(have)
        if have != raised[-100:]:
            bad.append(uid)
    ok &= check("alarms", not bad,
                f"{total} raised, {kept} kept, {total - kept} dropped by the 100-per-container cap (the oldest)"
                if not bad else f"containers {bad} keep other alarms than the newest 100 raised")
    return ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--duration", type=float, default=120, help="both phases together, seconds")
    parser.add_argument("--think-ms", type=float, default=20, help="an honest customer's pause")
    parser.add_argument("--abuser-threads", type=int, default=4)
    parser.add_argument("--abuser-address", default="127.0.0.2",
                        help="the abuser's loopback source address (127.0.0.1: the honest customers' own)")
    parser.add_argument("customers", nargs="+", help="name:storage_uid:web_uid; the last one abuses")
    args = parser.parse_args()
    shared = {"lock": threading.Lock(), "samples": [], "phase": "setup", "jobs": set(), "notes": {},
              "reboots": set(), "alarms": {}, "names": [c.split(":")[0] for c in args.customers]}
    people = [Customer(spec, args.port, shared) for spec in args.customers[:-1]]
    people.append(Customer(args.customers[-1], args.port, shared, args.abuser_address))
    for person in people:
        person.setup()
    honest, abuser = people[:-1], people[-1]
    abusers = [abuser] + [Customer(args.customers[-1], args.port, shared, args.abuser_address) for _ in range(args.abuser_threads - 1)]
    for extra in abusers[1:]:
        extra.bearer, extra.distro, extra.seq = abuser.bearer, abuser.distro, 1000 * abusers.index(extra)
    half = args.duration / 2
    run_phase(shared, "alone", honest, [], half, args.think_ms / 1000)
    run_phase(shared, "abused", honest, abusers, half, args.think_ms / 1000)
    alone = report(shared, "alone", half, abuser.name)
    abused = report(shared, "abused", half, abuser.name)
    ratio = abused / alone if alone else float("nan")
    print(f"\nhonest p99: {alone:.1f} ms alone, {abused:.1f} ms with the abuser, ratio {ratio:.2f} "
          f"(target within 2x: {'met' if ratio <= 2 else 'missed'})\n")
    raise SystemExit(0 if checks(shared, drain_deadline=120) else 1)


if __name__ == "__main__":
    main()
