#!/usr/bin/env bash
# Runs registry-gc on the bundled demo registry: starts the fake GitLab with the demo fixture on
# 127.0.0.1 (it starts a real docker-registry behind it and pushes the demo's images: an app with
# branch images, multi-arch and buildx-attested images, BuildKit caches in both forms, signed
# releases, a Helm chart and a few really broken tags), runs a dry-run, a real run and a second
# real run (which finds nothing left to do), then the registry's own garbage collection, and
# prints what the registry held before and after: tags, manifests and bytes on disk beside
# registry-gc's own estimate, and whether every tag it kept still resolves.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-registry >/dev/null 2>&1 && [ ! -x /usr/bin/docker-registry ]; then
  echo "installing Debian's docker-registry (the demo's real registry)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
fi

cargo build --quiet --release -p registry-gc -p fake-gitlab
bin=target/release
out=demo-output
rm -rf "$out" && mkdir -p "$out"

"$bin/fake-gitlab" --fixture component-tests/fixtures/demo.json --addr 127.0.0.1:0 --url-file "$out/api-url" >"$out/fake-gitlab.log" 2>&1 &
fake=$!
trap 'kill "$fake" 2>/dev/null || true' EXIT
for _ in $(seq 300); do [ -s "$out/api-url" ] && break; kill -0 "$fake" 2>/dev/null || break; sleep 0.05; done
[ -s "$out/api-url" ] || { echo "error: the fake GitLab did not start:" >&2; tail -n 5 "$out/fake-gitlab.log" >&2; exit 1; }

export CI_API_V4_URL="$(cat "$out/api-url")"
base=${CI_API_V4_URL%/api/v4}
export API_TOKEN=glpat-demo-token GC_SCOPE=group GC_GROUP=demo GC_POLICY_APPLY=true GC_POLICY_KEEP_N=25
# Tags named after merge requests (mr-<iid>, preview-<iid>) or branches (their slug): rule stale-ref.
export GC_STALE_REF_REGEX='(mr|preview)-(?P<mr>[0-9]+)|(?P<slug>.+)'

control() { python3 -c 'import json,sys,urllib.request
req = urllib.request.Request(sys.argv[1], method=sys.argv[2])
print(json.dumps(json.load(urllib.request.urlopen(req, timeout=120))))' "$base/__fake/$1" "${2:-GET}"; }

control registry >"$out/registry-before.json"
# The registry registry-gc reads what GitLab cannot show (in a job: https://$CI_REGISTRY).
export GC_REGISTRY_URL="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$out/registry-before.json")"
control registry/resolve >"$out/resolve-before.json"

step() {
  local name=$1 dry=$2
  mkdir -p "$out/$name"
  printf '\n=== %s (GC_DRY_RUN=%s) ===\n' "$name" "$dry"
  set +e
  (cd "$out/$name" && GC_DRY_RUN=$dry "../../$bin/registry-gc")
  local code=$?
  set -e
  echo "exit code: $code"
  grep -E '^(would-delete|deleted|policy) ' "$out/$name/gc.log" || true
}

step 1-dry-run true
step 2-real-run false
step 3-second-run false

control registry >"$out/registry-after-runs.json"
control "registry/garbage-collect" POST >"$out/gc.json"
control registry/resolve >"$out/resolve-after-gc.json"
control "registry/garbage-collect?delete_untagged=true" POST >"$out/gc-delete-untagged.json"
control registry/resolve >"$out/resolve-after-gc-delete-untagged.json"

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
load = lambda name: json.load(open(f"{out}/{name}"))
before = load("registry-before.json")["disk"]
after_runs = load("registry-after-runs.json")["disk"]
gc, gc_m = load("gc.json"), load("gc-delete-untagged.json")
report = load("2-real-run/gc-report.json")["summary"]
resolving = lambda name: {(r["repository"], r["tag"]) for r in load(name) if r["problem"] is None}
ok_before = resolving("resolve-before.json")
def lost(name):
    now_listed = {(r["repository"], r["tag"]) for r in load(name)}
    return sorted(f"{r}:{t}" for (r, t) in ok_before & now_listed - resolving(name))
mib = lambda b: f"{b / 1048576:.2f} MiB"
rows = [("before registry-gc", before), ("after registry-gc", after_runs),
        ("after garbage-collect", gc["after"]), ("after garbage-collect --delete-untagged", gc_m["after"])]
print(f"\n=== the registry on disk ({load('registry-before.json')['mode']} mode) ===")
print(f"{'':42} {'tags':>5} {'manifests':>10} {'blobs':>6} {'bytes on disk':>14}")
for label, d in rows:
    print(f"{label:42} {d['tags']:>5} {d['manifests']:>10} {d['blobs']:>6} {mib(d['bytes']):>14}")
print(f"\nregistry-gc deleted {report['deleted']} tags; its estimate of bytes reclaimed: {mib(report['bytes_reclaimed'])}")
print(f"freed on disk: {mib(before['bytes'] - gc['after']['bytes'])} by garbage-collect, "
      f"{mib(before['bytes'] - gc_m['after']['bytes'])} with --delete-untagged")
for name, label in [("resolve-after-gc.json", "garbage-collect"), ("resolve-after-gc-delete-untagged.json", "garbage-collect --delete-untagged")]:
    broken = lost(name)
    if broken:
        print(f"after {label}: {len(broken)} kept tags no longer resolve: {', '.join(broken)}")
    else:
        print(f"after {label}: every kept tag still resolves (manifest, platform manifests, blobs)")
PY

printf '\nReports of each run: %s/<run>/gc-report.html (open it in a browser), gc.log, gc-junit.xml, gc-report.json, gc.env\n' "$out"
