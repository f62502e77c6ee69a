#!/usr/bin/env bash
# Runs registry-gc on the bundled demo registry: starts the fake GitLab with the demo fixture on
# 127.0.0.1, runs a dry-run, a real run and a second real run (which finds nothing left to do),
# shows the summaries and where the reports are, and stops the fake.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --release -p registry-gc -p fake-gitlab
bin=target/release
out=demo-output
rm -rf "$out" && mkdir -p "$out"

"$bin/fake-gitlab" --fixture component-tests/fixtures/demo.json --addr 127.0.0.1:0 --url-file "$out/api-url" >"$out/fake-gitlab.log" 2>&1 &
fake=$!
trap 'kill "$fake" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$out/api-url" ] && break; sleep 0.05; done
[ -s "$out/api-url" ] || { echo "error: the fake GitLab did not start (see $out/fake-gitlab.log)" >&2; exit 1; }

export CI_API_V4_URL="$(cat "$out/api-url")"
export API_TOKEN=glpat-demo-token GC_SCOPE=group GC_GROUP=demo GC_POLICY_APPLY=true GC_POLICY_KEEP_N=25
# Tags named after merge requests (mr-<iid>, preview-<iid>) or branches (their slug): rule stale-ref.
export GC_STALE_REF_REGEX='(mr|preview)-(?P<mr>[0-9]+)|(?P<slug>.+)'

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

printf '\nReports of each run: %s/<run>/gc.log, gc-junit.xml, gc-report.json\n' "$out"
