#!/usr/bin/env python3
"""registry-gc benchmark: requests against the REST and GraphQL floors, wall time against the
latency floor, peak RSS, throughput under a rate limit, and startup time.

Runs the release binaries of registry-gc and fake-gitlab for real, each run on a fresh fake
loaded with a generated fixture (model.py). The fake's request counters are the truth.
Standard library only. See component-tests/bench/README.md.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model  # noqa: E402

ENDPOINTS = [
    ("repos", "GET /groups/:id/registry/repositories"),
    ("tag lists", "GET /projects/:id/registry/repositories/:repository_id/tags"),
    ("details", "GET /projects/:id/registry/repositories/:repository_id/tags/:tag_name"),
    ("deletes", "DELETE /projects/:id/registry/repositories/:repository_id/tags/:tag_name"),
    ("rules", "GET /projects/:id/registry/protection/tag/rules"),
]
FLOOR_KEYS = ["repository_pages", "tag_pages", "details", "deletes", "protection_rules"]
GRAPHQL_ENDPOINTS = [
    ("probe", "POST /api/graphql (registryGcProbe)"),
    ("repos", "GET /groups/:id/registry/repositories"),
    ("tag pages", "POST /api/graphql (registryGcTags)"),
    ("details", "GET /projects/:id/registry/repositories/:repository_id/tags/:tag_name"),
    ("delete calls", "POST /api/graphql (registryGcDeleteTags)"),
    ("deletes", "DELETE /projects/:id/registry/repositories/:repository_id/tags/:tag_name"),
]
GRAPHQL_FLOOR_KEYS = ["probe", "repository_pages", "tag_pages", "details", "delete_calls",
                      "deletes"]
# The backends compared, with the same ages (build times on both). Their decisions differ on
# broken tags only: model.floor() says how.
APIS = {
    "rest": {"GC_API": "rest"},
    "graphql": {"GC_API": "graphql", "GC_AGE_FROM": "created"},
}

CONFIGS = {
    "defaults": {},
    "age": {"GC_KEEP_N": "5", "GC_OLDER_THAN": "30d",
            "GC_DELETE_REGEX": "(feature|fix|mr|renovate|release|buildx|inline)-.*"},
    "no-broken": {"GC_DELETE_BROKEN": "false"},
    "no-broken+age": {"GC_DELETE_BROKEN": "false", "GC_OLDER_THAN": "30d",
                      "GC_DELETE_REGEX": "(feature|fix|mr)-.*"},
}

RESULTS = []  # (target, holds, detail)


def check(target, holds, detail):
    RESULTS.append((target, holds, detail))
    print(f"  {'HOLDS' if holds else 'FAILS'}  {target}: {detail}", flush=True)


def report_targets(suffix=""):
    """Prints every target checked, and returns the exit status: 1 if one fails."""
    failed = [r for r in RESULTS if not r[1]]
    print(f"\n== targets: {len(RESULTS) - len(failed)} hold, {len(failed)} fail{suffix}")
    for target, holds, detail in RESULTS:
        print(f"  {'HOLDS' if holds else 'FAILS'}  {target}: {detail}")
    return 1 if failed else 0


class Fake:
    """A fake-gitlab process on a fixture file, with a fault configuration."""

    def __init__(self, binary, fixture_path, workdir, faults):
        url_file = os.path.join(workdir, "url")
        if os.path.exists(url_file):
            os.unlink(url_file)
        faults_path = os.path.join(workdir, "faults.json")
        with open(faults_path, "w") as f:
            json.dump(faults, f)
        self.proc = subprocess.Popen(
            [binary, "--fixture", fixture_path, "--addr", "127.0.0.1:0",
             "--url-file", url_file, "--faults", faults_path],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "fake.err"), "w"))
        deadline = time.monotonic() + 120
        while not os.path.exists(url_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"fake-gitlab did not start: see {workdir}/fake.err")
            time.sleep(0.02)
        with open(url_file) as f:
            self.api = f.read().strip()
        self.base = self.api[: -len("/api/v4")]

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=120) as r:
            return json.load(r)

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait()


def run_gc(args, fake, workdir, env_extra):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CI_API_V4_URL": fake.api,
        "API_TOKEN": model.TOKEN,
        "GC_SCOPE": "group",
        "GC_GROUP": model.GROUP,
        "GC_DRY_RUN": "false",
        "GC_API": "rest",
        "GC_CONCURRENCY": str(args.concurrency),
        "GC_LOG_FILE": os.path.join(workdir, "gc.log"),
        "GC_JUNIT_FILE": os.path.join(workdir, "gc-junit.xml"),
        "GC_REPORT_FILE": os.path.join(workdir, "gc-report.json"),
        "RUST_LOG": "warn",
    }
    env.update(env_extra)
    time_out = os.path.join(workdir, "time.txt")
    cmd = [args.time, "-v", "-o", time_out, args.gc]
    started = time.monotonic()
    with open(os.path.join(workdir, "gc.err"), "w") as err:
        code = subprocess.call(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err, cwd=workdir)
    wall = time.monotonic() - started
    rss_kb = user = system = None
    with open(time_out) as f:
        for line in f:
            line = line.strip()
            if line.startswith("Maximum resident set size"):
                rss_kb = int(line.rsplit(":", 1)[1])
            elif line.startswith("User time"):
                user = float(line.rsplit(":", 1)[1])
            elif line.startswith("System time"):
                system = float(line.rsplit(":", 1)[1])
    return {"code": code, "wall": wall, "rss_mb": rss_kb / 1024, "cpu": user + system}


def one_run(args, fixture_path, fixture, env_extra, latency_ms, faults_extra=None, label=""):
    workdir = tempfile.mkdtemp(prefix="run-", dir=args.tmp)
    faults = {"latency_ms": latency_ms}
    faults.update(faults_extra or {})
    fake = Fake(args.fake, fixture_path, workdir, faults)
    try:
        res = run_gc(args, fake, workdir, env_extra)
        stats = fake.get("/__fake/stats")
        res["fake_cpu"] = fake.cpu_seconds()
        state = fake.get("/__fake/state") if args.check_state else None
    finally:
        fake.stop()
    res["stats"] = stats
    res["workdir"] = workdir
    if res["code"] != 0:
        with open(os.path.join(workdir, "gc.err")) as f:
            tail = f.read()[-2000:]
        print(f"  registry-gc exited {res['code']} ({label}):\n{tail}", flush=True)
    if state is not None:
        left = set()
        for p in state["projects"].values():
            for path, tags in p["repositories"].items():
                left.update((path, t) for t in tags)
        res["left"] = left
    return res


def by_endpoint(stats, api="rest"):
    endpoints = GRAPHQL_ENDPOINTS if api == "graphql" else ENDPOINTS
    return [stats["by_endpoint"].get(e, 0) for _, e in endpoints]


def all_tags(fixture):
    out = set()
    for p in fixture["projects"]:
        for r in p["repositories"]:
            path = p["path"] + ("/" + r["name"].lower() if r["name"] else "")
            out.update((path, t["name"]) for t in r["tags"])
    return out


def requests_vs_floor(size, config, fixture, res, floor, gone, api="rest"):
    got = by_endpoint(res["stats"], api)
    keys = GRAPHQL_FLOOR_KEYS if api == "graphql" else FLOOR_KEYS
    names = [n for n, _ in (GRAPHQL_ENDPOINTS if api == "graphql" else ENDPOINTS)]
    want = [floor[k] for k in keys]
    other = res["stats"]["total"] - sum(got)
    detail = (f"{res['stats']['total']} requests ("
              + ", ".join(f"{n} {g}" for n, g in zip(names, got))
              + f", other {other}) vs floor {floor['total']} ("
              + "/".join(str(w) for w in want) + ")")
    label = "GraphQL floor" if api == "graphql" else "REST floor"
    config = f"{config} over GraphQL" if api == "graphql" else config
    check(f"{size} tags, {config}: requests == {label}",
          got == want and other == 0 and res["code"] == 0, detail)
    if "left" in res:
        expected = all_tags(fixture) - gone
        ok = res["left"] == expected
        check(f"{size} tags, {config}: the fake's final state is the model's",
              ok, f"{len(res['left'])} tags left, model says {len(expected)}"
              + ("" if ok else f"; {len(res['left'] - expected)} extra, "
                 f"{len(expected - res['left'])} missing"))


def write_fixture(args, size):
    fixture = model.generate(size)
    path = os.path.join(args.tmp, f"fixture-{size}.json")
    with open(path, "w") as f:
        json.dump(fixture, f)
    return path, fixture


def bench_size(args, size, rows):
    path, fixture = write_fixture(args, size)
    tags = model.count_tags(fixture)
    print(f"\n== {tags} tags in {model.count_repos(fixture)} repositories of "
          f"{len(fixture['projects'])} projects ({path})", flush=True)

    # Timed run: defaults, with latency.
    floor, gone = model.floor(fixture, CONFIGS["defaults"])
    res = one_run(args, path, fixture, {}, args.latency_ms, label="defaults")
    requests_vs_floor(tags, "defaults", fixture, res, floor, gone)
    total = res["stats"]["total"]
    lat_floor = total * args.latency_ms / 1000 / args.concurrency
    fake_floor = total * args.service_ms / 1000 / args.concurrency
    rows.append({
        "tags": tags, "repos": model.count_repos(fixture), "by_endpoint": by_endpoint(res["stats"]),
        "total": total, "floor": floor["total"], "wall": res["wall"], "latency_floor": lat_floor,
        "fake_floor": fake_floor,
        "tags_per_s": tags / res["wall"], "rss_mb": res["rss_mb"], "cpu": res["cpu"],
        "fake_cpu": res["fake_cpu"],
    })
    ratios = (f"(x{res['wall'] / lat_floor:.3f}; x{res['wall'] / fake_floor:.3f} of the fake's "
              f"{args.service_ms:.2f} ms service time)" if lat_floor else "(no latency)")
    print(f"  wall {res['wall']:.2f}s, latency floor {lat_floor:.2f}s {ratios}, "
          f"{tags / res['wall']:.0f} tags/s, "
          f"peak RSS {res['rss_mb']:.1f} MB, CPU registry-gc {res['cpu']:.2f}s, "
          f"fake {res['fake_cpu']:.2f}s", flush=True)
    if size >= 10_000 and lat_floor:
        check(f"{tags} tags: wall <= 1.25 x latency floor (C={args.concurrency}, "
              f"{args.latency_ms} ms)", res["wall"] <= 1.25 * lat_floor,
              f"{res['wall']:.2f}s vs {lat_floor:.2f}s = x{res['wall'] / lat_floor:.3f}")
    if size >= 100_000:
        check(f"{tags} tags: peak RSS <= 30 MB", res["rss_mb"] <= 30, f"{res['rss_mb']:.1f} MB")

    # The same run over GraphQL, same latency.
    if not args.rest_only:
        gfloor, ggone = model.floor(fixture, CONFIGS["defaults"], api="graphql")
        g = one_run(args, path, fixture, APIS["graphql"], args.latency_ms, label="graphql")
        requests_vs_floor(tags, "defaults", fixture, g, gfloor, ggone, api="graphql")
        gtotal = g["stats"]["total"]
        glat = gtotal * args.latency_ms / 1000 / args.concurrency
        rows[-1]["graphql"] = {"by_endpoint": by_endpoint(g["stats"], "graphql"), "total": gtotal,
                               "floor": gfloor["total"], "wall": g["wall"], "latency_floor": glat,
                               "rss_mb": g["rss_mb"], "cpu": g["cpu"]}
        ratio = total / gtotal
        print(f"  GraphQL: {gtotal} requests (floor {gfloor['total']}), REST/GraphQL {ratio:.2f}, "
              f"wall {g['wall']:.2f}s (x{res['wall'] / g['wall']:.2f} "
              f"faster), peak RSS {g['rss_mb']:.1f} MB", flush=True)
        if size >= 10_000:
            check(f"{tags} tags: requests REST/GraphQL >= 5", ratio >= 5,
                  f"{total} / {gtotal} = {ratio:.2f}")
            if glat:
                check(f"{tags} tags over GraphQL: wall <= 1.25 x latency floor",
                      g["wall"] <= 1.25 * glat,
                      f"{g['wall']:.2f}s vs {glat:.2f}s = x{g['wall'] / glat:.3f}")
        if size >= 100_000:
            check(f"{tags} tags over GraphQL: peak RSS <= 30 MB", g["rss_mb"] <= 30,
                  f"{g['rss_mb']:.1f} MB")

    # The other rule configurations: request counts only, so no latency.
    for name, env in CONFIGS.items():
        if name == "defaults" or args.only_timed:
            continue
        for api in ["rest"] if args.rest_only else ["rest", "graphql"]:
            floor, gone = model.floor(fixture, env, api=api)
            res = one_run(args, path, fixture, {**env, **APIS[api]}, 0, label=f"{name} {api}")
            requests_vs_floor(tags, name, fixture, res, floor, gone, api=api)
    return path, fixture


def bench_rate_limit(args, path, fixture, rate):
    tags = model.count_tags(fixture)
    print(f"\n== rate limit {rate} requests/s, {tags} tags, {args.latency_ms} ms latency, "
          f"GC_CONCURRENCY={args.concurrency}", flush=True)
    faults = {"rate_limit": {"limit": rate, "period_secs": 1, "retry_after": True}}
    res = one_run(args, path, fixture, {}, args.latency_ms, faults, label=f"rate {rate}")
    stats = res["stats"]
    throttled = stats["faults"].get("rate_limit", 0)
    total = stats["total"]
    served = total - throttled
    throughput = served / res["wall"]
    floor, _ = model.floor(fixture, {})
    print(f"  {total} requests ({throttled} answered 429), floor {floor['total']}, "
          f"wall {res['wall']:.2f}s, {throughput:.1f} requests/s served", flush=True)
    check(f"rate limit {rate}/s: throughput >= 85% of the limit", throughput >= 0.85 * rate,
          f"{throughput:.1f}/s = {100 * throughput / rate:.1f}%")
    check(f"rate limit {rate}/s: 429s <= 2% of requests", throttled <= 0.02 * total,
          f"{throttled} of {total} = {100 * throttled / total:.2f}%")
    check(f"rate limit {rate}/s: requests beyond the floor are only the 429s",
          served == floor["total"] and res["code"] == 0,
          f"{served} answered requests vs floor {floor['total']}")
    return {"rate": rate, "tags": tags, "total": total, "throttled": throttled,
            "wall": res["wall"], "throughput": throughput}


def measure_service_time(args, path, fixture, samples=60):
    """The fake's own time per request at the configured latency: one client, one keep-alive
    connection, sequential tag details requests. Its excess over the nominal latency (sleep
    overshoot, parsing, locking) is the fake's, and no client can beat it."""
    import http.client
    import urllib.parse
    workdir = tempfile.mkdtemp(prefix="service-", dir=args.tmp)
    fake = Fake(args.fake, path, workdir, {"latency_ms": args.latency_ms})
    try:
        project = fixture["projects"][0]
        repo = project["repositories"][0]
        tag = repo["tags"][0]["name"]
        u = urllib.parse.urlparse(fake.api)
        conn = http.client.HTTPConnection(u.hostname, u.port)
        target = f"{u.path}/projects/{project['id']}/registry/repositories/{repo['id']}/tags/{tag}"
        times = []
        for _ in range(samples):
            t0 = time.perf_counter()
            conn.request("GET", target, headers={"PRIVATE-TOKEN": model.TOKEN})
            conn.getresponse().read()
            times.append(time.perf_counter() - t0)
        conn.close()
    finally:
        fake.stop()
    return statistics.median(times) * 1000


def bench_startup(args, runs=21):
    """Process spawn to the first request's bytes on a socket this script listens on."""
    print(f"\n== startup: spawn to first request, {runs} runs", flush=True)
    workdir = tempfile.mkdtemp(prefix="startup-", dir=args.tmp)
    samples = []
    for _ in range(runs):
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        port = server.getsockname()[1]
        env = {
            "CI_API_V4_URL": f"http://127.0.0.1:{port}/api/v4", "API_TOKEN": model.TOKEN,
            "GC_SCOPE": "group", "GC_GROUP": model.GROUP, "GC_DRY_RUN": "false",
            "GC_API": "rest",
            "GC_LOG_FILE": os.path.join(workdir, "gc.log"),
            "GC_JUNIT_FILE": os.path.join(workdir, "gc-junit.xml"),
            "GC_REPORT_FILE": os.path.join(workdir, "gc-report.json"),
        }
        t0 = time.perf_counter()
        proc = subprocess.Popen([args.gc], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, cwd=workdir)
        conn, _ = server.accept()
        data = conn.recv(65536)
        t1 = time.perf_counter()
        assert data.startswith(b"GET "), data[:40]
        body = b'{"message":"401 Unauthorized"}'
        conn.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        conn.close()
        proc.wait()
        server.close()
        samples.append((t1 - t0) * 1000)
    samples.sort()
    med = statistics.median(samples)
    print(f"  min {samples[0]:.2f} ms, median {med:.2f} ms, max {samples[-1]:.2f} ms", flush=True)
    check("startup to first request <= 10 ms (median)", med <= 10, f"{med:.2f} ms")
    return {"min": samples[0], "median": med, "max": samples[-1]}


def table(rows, args):
    print(f"\n== summary (latency {args.latency_ms} ms, fake service time {args.service_ms:.2f} ms, "
          f"GC_CONCURRENCY={args.concurrency}, defaults, GC_DRY_RUN=false, group scope)")
    head = ("| tags | repos | repo pages | tag pages | details | deletes | protection rules "
            "| requests | REST floor "
            "| wall s | latency floor s | wall/floor | wall/fake floor | tags/s | peak RSS MB "
            "| CPU gc s | CPU fake s |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in rows:
        e = r["by_endpoint"]
        ratio = (lambda floor: f"{r['wall'] / floor:.3f}" if floor else "-")
        print(f"| {r['tags']} | {r['repos']} | {e[0]} | {e[1]} | {e[2]} | {e[3]} | {e[4]} | "
              f"{r['total']} | "
              f"{r['floor']} | {r['wall']:.2f} | {r['latency_floor']:.2f} | "
              f"{ratio(r['latency_floor'])} | {ratio(r['fake_floor'])} | "
              f"{r['tags_per_s']:.0f} | "
              f"{r['rss_mb']:.1f} | {r['cpu']:.2f} | {r['fake_cpu']:.2f} |")
    graphql = [r for r in rows if "graphql" in r]
    if graphql:
        print("\n| tags | REST requests | GraphQL requests | GraphQL floor | REST/GraphQL "
              "| probe | repo pages | tag pages (20) | REST details | delete calls (20) "
              "| REST deletes | GraphQL wall s | latency floor s | peak RSS MB |")
        print("|" + "---|" * 14)
        for r in graphql:
            g = r["graphql"]
            e = g["by_endpoint"]
            print(f"| {r['tags']} | {r['total']} | {g['total']} | {g['floor']} | "
                  f"{r['total'] / g['total']:.2f} | {e[0]} | {e[1]} | {e[2]} | {e[3]} | {e[4]} | "
                  f"{e[5]} | {g['wall']:.2f} | {g['latency_floor']:.2f} | {g['rss_mb']:.1f} |")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="1k and 10k tags only (CI smoke)")
    p.add_argument("--sizes", help="comma-separated tag counts (default 1000,10000,100000)")
    p.add_argument("--only-timed", action="store_true",
                   help="only the timed run (default rules) of each size: no other rule "
                        "configurations, rate limits or startup (e.g. peak RSS of one size)")
    p.add_argument("--rest-only", action="store_true",
                   help="skip the GraphQL runs (REST and GraphQL side by side by default)")
    p.add_argument("--latency-ms", type=int, default=20,
                   help="latency per request of the timed runs (0: no wall-time target)")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--rate", type=int, action="append",
                   help="rate limit(s) in requests/s (default 100; full mode adds 250)")
    p.add_argument("--rate-size", type=int, help="tag count of the rate-limited runs")
    p.add_argument("--gc", required=True, help="registry-gc release binary")
    p.add_argument("--fake", required=True, help="fake-gitlab release binary")
    p.add_argument("--time", default="/usr/bin/time")
    p.add_argument("--no-state-check", dest="check_state", action="store_false",
                   help="skip comparing the fake's final state with the model")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args()
    sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes
             else [1000, 10_000] if args.quick else [1000, 10_000, 100_000])
    rates = args.rate or ([100] if args.quick else [100, 250])
    args.tmp = tempfile.mkdtemp(prefix="registry-gc-bench-")
    print(f"registry-gc benchmark {time.strftime('%Y-%m-%d %H:%M:%S %Z')} on "
          f"{os.cpu_count()} CPUs; work dir {args.tmp}", flush=True)
    began = time.monotonic()
    rows = []
    fixtures = {}
    try:
        first = write_fixture(args, sizes[0])
        args.service_ms = measure_service_time(args, *first)
        print(f"fake-gitlab service time at {args.latency_ms} ms latency: {args.service_ms:.2f} ms "
              "per request (median, one connection)", flush=True)
        for size in sizes:
            fixtures[size] = bench_size(args, size, rows)
        rate_rows = []
        for i, rate in enumerate([] if args.only_timed else rates):
            # 1k tags for the first rate; the next ones on the next size, so runs last ~10-50 s.
            size = sizes[min(i, len(sizes) - 1)] if args.rate_size is None else args.rate_size
            if size not in fixtures:
                fixtures[size] = write_fixture(args, size)
            rate_rows.append(bench_rate_limit(args, *fixtures[size], rate))
        startup = None if args.only_timed else bench_startup(args)
        table(rows, args)
        if rate_rows:
            print("\n| rate limit /s | tags | requests | 429s | wall s | served requests/s "
                  "| % of limit |")
            print("|---|---|---|---|---|---|---|")
        for r in rate_rows:
            print(f"| {r['rate']} | {r['tags']} | {r['total']} | {r['throttled']} | "
                  f"{r['wall']:.2f} | {r['throughput']:.1f} | "
                  f"{100 * r['throughput'] / r['rate']:.1f} |")
        if startup:
            print(f"\nstartup (spawn to first request): min {startup['min']:.2f} ms, "
                  f"median {startup['median']:.2f} ms, max {startup['max']:.2f} ms")
    finally:
        if not args.keep:
            shutil.rmtree(args.tmp, ignore_errors=True)
    return report_targets(f" ({time.monotonic() - began:.0f}s)")


if __name__ == "__main__":
    sys.exit(main())
