#!/usr/bin/env python3
"""registry-gc on a real registry: the requests inspection costs (issue 12).

Runs the release binaries on the world of registry_world.py (a real `docker-registry` behind
the fake, without GitLab's metadata database), under default rules and an age rule, over REST
and GraphQL, with inspection on (`GC_INSPECT=auto`) and off (`GC_INSPECT=false`, the seed's
rule: every tag GitLab cannot show is `broken`). The truth is on the servers: the fake's
request counters for GitLab and its token realm, the registry's own access log for the
registry (registry-gc's requests told from the fake's by their User-Agent). Runs with
inspection on are compared with registry_world.floor() exactly, requests and final state.
Standard library only. See component-tests/bench/README.md.
"""

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import registry_world as world  # noqa: E402

REALM = "GET /jwt/auth"
ACCESS = re.compile(r'"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d{3}) .*"([^"]*)"$')


def registry_requests(log_path, skip_lines):
    """registry-gc's requests in the registry's access log after `skip_lines`, by kind."""
    out = {"base": 0, "manifests": 0, "digests": 0, "blobs": 0, "other": 0}
    with open(log_path, errors="replace") as f:
        for i, line in enumerate(f):
            m = ACCESS.search(line.rstrip())
            if i < skip_lines or not m or not m.group(4).startswith("registry-gc/"):
                continue
            method, path = m.group(1), m.group(2).split("?")[0]
            if path == "/v2/":
                out["base"] += 1
            elif "/manifests/" in path:
                out["digests" if method == "HEAD" else "manifests"] += 1
            elif "/blobs/" in path:
                out["blobs"] += 1
            else:
                out["other"] += 1
    return out


def one_run(args, fixture_path, env_extra, label):
    workdir = tempfile.mkdtemp(prefix="run-", dir=args.tmp)
    fake = bench.Fake(args.fake, fixture_path, workdir, {"latency_ms": 0})
    try:
        info = fake.get("/__fake/registry")
        log = os.path.join(os.path.dirname(info["config"]), "registry.log")
        with open(log, errors="replace") as f:
            skip = sum(1 for _ in f)
        before = fake.get("/__fake/state")
        env = {"GC_REGISTRY_URL": info["url"], **env_extra}
        res = bench.run_gc(args, fake, workdir, env)
        stats = fake.get("/__fake/stats")
        after = fake.get("/__fake/state")
        res["registry"] = registry_requests(log, skip)
    finally:
        fake.stop()
    res["stats"] = stats
    res["before"], res["after"] = tags_of(before), tags_of(after)
    with open(os.path.join(workdir, "gc-report.json")) as f:
        report = json.load(f)
    res["by_rule"] = {}
    for repo in report.get("repositories", []):
        for tag in repo.get("tags", []):
            if tag.get("action") in ("deleted", "delete"):
                rule = tag.get("rule", "?")
                res["by_rule"][rule] = res["by_rule"].get(rule, 0) + 1
    if res["code"] != 0:
        with open(os.path.join(workdir, "gc.err")) as f:
            print(f"  registry-gc exited {res['code']} ({label}):\n{f.read()[-2000:]}")
    return res


def tags_of(state):
    """Every (repository path, tag) of the fake's `/__fake/state`."""
    return {(path, t) for p in state["projects"].values()
            for path, tags in p["repositories"].items() for t in tags}


def resolve(gone, before):
    """The model's deleted tags, `*.att` patterns resolved against the state before the run."""
    out = set()
    for path, name in gone:
        if name.startswith("*"):
            out |= {(p, t) for p, t in before if p == path and t.endswith(name[1:])}
        else:
            out.add((path, name))
    return out


def gitlab_requests(stats):
    by = dict(stats["by_endpoint"])
    realm = by.pop(REALM, 0)
    return stats["total"] - realm, realm, by


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--size", type=int, default=1000, help="about this many tags (default 1000)")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--gc", required=True)
    p.add_argument("--fake", required=True)
    p.add_argument("--time", default="/usr/bin/time")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args()
    args.tmp = tempfile.mkdtemp(prefix="registry-gc-registry-bench-")
    # The registry's access log (off in the fake's configuration; distribution reads
    # REGISTRY_* overrides from its environment, which it inherits from the fake).
    os.environ["REGISTRY_LOG_ACCESSLOG_DISABLED"] = "false"
    os.environ["FAKE_GITLAB_REGISTRY_DIR"] = args.tmp
    fixture = world.generate(args.size)
    path = os.path.join(args.tmp, "fixture.json")
    with open(path, "w") as f:
        json.dump(fixture, f)
    tags = world.count_tags(fixture)
    print(f"registry-gc on a real registry {time.strftime('%Y-%m-%d %H:%M:%S %Z')}: {tags} tags "
          f"in {2 * len(fixture['projects'])} repositories of {len(fixture['projects'])} "
          f"projects (legacy: no metadata database); work dir {args.tmp}", flush=True)
    rows = []
    try:
        for config, env in world.CONFIGS.items():
            for api in ["rest", "graphql"]:
                runs = {}
                for inspect in ["auto", "false"]:
                    label = f"{config}, {api}, GC_INSPECT={inspect}"
                    started = time.monotonic()
                    runs[inspect] = one_run(args, path, {**env, **bench.APIS[api],
                                                         "GC_INSPECT": inspect}, label)
                    runs[inspect]["elapsed"] = time.monotonic() - started
                on, off = runs["auto"], runs["false"]
                floor, gone = world.floor(fixture, env, api)
                gl, realm, by = gitlab_requests(on["stats"])
                reg = on["registry"]
                reg_total = realm + reg["base"] + reg["manifests"] + reg["digests"] + reg["blobs"]
                got = {"base": reg["base"], "tokens": realm,
                       "manifests": reg["manifests"] + reg["blobs"], "digests": reg["digests"]}
                bench.check(f"{label.replace('false', 'auto')}: registry requests == model",
                            got == floor["registry"] and reg["other"] == 0 and on["code"] == 0,
                            f"{reg_total} ({got}) vs model {floor['registry_total']} "
                            f"({floor['registry']})")
                bench.check(f"{config}, {api}: GitLab requests == model", gl == floor["gitlab_total"],
                            f"{gl} vs model {floor['gitlab_total']}; by endpoint "
                            + json.dumps({k: v for k, v in sorted(by.items())}))
                deleted = on["before"] - on["after"]
                expected = resolve(gone, on["before"])
                bench.check(f"{config}, {api}: deleted tags == model", deleted == expected,
                            f"{len(deleted)} deleted, model {len(expected)}"
                            + ("" if deleted == expected else
                               f"; extra {sorted(deleted - expected)[:4]}, "
                               f"missing {sorted(expected - deleted)[:4]}"))
                gl_off, realm_off, _ = gitlab_requests(off["stats"])
                reg_off = sum(v for v in off["registry"].values()) + realm_off
                rows.append({
                    "config": config, "api": api,
                    "gitlab_on": gl, "registry_on": reg_total,
                    "deleted_on": len(deleted), "rules_on": on["by_rule"],
                    "gitlab_off": gl_off, "registry_off": reg_off,
                    "deleted_off": len(off["before"] - off["after"]), "rules_off": off["by_rule"],
                    "wall_on": on["wall"], "wall_off": off["wall"],
                })
    finally:
        if not args.keep:
            shutil.rmtree(args.tmp, ignore_errors=True)

    print(f"\n| rules | API | GitLab requests on / off | registry requests on / off "
          f"| per tag on / off | deleted on / off | deleted by rule, on | wall s on / off |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        per_on = (r["gitlab_on"] + r["registry_on"]) / tags
        per_off = (r["gitlab_off"] + r["registry_off"]) / tags
        rules = ", ".join(f"{k} {v}" for k, v in sorted(r["rules_on"].items()))
        print(f"| {r['config']} | {r['api']} | {r['gitlab_on']} / {r['gitlab_off']} "
              f"| {r['registry_on']} / {r['registry_off']} | {per_on:.2f} / {per_off:.2f} "
              f"| {r['deleted_on']} / {r['deleted_off']} | {rules} "
              f"| {r['wall_on']:.2f} / {r['wall_off']:.2f} |")
    return bench.report_targets()


if __name__ == "__main__":
    sys.exit(main())
