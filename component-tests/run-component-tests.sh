#!/usr/bin/env bash
# The shipping tests of registry-gc: the static binary, the images and the CI/CD component.
#
#   component-tests/run-component-tests.sh [static|chroot|images|pipelines|page ...]   (default: all)
#
# Works on a fresh Debian machine as root, without stdin, and again and again (idempotent):
#   1. installs what is missing: apt musl-tools rsync buildah busybox-static file chromium, the
#      rustup musl target, and into component-tests/.tools/ (git-ignored): Node 22 +
#      gitlab-ci-local (npm) and check-jsonschema + PyYAML (a venv);
#   2. builds the musl binary and the fake GitLab (release profile, reused between runs);
#   3. checks the binary is static and small, the template (both GitLab interpolation modes,
#      GitLab's CI JSON schema), the docs' inputs table and .gitlab-ci.yml;
#   4. runs the binary in an empty chroot against the fake GitLab: dry run, then a real run;
#   5. builds the runtime and ci images offline with buildah and runs both against the fake;
#   6. runs test pipelines with gitlab-ci-local that include the component the way users do,
#      and checks artifacts, dry run in merge requests, deletion on the default branch, the
#      default rules, every input's mapping, the safety limit, input validation, and the
#      dotenv figures reaching jobs of later stages;
#   7. opens gc-report.html of a demo run and of a 10,000-tag run (with hostile tag names) in
#      headless Chromium and checks it against gc-report.json (component-tests/browser/); the
#      demo page's screenshot is written to the work directory (UPDATE_SCREENSHOT=1 copies it to
#      docs/report-page.png).
# Prints `N passed, N failed` last and exits non-zero on any failure.
#
# Environment: CARGO_TARGET_DIR (default ./target), DOCS (Markdown files whose inputs table must
# match the template; default: README.md),
# KEEP_WORK=1 keeps the temporary directory for inspection.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CT=$ROOT/component-tests
TOOLS=$CT/.tools
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
MUSL=x86_64-unknown-linux-musl
BIN=$TARGET_DIR/$MUSL/release/registry-gc
FAKE_BIN=$TARGET_DIR/release/fake-gitlab
FIXTURE=$CT/fixtures/demo.json
TOKEN=glpat-demo-token
PROJECT_ID=1
SIZE_BUDGET=$((5 * 1024 * 1024))
GITLAB_CI_LOCAL_VERSION=4.75.1
NODE_VERSION=22
CHECK_JSONSCHEMA_VERSION=0.39.0
export DEBIAN_FRONTEND=noninteractive CARGO_TERM_COLOR=never

START=$(date +%s)
PASSED=0
FAILED=0
FAILURES=()
WORK=$(mktemp -d /tmp/registry-gc-ct.XXXXXX)
FAKE_PID=
BH_ROOT=$WORK/buildah

log() { printf '\n== %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); printf 'PASS %s\n' "$1"; }
fail() {
  FAILED=$((FAILED + 1)); FAILURES+=("$1"); printf 'FAIL %s\n' "$1"
  if [ -n "${2:-}" ]; then printf '%s\n' "$2" | tail -n 25 | sed 's/^/     | /'; fi
}
# check NAME COMMAND...: passes when the command succeeds; shows its output when it does not.
check() {
  local name=$1 out; shift
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$out"; fi
}
bh() { buildah --root "$BH_ROOT/storage" --runroot "$BH_ROOT/run" --storage-driver vfs "$@"; }

cleanup() {
  stop_fake
  if [ -d "$BH_ROOT" ]; then
    bh unmount --all >/dev/null 2>&1 || true
    bh rm --all >/dev/null 2>&1 || true
  fi
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

finish() {
  local took=$(( $(date +%s) - START ))
  echo
  if [ "$FAILED" -gt 0 ]; then
    echo "failed checks:"
    printf '  - %s\n' "${FAILURES[@]}"
  fi
  echo "component tests took ${took}s"
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

# ------------------------------------------------------------------ fake GitLab
# start_fake [FIXTURE]: the demo fixture unless another is given.
start_fake() {
  stop_fake
  rm -f "$WORK/fake.url"
  "$FAKE_BIN" --fixture "${1:-$FIXTURE}" --addr 127.0.0.1:0 --url-file "$WORK/fake.url" >>"$WORK/fake.log" 2>&1 &
  FAKE_PID=$!
  for _ in $(seq 100); do
    if [ -s "$WORK/fake.url" ]; then
      API=$(tr -d '[:space:]' <"$WORK/fake.url")
      # The fake's registry (none for a fixture in memory), as GC_REGISTRY_URL for the jobs.
      REGISTRY_URL=$(py -c 'import json,sys,urllib.request
print(json.load(urllib.request.urlopen(sys.argv[1] + "/__fake/registry")).get("url", ""))' "${API%/api/v4}")
      return 0
    fi
    kill -0 "$FAKE_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "fake-gitlab did not start:"; tail -n 20 "$WORK/fake.log"
  return 1
}
stop_fake() {
  if [ -n "${FAKE_PID:-}" ]; then
    kill "$FAKE_PID" 2>/dev/null || true
    wait "$FAKE_PID" 2>/dev/null || true
    FAKE_PID=
  fi
}
py() { "$TOOLS/venv/bin/python" "$@"; }
ct() { py "$CT/lib/ct.py" "$@"; }
snapshot() { ct snapshot "$API" "$TOKEN" "$@"; }
# tags in a snapshot
count_tags() { py -c 'import json,sys; print(sum(len(v) for v in json.load(sys.stdin).values()))'; }
json_get() { ct get "$@"; }

# ------------------------------------------------------------------ 1. tools
install_tools() {
  log "tools"
  local missing=()
  for pkg in musl-tools rsync buildah busybox-static file git curl ca-certificates python3 python3-venv npm docker-registry chromium; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  # The machine's own python3 (pyenv) and node/npm may come from elsewhere than apt.
  local really_missing=()
  for pkg in "${missing[@]}"; do
    case $pkg in
      python3) command -v python3 >/dev/null || really_missing+=("$pkg") ;;
      python3-venv) python3 -c 'import venv, ensurepip' 2>/dev/null || really_missing+=("$pkg") ;;
      npm) command -v npm >/dev/null || really_missing+=("$pkg") ;;
      *) really_missing+=("$pkg") ;;
    esac
  done
  if [ "${#really_missing[@]}" -gt 0 ]; then
    echo "apt-get install ${really_missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${really_missing[@]}" >/dev/null
  fi
  if ! rustup target list --installed | grep -qx "$MUSL"; then
    rustup target add "$MUSL"
  fi

  mkdir -p "$TOOLS"
  printf '*\n' >"$TOOLS/.gitignore"
  local have_glcl have_node
  have_glcl=$(py_json_field "$TOOLS/node_modules/gitlab-ci-local/package.json" version)
  have_node=$("$TOOLS/node_modules/.bin/node" --version 2>/dev/null || true)
  if [ "$have_glcl" != "$GITLAB_CI_LOCAL_VERSION" ] || [[ $have_node != v$NODE_VERSION.* ]]; then
    echo "npm install node@$NODE_VERSION gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION into $TOOLS"
    (cd "$TOOLS" && npm install --no-audit --no-fund --loglevel=error \
      "node@$NODE_VERSION" "gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION" </dev/null)
  fi
  if ! "$TOOLS/venv/bin/python" -c 'import yaml, jsonschema, check_jsonschema' 2>/dev/null; then
    echo "python venv with check-jsonschema and PyYAML in $TOOLS/venv"
    rm -rf "$TOOLS/venv"
    python3 -m venv "$TOOLS/venv"
    "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check \
      "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" pyyaml </dev/null
  fi
  SCHEMA=$("$TOOLS/venv/bin/python" -c 'import check_jsonschema, pathlib; print(pathlib.Path(check_jsonschema.__file__).parent / "builtin_schemas/vendor/gitlab-ci.json")')
  echo "node $("$TOOLS/node_modules/.bin/node" --version), gitlab-ci-local $(py_json_field "$TOOLS/node_modules/gitlab-ci-local/package.json" version), $(buildah --version), $(chromium --version 2>/dev/null)"
}
py_json_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2" 2>/dev/null || true; }

# ------------------------------------------------------------------ 2. build
build() {
  log "build (release, $MUSL; target dir $TARGET_DIR)"
  local t0=$(date +%s)
  (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --locked --target "$MUSL" -p registry-gc)
  (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --locked -p fake-gitlab)
  echo "built in $(( $(date +%s) - t0 ))s"
}

# ------------------------------------------------------------------ 3. static checks
static_checks() {
  log "static binary"
  local size file_out ldd_out
  size=$(stat -c %s "$BIN")
  file_out=$(file -b "$BIN")
  ldd_out=$(ldd "$BIN" 2>&1 || true)
  echo "$BIN: $size bytes; file: $file_out; ldd: $ldd_out"
  BINARY_SIZE=$size
  if [[ $file_out == *static* ]]; then pass "file says the binary is static"; else fail "file says the binary is static" "$file_out"; fi
  if [[ $ldd_out == *"statically linked"* || $ldd_out == *"not a dynamic executable"* ]]; then
    pass "ldd says the binary is not dynamic"
  else
    fail "ldd says the binary is not dynamic" "$ldd_out"
  fi
  if [ "$size" -lt "$SIZE_BUDGET" ]; then pass "binary is under 5 MiB ($size bytes)"; else fail "binary is under 5 MiB ($size bytes)"; fi
  if "$BIN" --help | grep -q 'GC_DRY_RUN'; then pass "--help lists the GC_* variables"; else fail "--help lists the GC_* variables" "$("$BIN" --help 2>&1 | head)"; fi

  log "template, docs, .gitlab-ci.yml"
  check "template: interpolation in both GitLab modes, schema, release series" \
    py "$CT/lib/check_template.py" "$ROOT/templates/registry-gc.yml" --schema "$SCHEMA" --cargo-toml "$ROOT/Cargo.toml"
  local docs=${DOCS:-}
  if [ -z "$docs" ]; then
    for doc in "$ROOT/README.md"; do
      if [ -f "$doc" ] && grep -q '^| Input | Type | Default |' "$doc"; then docs="$docs $doc"; fi
    done
    [ -n "$docs" ] || fail "an inputs table (| Input | Type | Default |) exists in README.md"
  fi
  for doc in $docs; do
    check "inputs table of ${doc#"$ROOT"/} matches the template" py "$CT/lib/check_docs_inputs.py" "$ROOT/templates/registry-gc.yml" "$doc"
  done
  check ".gitlab-ci.yml is valid against GitLab's CI JSON schema (check-jsonschema vendor.gitlab-ci)" \
    "$TOOLS/venv/bin/check-jsonschema" --builtin-schema vendor.gitlab-ci --data-transform gitlab-ci "$ROOT/.gitlab-ci.yml"
}

# ------------------------------------------------------------------ 4. empty chroot
chroot_run() {
  log "binary in an empty chroot against the fake GitLab"
  start_fake || { fail "fake-gitlab starts"; return; }
  echo "fake at $API"
  local root=$WORK/chroot before after rc
  rm -rf "$root"; mkdir -p "$root"
  cp "$BIN" "$root/registry-gc"
  before=$(snapshot "$PROJECT_ID")
  run_chroot() {
    env -i CI_API_V4_URL="$API" API_TOKEN="$TOKEN" CI_PROJECT_ID="$PROJECT_ID" "$@" \
      /usr/sbin/chroot "$root" /registry-gc >"$WORK/chroot.out" 2>&1
  }
  rc=0; run_chroot GC_DRY_RUN=true || rc=$?
  after=$(snapshot "$PROJECT_ID")
  if [ "$rc" = 0 ]; then pass "chroot: dry run exits 0"; else fail "chroot: dry run exits 0 (got $rc)" "$(cat "$WORK/chroot.out")"; fi
  if [ -s "$root/gc.log" ] && [ -s "$root/gc-junit.xml" ] && [ -s "$root/gc-report.json" ] && [ -s "$root/gc-report.html" ] && [ -s "$root/gc.env" ]; then
    pass "chroot: dry run writes gc.log, gc-junit.xml, gc-report.json, gc-report.html, gc.env"
  else
    fail "chroot: dry run writes gc.log, gc-junit.xml, gc-report.json, gc-report.html, gc.env" "$(ls -la "$root")"
  fi
  if [ "$before" = "$after" ]; then pass "chroot: dry run deletes nothing"; else fail "chroot: dry run deletes nothing"; fi
  local would
  would=$(json_get "$root/gc-report.json" summary.would_delete 2>/dev/null || echo 0)
  if [ "${would:-0}" -gt 0 ]; then pass "chroot: dry run plans deletions ($would would be deleted)"; else fail "chroot: dry run plans deletions" "$(tail -n 15 "$root/gc.log" 2>/dev/null)"; fi

  rm -f "$root"/gc*
  rc=0; run_chroot GC_DRY_RUN=false || rc=$?
  after=$(snapshot "$PROJECT_ID")
  if [ "$rc" = 0 ]; then pass "chroot: real run exits 0"; else fail "chroot: real run exits 0 (got $rc)" "$(cat "$WORK/chroot.out")"; fi
  local deleted gone
  deleted=$(json_get "$root/gc-report.json" summary.deleted 2>/dev/null || echo -1)
  gone=$(( $(count_tags <<<"$before") - $(count_tags <<<"$after") ))
  # Protected and undeletable broken tags only show at DELETE time: deleted <= planned.
  if [ "$deleted" -gt 0 ] && [ "$deleted" -le "$would" ] && [ "$gone" = "$deleted" ]; then
    pass "chroot: real run deletes ($deleted of the $would planned tags, gone from the fake)"
  else
    fail "chroot: real run deletes (planned $would, reported $deleted, gone $gone)" "$(tail -n 15 "$root/gc.log" 2>/dev/null)"
  fi
  # GitLab sets CI_NODE_TOTAL=1 in every job and CI_NODE_INDEX only in `parallel:` jobs
  # (lib/gitlab/ci/variables/builder.rb); gitlab-ci-local does the same.
  rc=0; run_chroot GC_DRY_RUN=true CI_NODE_TOTAL=1 || rc=$?
  if [ "$rc" = 0 ]; then pass "chroot: CI_NODE_TOTAL=1 without CI_NODE_INDEX (every non-parallel GitLab job) is accepted"; else fail "chroot: CI_NODE_TOTAL=1 without CI_NODE_INDEX (every non-parallel GitLab job) is accepted (exit $rc)" "$(cat "$WORK/chroot.out")"; fi
  local extra
  extra=$(find "$root" -mindepth 1 -not -name 'registry-gc' -not -name 'gc.log' -not -name 'gc-junit.xml' -not -name 'gc-report.json' -not -name 'gc-report.html' -not -name 'gc.env')
  if [ -z "$extra" ]; then pass "chroot: the root holds only the binary and its reports"; else fail "chroot: the root holds only the binary and its reports" "$extra"; fi
  stop_fake
}

# ------------------------------------------------------------------ 5. images
images() {
  log "images (buildah, offline, prebuilt binary)"
  # The context is the repository, as in CI; dist/ holds the prebuilt files (git-ignored).
  mkdir -p "$ROOT/dist"
  printf '*\n' >"$ROOT/dist/.gitignore"
  cp "$BIN" "$ROOT/dist/registry-gc"
  cp /bin/busybox "$ROOT/dist/busybox"
  mkdir -p "$BH_ROOT"
  local target ok=1
  for target in runtime ci; do
    if bh bud --isolation chroot --pull=never --layers=false --quiet \
        --build-arg BINARY_SOURCE=prebuilt --build-arg VERSION=test --build-arg REVISION=0000000 \
        --target "$target" -t "localhost/registry-gc-ct:$target" "$ROOT" >"$WORK/bud-$target.log" 2>&1; then
      pass "image $target builds offline (buildah bud --pull=never)"
    else
      fail "image $target builds offline (buildah bud --pull=never)" "$(cat "$WORK/bud-$target.log")"; ok=0
    fi
  done
  [ "$ok" = 1 ] || return 0
  bh images --format '{{.Name}}:{{.Tag}} {{.Size}}' | grep registry-gc-ct | sed 's/^/  /'
  RUNTIME_SIZE=$(bh images --format '{{.Tag}} {{.Size}}' localhost/registry-gc-ct:runtime | awk '{print $2, $3}')
  CI_SIZE=$(bh images --format '{{.Tag}} {{.Size}}' localhost/registry-gc-ct:ci | awk '{print $2, $3}')

  local cfg
  cfg=$(bh inspect --type image localhost/registry-gc-ct:runtime)
  check "runtime image: scratch + /registry-gc, user 65534, ENTRYPOINT /registry-gc, OCI labels" py - "$cfg" <<'EOF'
import json, sys
c = json.loads(sys.argv[1])
conf = c["OCIv1"]["config"]
labels = conf.get("Labels", {})
problems = []
if conf.get("Entrypoint") != ["/registry-gc"]: problems.append(f"entrypoint {conf.get('Entrypoint')}")
if conf.get("User") != "65534:65534": problems.append(f"user {conf.get('User')}")
if conf.get("WorkingDir") != "/work": problems.append(f"workdir {conf.get('WorkingDir')}")
for k in ("source", "version", "revision", "licenses"):
    if not labels.get(f"org.opencontainers.image.{k}"): problems.append(f"label {k} missing")
if labels.get("org.opencontainers.image.version") != "test": problems.append("version label is not the build arg")
if len(c["OCIv1"]["rootfs"]["diff_ids"]) != 1: problems.append(f"{len(c['OCIv1']['rootfs']['diff_ids'])} layers")
print("\n".join(problems)); sys.exit(1 if problems else 0)
EOF
  cfg=$(bh inspect --type image localhost/registry-gc-ct:ci)
  check "ci image: no ENTRYPOINT, CMD registry-gc, PATH has registry-gc, user 65534" py - "$cfg" <<'EOF'
import json, sys
conf = json.loads(sys.argv[1])["OCIv1"]["config"]
problems = []
if conf.get("Entrypoint"): problems.append(f"entrypoint {conf.get('Entrypoint')}")
if conf.get("Cmd") != ["registry-gc"]: problems.append(f"cmd {conf.get('Cmd')}")
if "PATH=/usr/local/bin:/bin" not in conf.get("Env", []): problems.append(f"env {conf.get('Env')}")
if conf.get("User") != "65534:65534": problems.append(f"user {conf.get('User')}")
print("\n".join(problems)); sys.exit(1 if problems else 0)
EOF

  # The default path (BINARY_SOURCE=build) compiles in RUST_IMAGE, which cannot be pulled here:
  # (buildah 1.28 skips a stage named only by an ARG's default value: say it explicitly)
  # a stand-in toolchain image (busybox; apt-get and rustup do nothing, cargo "builds" by copying
  # the tested binary into target/) checks the stage wiring, `COPY . .` and the output paths.
  local stub=$WORK/stub-rust
  mkdir -p "$stub/tools"
  cp /bin/busybox "$stub/busybox"; cp "$BIN" "$stub/registry-gc"
  printf '#!/bin/sh\nexit 0\n' >"$stub/tools/apt-get"; cp "$stub/tools/apt-get" "$stub/tools/rustup"
  cat >"$stub/tools/cargo" <<'EOS'
#!/bin/sh
set -e
[ -f Cargo.toml ] && [ -f Cargo.lock ] && [ -d src ]
mkdir -p target/x86_64-unknown-linux-musl/release
cp /stub/registry-gc target/x86_64-unknown-linux-musl/release/registry-gc
EOS
  chmod +x "$stub/tools/"*
  cat >"$stub/Containerfile" <<'EOS'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY tools/ /usr/local/bin/
COPY registry-gc /stub/registry-gc
ENV PATH=/usr/local/bin:/usr/bin:/bin
EOS
  if bh bud --isolation chroot --pull=never --layers=false --quiet -f "$stub/Containerfile" -t localhost/stub-rust:1 "$stub" >"$WORK/bud-stub.log" 2>&1 \
     && bh bud --isolation chroot --pull=never --layers=false --quiet --build-arg RUST_IMAGE=localhost/stub-rust:1 \
          --build-arg BINARY_SOURCE=build --target ci -t localhost/registry-gc-ct:from-source "$ROOT" >>"$WORK/bud-stub.log" 2>&1 \
     && ctr=$(bh from --pull-never localhost/registry-gc-ct:from-source) \
     && bh run --isolation chroot "$ctr" -- sh -c 'registry-gc --version && test -x /bin/busybox' >>"$WORK/bud-stub.log" 2>&1; then
    pass "Dockerfile default path (BINARY_SOURCE=build) wires the build stage into ci (stand-in toolchain)"
  else
    fail "Dockerfile default path (BINARY_SOURCE=build) wires the build stage into ci (stand-in toolchain)" "$(cat "$WORK/bud-stub.log")"
  fi
  [ -n "${ctr:-}" ] && bh rm "$ctr" >/dev/null 2>&1 || true

  # runtime: the binary alone, run the way `docker run` would (entrypoint, workdir, user).
  start_fake || { fail "fake-gitlab starts"; return; }
  local ctr mnt before after rc
  before=$(snapshot "$PROJECT_ID")
  ctr=$(bh from --pull-never localhost/registry-gc-ct:runtime)
  rc=0
  bh run --isolation chroot --env CI_API_V4_URL="$API" --env API_TOKEN="$TOKEN" --env CI_PROJECT_ID="$PROJECT_ID" \
    --env GC_DRY_RUN=false "$ctr" -- /registry-gc >"$WORK/run-runtime.out" 2>&1 || rc=$?
  after=$(snapshot "$PROJECT_ID")
  mnt=$(bh mount "$ctr")
  if [ "$rc" = 0 ] && [ -s "$mnt/work/gc-report.json" ] && [ -s "$mnt/work/gc-junit.xml" ] && [ -s "$mnt/work/gc.log" ] \
      && [ "$(stat -c %u:%g "$mnt/work/gc-report.json")" = 65534:65534 ]; then
    pass "runtime image runs as 65534:65534 against the fake and writes its reports to /work"
  else
    fail "runtime image runs against the fake and writes its reports to /work (exit $rc)" "$(cat "$WORK/run-runtime.out"; ls -la "$mnt/work" 2>&1)"
  fi
  local deleted gone
  deleted=$(json_get "$mnt/work/gc-report.json" summary.deleted 2>/dev/null || echo -1)
  gone=$(( $(count_tags <<<"$before") - $(count_tags <<<"$after") ))
  if [ "$deleted" -gt 0 ] && [ "$gone" = "$deleted" ]; then pass "runtime image deletes ($deleted tags)"; else fail "runtime image deletes (reported $deleted, gone $gone)"; fi
  bh unmount "$ctr" >/dev/null; bh rm "$ctr" >/dev/null

  # ci: what GitLab's Docker executor does: a shell script through `sh`, registry-gc on PATH.
  start_fake || { fail "fake-gitlab starts"; return; }
  before=$(snapshot "$PROJECT_ID")
  ctr=$(bh from --pull-never localhost/registry-gc-ct:ci)
  rc=0
  bh run --isolation chroot --env CI_API_V4_URL="$API" --env API_TOKEN="$TOKEN" --env CI_PROJECT_ID="$PROJECT_ID" \
    --env CI_PIPELINE_SOURCE=merge_request_event --env CI_COMMIT_REF_NAME=main --env CI_DEFAULT_BRANCH=main \
    "$ctr" -- sh -c 'set -e; id -u | grep -qx 65534; command -v grep; command -v registry-gc; mkdir -p /tmp/job && cd /tmp/job && registry-gc; grep -c . gc.log' \
    >"$WORK/run-ci.out" 2>&1 || rc=$?
  after=$(snapshot "$PROJECT_ID")
  if [ "$rc" = 0 ]; then pass "ci image: sh, grep and registry-gc on PATH; a job script runs (auto = dry in an MR)"; else fail "ci image: a job script runs (exit $rc)" "$(cat "$WORK/run-ci.out")"; fi
  if [ "$before" = "$after" ]; then pass "ci image: the MR run deleted nothing"; else fail "ci image: the MR run deleted nothing"; fi
  bh rm "$ctr" >/dev/null
  stop_fake
}

# ------------------------------------------------------------------ 6. gitlab-ci-local pipelines
setup_pipeline_project() {
  PROJ=$WORK/pipeline-project
  rm -rf "$PROJ"; mkdir -p "$PROJ"
  cp -r "$ROOT/templates" "$PROJ/templates"
  cp -r "$CT/pipelines" "$PROJ/pipelines"
  # The README's marked examples, as written (only the component's address is this checkout's).
  if py "$CT/lib/readme_pipelines.py" "$ROOT/README.md" "$PROJ/pipelines" >"$WORK/readme-pipelines.log" 2>&1; then
    pass "README examples become pipelines: $(tr '\n' ' ' <"$WORK/readme-pipelines.log")"
  else
    fail "README examples become pipelines" "$(cat "$WORK/readme-pipelines.log")"
  fi
  cp "$ROOT/.gitlab-ci.yml" "$ROOT/Cargo.toml" "$PROJ/"
  mkdir -p "$WORK/home" "$WORK/wrap"
  # registry-gc on the job's PATH, through a wrapper that records the GC_* environment it got.
  cat >"$WORK/wrap/registry-gc" <<EOF
#!/bin/sh
env | grep '^GC_' | sort > gc-env.txt
exec "$BIN" "\$@"
EOF
  chmod +x "$WORK/wrap/registry-gc"
  (
    cd "$PROJ"
    git init -q -b main
    git config user.name component-tests
    git config user.email ct@example.invalid
    git add -A
    git commit -q -m "component tests"
    # The component resolves locally when origin is this project and the ref is HEAD's SHA.
    git remote add origin https://gitlab.example.com/group/registry-gc.git
    git update-ref refs/remotes/origin/main HEAD
    git symbolic-ref refs/remotes/origin/HEAD refs/remotes/origin/main
  )
}

# glcl LOGNAME ARGS...: gitlab-ci-local in the pipeline project, clean environment, no colours.
# The jobs read the fake's registry (GC_REGISTRY_URL) unless NO_REGISTRY=1 (a pipeline that sets
# the registry_url input itself).
glcl() {
  local name=$1; shift
  local registry=()
  if [ -n "${REGISTRY_URL:-}" ] && [ "${NO_REGISTRY:-0}" != 1 ]; then
    registry=(--variable "GC_REGISTRY_URL=$REGISTRY_URL")
  fi
  rm -rf "$PROJ/.gitlab-ci-local"
  (cd "$PROJ" && env -i HOME="$WORK/home" PATH="$WORK/wrap:$TOOLS/node_modules/.bin:/usr/local/bin:/usr/bin:/bin" \
    FORCE_COLOR=0 NO_COLOR=1 GCL_IGNORE_PREDEFINED_VARS=CI_API_V4_URL,CI_PROJECT_ID,CI_PIPELINE_SOURCE,CI_COMMIT_REF_NAME,CI_DEFAULT_BRANCH,CI_COMMIT_BRANCH \
    gitlab-ci-local --color=false --force-shell-executor --shell-isolation --artifacts-to-source=false \
      --variable "CI_API_V4_URL=$API" --variable "API_TOKEN=$TOKEN" --variable "CI_PROJECT_ID=$PROJECT_ID" \
      --variable CI_DEFAULT_BRANCH=main --variable "CI_REGISTRY=$CI_REGISTRY_OF_JOBS" "${registry[@]}" "$@" </dev/null) >"$WORK/glcl-$name.log" 2>&1
}
# GitLab sets CI_REGISTRY in every job (gitlab-ci-local: local-registry.<host>, which would
# wait on DNS here). The fake's registry speaks plain HTTP, which `https://$CI_REGISTRY` cannot
# reach: the jobs get GC_REGISTRY_URL instead (see glcl), as a self-managed instance whose
# registry is not at https://$CI_REGISTRY would set it.
CI_REGISTRY_OF_JOBS=127.0.0.1:1
# Variables of the pipeline sources.
MR_VARS=(--variable CI_PIPELINE_SOURCE=merge_request_event --variable CI_MERGE_REQUEST_IID=7
         --variable CI_COMMIT_REF_NAME=main --unset-variable CI_COMMIT_BRANCH)
MAIN_VARS=(--variable CI_PIPELINE_SOURCE=push --variable CI_COMMIT_REF_NAME=main --variable CI_COMMIT_BRANCH=main)

# artifacts_ok NAME JOB: the four reports in `paths` were collected as artifacts; JUnit parses.
artifacts_ok() {
  local name=$1 job=$2 dir=$PROJ/.gitlab-ci-local/artifacts/$2 f missing=
  for f in gc-report.html gc.log gc-report.json gc-junit.xml; do [ -s "$dir/$f" ] || missing="$missing $f"; done
  if [ -z "$missing" ]; then pass "$name: artifacts gc-report.html, gc.log, gc-report.json, gc-junit.xml collected"; else fail "$name: artifacts collected (missing:$missing)" "$(ls -la "$dir" 2>&1)"; return 1; fi
  if JUNIT=$(ct junit "$dir/gc-junit.xml" 2>&1); then pass "$name: gc-junit.xml is valid JUnit XML"; else fail "$name: gc-junit.xml is valid JUnit XML" "$JUNIT"; return 1; fi
  REPORT_FILE=$dir/gc-report.json
}

# figures_reached NAME PRODUCER CONSUMER CHECK: the gc.env that job PRODUCER wrote keeps
# GitLab's dotenv rules, job CONSUMER of a later stage saw exactly its REGISTRY_GC_* variables,
# and CHECK (python, given the variables as `env` and gc-report.json as `report`, or None when
# the producer wrote none) holds.
figures_reached() {
  local name=$1 builds=$PROJ/.gitlab-ci-local/builds
  check "$name" py - "$CT/lib" "$builds/$2/gc.env" "$builds/$3/figures.txt" "$PROJ/.gitlab-ci-local/artifacts/$2/gc-report.json" "$4" <<'EOF'
import json, os, sys
sys.path.insert(0, sys.argv[1])
import ct
env = ct.dotenv(sys.argv[2])
seen = dict(line.rstrip("\n").split("=", 1) for line in open(sys.argv[3]))
report = json.load(open(sys.argv[4])) if os.path.exists(sys.argv[4]) else None
ok = seen == env and len(env) == 8 and eval(sys.argv[5], {"env": env, "report": report})
print(f"gc.env {env}\nlater job saw {seen}"); sys.exit(0 if ok else 1)
EOF
}

pipelines() {
  log "component pipelines (gitlab-ci-local $GITLAB_CI_LOCAL_VERSION, shell executor)"
  setup_pipeline_project
  local before after rc n

  # --- this project's own .gitlab-ci.yml: parses, includes itself, validates (gitlab-ci-local's schema check)
  API=http://127.0.0.1:9/api/v4
  rc=0; glcl self-branch --file .gitlab-ci.yml --list "${MAIN_VARS[@]}" || rc=$?
  if [ "$rc" = 0 ] && grep -q 'self-test-registry-gc' "$WORK/glcl-self-branch.log" && grep -q 'json schema validated' "$WORK/glcl-self-branch.log"; then
    pass ".gitlab-ci.yml: gitlab-ci-local validates it and resolves the self-include (self-test-registry-gc)"
  else
    fail ".gitlab-ci.yml: gitlab-ci-local validates it and resolves the self-include" "$(cat "$WORK/glcl-self-branch.log")"
  fi
  rc=0; glcl self-tag --file .gitlab-ci.yml --list --variable CI_COMMIT_TAG=0.1.0 --variable CI_PIPELINE_SOURCE=push --unset-variable CI_COMMIT_BRANCH || rc=$?
  if [ "$rc" = 0 ] && grep -qE '^release ' "$WORK/glcl-self-tag.log" && grep -qE '^release-version ' "$WORK/glcl-self-tag.log"; then
    pass ".gitlab-ci.yml: a semver tag pipeline has the release jobs"
  else
    fail ".gitlab-ci.yml: a semver tag pipeline has the release jobs" "$(cat "$WORK/glcl-self-tag.log")"
  fi

  # --- default rules of the component
  local src expect
  while read -r src expect; do
    local vars=()
    case $src in
      mr) vars=("${MR_VARS[@]}") ;;
      main) vars=("${MAIN_VARS[@]}") ;;
      schedule) vars=(--variable CI_PIPELINE_SOURCE=schedule --variable CI_COMMIT_REF_NAME=main --variable CI_COMMIT_BRANCH=main) ;;
      feature) vars=(--variable CI_PIPELINE_SOURCE=push --variable CI_COMMIT_REF_NAME=feature/x --variable CI_COMMIT_BRANCH=feature/x) ;;
      tag) vars=(--variable CI_PIPELINE_SOURCE=push --variable CI_COMMIT_TAG=1.0.0 --variable CI_COMMIT_REF_NAME=1.0.0 --unset-variable CI_COMMIT_BRANCH) ;;
    esac
    glcl "rules-$src" --file pipelines/default-inputs.yml --list-json "${vars[@]}" || true
    n=$(py -c 'import json,re,sys
text=open(sys.argv[1]).read(); jobs=json.loads(text[re.search(r"^\[", text, re.M).start():])
print(sum(1 for j in jobs if j["name"]=="registry-gc" and j.get("when")!="never"))' "$WORK/glcl-rules-$src.log" 2>/dev/null || echo error)
    if [ "$n" = "$expect" ]; then pass "rules: $src pipeline has $expect registry-gc job"; else fail "rules: $src pipeline has $expect registry-gc job (got $n)" "$(cat "$WORK/glcl-rules-$src.log")"; fi
  done <<'EOF'
mr 1
main 1
schedule 1
feature 0
tag 0
EOF

  # --- merge request pipeline: auto must be a dry run
  start_fake || { fail "fake-gitlab starts"; return; }
  before=$(snapshot "$PROJECT_ID")
  rc=0; glcl mr --file pipelines/default-inputs.yml "${MR_VARS[@]}" || rc=$?
  after=$(snapshot "$PROJECT_ID")
  if [ "$rc" = 0 ] && grep -q 'PASS .*registry-gc' "$WORK/glcl-mr.log"; then pass "MR pipeline: the job passes"; else fail "MR pipeline: the job passes (exit $rc)" "$(cat "$WORK/glcl-mr.log")"; fi
  if artifacts_ok "MR pipeline" registry-gc; then
    local dry would skipped
    dry=$(json_get "$REPORT_FILE" dry_run); would=$(json_get "$REPORT_FILE" summary.would_delete)
    skipped=$(py -c 'import json,sys; print(json.loads(sys.argv[1])["skipped"])' "$JUNIT")
    if [ "$dry" = true ]; then pass "MR pipeline: dry_run auto resolved to a dry run ($(json_get "$REPORT_FILE" mode_reason))"; else fail "MR pipeline: dry_run auto resolved to a dry run" "$(ct report "$REPORT_FILE")"; fi
    if [ "$would" -gt 0 ] && [ "$skipped" = "$would" ]; then pass "MR pipeline: JUnit shows each of the $would would-delete tags as skipped"; else fail "MR pipeline: JUnit skipped ($skipped) = would-delete ($would) > 0" "$JUNIT"; fi
  fi
  if [ "$before" = "$after" ]; then pass "MR pipeline: the fake still has all $(count_tags <<<"$after") tags"; else fail "MR pipeline: the fake still has all tags"; fi

  # --- default-branch pipeline: auto deletes
  start_fake || { fail "fake-gitlab starts"; return; }
  before=$(snapshot "$PROJECT_ID")
  rc=0; glcl main --file pipelines/default-inputs.yml "${MAIN_VARS[@]}" || rc=$?
  after=$(snapshot "$PROJECT_ID")
  if [ "$rc" = 0 ] && grep -q 'PASS .*registry-gc' "$WORK/glcl-main.log"; then pass "default-branch pipeline: the job passes"; else fail "default-branch pipeline: the job passes (exit $rc)" "$(cat "$WORK/glcl-main.log")"; fi
  if artifacts_ok "default-branch pipeline" registry-gc; then
    local deleted gone passed
    deleted=$(json_get "$REPORT_FILE" summary.deleted)
    gone=$(( $(count_tags <<<"$before") - $(count_tags <<<"$after") ))
    passed=$(py -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["skipped"], j["failures"])' "$JUNIT")
    if [ "$(json_get "$REPORT_FILE" dry_run)" = false ] && [ "$deleted" -gt 0 ] && [ "$gone" = "$deleted" ]; then
      pass "default-branch pipeline: deletes ($deleted tags gone from the fake)"
    else
      fail "default-branch pipeline: deletes (reported $deleted, gone $gone)" "$(ct report "$REPORT_FILE")"
    fi
    if [ "$passed" = "0 0" ]; then pass "default-branch pipeline: JUnit has no skipped or failed case"; else fail "default-branch pipeline: JUnit has no skipped or failed case" "$JUNIT"; fi
  fi
  local envfile=$PROJ/.gitlab-ci-local/builds/registry-gc/gc-env.txt
  if [ -f "$envfile" ] && grep -qx 'GC_KEEP_N=' "$envfile" && grep -qx 'GC_DRY_RUN=auto' "$envfile"; then
    pass "default inputs: empty inputs reach registry-gc as empty variables (unset)"
  else
    fail "default inputs: empty inputs reach registry-gc as empty variables" "$(cat "$envfile" 2>&1)"
  fi

  # --- every input changed
  start_fake || { fail "fake-gitlab starts"; return; }
  rc=0; NO_REGISTRY=1 glcl all --file pipelines/all-inputs.yml "${MAIN_VARS[@]}" || rc=$?
  if [ "$rc" = 0 ] && grep -q 'PASS .*nightly-registry-gc' "$WORK/glcl-all.log"; then pass "all inputs: job nightly-registry-gc in stage cleanup passes"; else fail "all inputs: job nightly-registry-gc passes (exit $rc)" "$(cat "$WORK/glcl-all.log")"; fi
  envfile=$PROJ/.gitlab-ci-local/builds/nightly-registry-gc/gc-env.txt
  check "all inputs: registry-gc gets exactly the GC_* values of the inputs" py - "$envfile" "$PROJ/pipelines/all-inputs.yml" <<'EOF'
import sys, yaml
env = dict(line.rstrip("\n").split("=", 1) for line in open(sys.argv[1]))
inputs = yaml.safe_load(open(sys.argv[2]))["include"][0]["inputs"]
to_s = lambda v: ("true" if v else "false") if isinstance(v, bool) else str(v)
skip = {"stage", "job_prefix", "image", "artifacts_expire_in", "timeout"}
want = {"GC_" + k.upper(): to_s(v) for k, v in inputs.items() if k not in skip}
want.update(GC_LOG_FILE="gc.log", GC_JUNIT_FILE="gc-junit.xml", GC_REPORT_FILE="gc-report.json",
            GC_HTML_FILE="gc-report.html", GC_DOTENV_FILE="gc.env")
diff = {k: (env.get(k), want.get(k)) for k in set(env) | set(want) if env.get(k) != want.get(k)}
print(diff); sys.exit(1 if diff else 0)
EOF
  if artifacts_ok "all inputs" nightly-registry-gc; then
    check "all inputs: gc-report.json echoes the settings (scope, regexes, keep_n, older_than, flags)" py - "$REPORT_FILE" "$PROJ/pipelines/all-inputs.yml" <<'EOF'
import json, sys, yaml
report = json.load(open(sys.argv[1]))
inputs = yaml.safe_load(open(sys.argv[2]))["include"][0]["inputs"]
s = report["settings"]
problems = []
if report["dry_run"] is not False: problems.append(f"dry_run {report['dry_run']}")
for key in ("keep_regex", "delete_regex"):
    if inputs[key] not in s.get(key, ""): problems.append(f"{key}: {s.get(key)!r} does not hold {inputs[key]!r}")
for key in ("keep_n", "older_than", "cache_suffix", "max_deletions", "api", "age_from",
            "stale_ref_regex", "stale_ref_min_age", "repository_regex", "repository_exclude_regex"):
    if s.get(key) != str(inputs[key]): problems.append(f"{key}: {s.get(key)!r} != {inputs[key]!r}")
if s.get("concurrency") != str(inputs["concurrency"]): problems.append(f"concurrency {s.get('concurrency')}")
for key in ("delete_broken", "delete_orphan_cache", "delete_orphan_referrers"):
    if s.get(key) != str(inputs[key]).lower(): problems.append(f"{key}: {s.get(key)}")
if "group" not in str(s.get("scope", "")) or inputs["group"] not in str(s.get("scope", "")): problems.append(f"scope {s.get('scope')}")
if s.get("inspection") != "off (GC_INSPECT=false)": problems.append(f"inspection {s.get('inspection')!r}")
print("\n".join(problems) or json.dumps(s)); sys.exit(1 if problems else 0)
EOF
  fi
  local policy
  policy=$(ct policy "$API" "$TOKEN" "$PROJECT_ID" 2>&1 || true)
  check "all inputs: the cleanup policy of project $PROJECT_ID was applied from the policy_* inputs" py - "$policy" <<'EOF'
import json, sys
p = json.loads(sys.argv[1])
want = {"enabled": False, "cadence": "14d", "keep_n": 25, "older_than": "60d",
        "name_regex": "(feature|mr)-.*", "name_regex_keep": "main|release-\\d+"}
diff = {k: (p.get(k), v) for k, v in want.items() if p.get(k) != v}
print(diff or p); sys.exit(1 if diff else 0)
EOF

  readme_examples

  # --- safety limit: exit 3, nothing deleted, reports still collected
  start_fake || { fail "fake-gitlab starts"; return; }
  before=$(snapshot "$PROJECT_ID")
  rc=0; glcl max --file pipelines/max-deletions.yml "${MAIN_VARS[@]}" || rc=$?
  after=$(snapshot "$PROJECT_ID")
  # gitlab-ci-local ends a failed job with "<job> finished in <time>  FAIL <exit code>".
  if [ "$rc" != 0 ] && grep -qE '^registry-gc finished in .*FAIL 3 *$' "$WORK/glcl-max.log"; then
    pass "max_deletions: \"1\" fails the job with registry-gc's exit code 3"
  else
    fail "max_deletions: \"1\" fails the job with exit code 3 (gitlab-ci-local exit $rc)" "$(cat "$WORK/glcl-max.log")"
  fi
  if artifacts_ok "max_deletions (when: always)" registry-gc; then
    local refused planned
    refused=$(json_get "$REPORT_FILE" summary.deleted)
    planned=$(json_get "$REPORT_FILE" summary.not_deleted)
    if [ "$refused" = 0 ] && [ "$planned" -gt 1 ] && [ "$before" = "$after" ]; then
      pass "max_deletions: a plan of $planned deletions deletes nothing"
    else
      fail "max_deletions: the plan (not_deleted $planned > 1) deletes nothing (deleted $refused)" "$(ct report "$REPORT_FILE")"
    fi
  fi
  figures_reached "max_deletions: a later job (when: always) reads REGISTRY_GC_STATUS=refused, nothing deleted" registry-gc figures \
    'env["REGISTRY_GC_STATUS"] == "refused" and env["REGISTRY_GC_MODE"] == "delete" and env["REGISTRY_GC_DELETED"] == "0" and report["summary"]["not_deleted"] > 1'

  # --- dotenv: the figures reach the jobs of a later stage, also after a configuration error
  start_fake || { fail "fake-gitlab starts"; return; }
  rc=0; glcl dotenv --file pipelines/dotenv.yml "${MAIN_VARS[@]}" || rc=$?
  if grep -qE '^ PASS +figures *$' "$WORK/glcl-dotenv.log" && grep -qE '^ PASS +figures-after-config-error *$' "$WORK/glcl-dotenv.log" \
      && grep -qE '^ FAIL +misconfigured-registry-gc *$' "$WORK/glcl-dotenv.log"; then
    pass "dotenv: both later jobs ran; the misconfigured run failed"
  else
    fail "dotenv: both later jobs ran; the misconfigured run failed (gitlab-ci-local exit $rc)" "$(cat "$WORK/glcl-dotenv.log")"
  fi
  figures_reached "dotenv: a later job reads the dry run's figures, equal to gc-report.json's summary" registry-gc figures \
    'env["REGISTRY_GC_STATUS"] == "ok" and env["REGISTRY_GC_MODE"] == "dry-run" and all(env["REGISTRY_GC_" + k.upper()] == str(report["summary"][k]) for k in ("deleted", "would_delete", "kept", "errors", "bytes_reclaimed", "repositories")) and int(env["REGISTRY_GC_WOULD_DELETE"]) > 0'
  figures_reached "dotenv: after a configuration error (exit 2) a later job reads REGISTRY_GC_STATUS=config-error, every count 0" misconfigured-registry-gc figures-after-config-error \
    'report is None and env == {"REGISTRY_GC_STATUS": "config-error", "REGISTRY_GC_MODE": "none", "REGISTRY_GC_DELETED": "0", "REGISTRY_GC_WOULD_DELETE": "0", "REGISTRY_GC_KEPT": "0", "REGISTRY_GC_ERRORS": "1", "REGISTRY_GC_BYTES_RECLAIMED": "0", "REGISTRY_GC_REPOSITORIES": "0"}'
  stop_fake

  # --- invalid input: rejected with GitLab's message
  API=http://127.0.0.1:9/api/v4
  rc=0; glcl invalid --file pipelines/invalid-input.yml "${MAIN_VARS[@]}" || rc=$?
  local want='dry_run input: maybe cannot be used because it is not in the list of allowed options.'
  if [ "$rc" != 0 ] && tr -d '`' <"$WORK/glcl-invalid.log" | grep -qF "$want"; then
    pass "invalid input: dry_run: maybe is rejected (\"$want\")"
  else
    fail "invalid input: dry_run: maybe is rejected with GitLab's message (exit $rc)" "$(cat "$WORK/glcl-invalid.log")"
  fi
  if [ ! -e "$PROJ/.gitlab-ci-local/builds/registry-gc/gc-env.txt" ]; then pass "invalid input: no job ran"; else fail "invalid input: no job ran"; fi
}

# ------------------------------------------------------------------ 7. the report page in Chromium
# page_checks NAME ARGS...: check-page.mjs (ARGS: page, gc-report.json, options), each of its
# lines a check of its own. A Chromium that cannot run fails here, loudly.
page_checks() {
  local name=$1 out rc=0 line; shift
  out=$("$TOOLS/node_modules/.bin/node" "$CT/browser/check-page.mjs" "$@" 2>&1) || rc=$?
  while IFS= read -r line; do
    case $line in
      "ok   "*) pass "$name: ${line#ok   }" ;;
      "FAIL "*) fail "$name: ${line#FAIL }" ;;
      "info "*) echo "     $name: ${line#info }" ;;
    esac
  done <<<"$out"
  if [ "$rc" != 0 ] && ! grep -q '^FAIL ' <<<"$out"; then fail "$name: check-page.mjs exited $rc" "$out"; fi
}

# page_run NAME DIR GROUP: a dry run of group GROUP on the running fake, writing its reports to DIR.
page_run() {
  local rc=0
  mkdir -p "$2"
  (cd "$2" && env -i CI_API_V4_URL="$API" API_TOKEN="$TOKEN" GC_SCOPE=group GC_GROUP="$3" GC_DRY_RUN=true \
    CI_JOB_URL=https://gitlab.example.com/demo/ops/-/jobs/4242 "$BIN") >"$2/run.out" 2>&1 || rc=$?
  if [ "$rc" = 0 ] && [ -s "$2/gc-report.html" ]; then pass "$1: the dry run writes gc-report.html"; else fail "$1: the dry run writes gc-report.html (exit $rc)" "$(cat "$2/run.out")"; return 1; fi
}

report_page() {
  log "the report page in headless Chromium ($(chromium --version 2>/dev/null))"
  local dir=$WORK/page
  start_fake || { fail "fake-gitlab starts"; return; }
  if page_run "page (demo)" "$dir/demo" demo; then
    page_checks "page (demo)" "$dir/demo/gc-report.html" "$dir/demo/gc-report.json" --screenshot "$dir/demo/report-page.png"
    if [ "${UPDATE_SCREENSHOT:-0}" = 1 ] && [ -s "$dir/demo/report-page.png" ]; then
      # Small enough to commit: 256 colours (pngquant, when installed), else as taken.
      mkdir -p "$ROOT/docs"
      if command -v pngquant >/dev/null; then
        pngquant --force --quality=70-95 --output "$ROOT/docs/report-page.png" "$dir/demo/report-page.png"
      else
        cp "$dir/demo/report-page.png" "$ROOT/docs/report-page.png"
      fi
      echo "     screenshot written to docs/report-page.png ($(stat -c %s "$ROOT/docs/report-page.png") bytes)"
    fi
  fi
  # 10,000 tags of the benchmark's model, and a repository of tag names that are markup.
  py - "$CT/bench" "$dir/fixture-10k.json" "$TOKEN" <<'EOF'
import json, sys
sys.path.insert(0, sys.argv[1])
import model
fixture = model.generate(10_000)
fixture["tokens"] = [{"token": sys.argv[3], "scopes": ["api"]}]
# A tag name cannot hold "/" (registries refuse it, and so does the fake): the repository's
# path brings the "</script>".
hostile = ["<script>alert(1)", "<img src=x onerror=window.__pwned=1>", "\"quoted\" & 'single' <b>bold<!--",
           "line\u2028sep\u2029end"]
fixture["projects"].append({"id": 999999, "path": "bench/hostile", "repositories": [
    {"id": 999999, "name": "app</script><script>window.__pwned=1</script>",
     "tags": [{"name": n, "broken": True} for n in hostile] + [{"name": "latest", "age": "1h"}]}]})
json.dump(fixture, open(sys.argv[2], "w"))
EOF
  start_fake "$dir/fixture-10k.json" || { fail "fake-gitlab starts with 10,000 tags"; return; }
  if page_run "page (10,000 tags)" "$dir/10k" bench; then
    page_checks "page (10,000 tags, hostile names)" "$dir/10k/gc-report.html" "$dir/10k/gc-report.json"
  fi
  stop_fake
}

# The README's examples of stale_ref_regex and of two rule sets, run as written against the demo
# as default-branch pipelines (they delete), and what they deleted.
readme_examples() {
  local rc caches= releases=
  start_fake || { fail "fake-gitlab starts"; return; }
  rc=0; glcl readme-stale-ref --file pipelines/readme-stale-ref.yml "${MAIN_VARS[@]}" || rc=$?
  if [ "$rc" = 0 ] && grep -q 'PASS .*registry-gc' "$WORK/glcl-readme-stale-ref.log"; then pass "README stale_ref_regex example: the job passes"; else fail "README stale_ref_regex example: the job passes (exit $rc)" "$(cat "$WORK/glcl-readme-stale-ref.log")"; fi
  if artifacts_ok "README stale_ref_regex example" registry-gc; then
    check "README stale_ref_regex example: the images of the deleted branch and the merged MR go with their caches, live branches' stay" \
      py - "$REPORT_FILE" "$(snapshot "$PROJECT_ID")" <<'EOF'
import json, sys
report, left = json.load(open(sys.argv[1])), json.loads(sys.argv[2])
tags = {f"{r['path']}:{t['name']}": t for r in report["repositories"] for t in r["tags"]}
problems = []
stale = sorted(k for k, t in tags.items() if t["rule"] == "stale-ref" and t["outcome"] == "deleted")
# renovate-deps: an attested image GitLab cannot date; the registry's config gives its age.
if stale != ["demo/shop/app:feature-cart", "demo/shop/app:mr-17", "demo/shop/app:renovate-deps", "demo/shop/docs:preview-7"]:
    problems.append(f"stale-ref deleted {stale}")
cache = tags["demo/shop/app.cache:feature-cart"]
if (cache["outcome"], cache["rule"]) != ("deleted", "orphan-cache"):
    problems.append(f"the cache of a stale-ref tag: {cache}")
for ref in ["demo/shop/app:feature-login", "demo/shop/app:fix-typo", "demo/shop/app.cache:feature-login",
            "demo/shop/app:v1.0.0", "demo/shop/app:latest"]:
    repo, tag = ref.split(":")
    if tag not in left.get(repo, []):
        problems.append(f"{ref} must stay")
print("\n".join(problems) or json.dumps(stale)); sys.exit(1 if problems else 0)
EOF
  fi

  start_fake || { fail "fake-gitlab starts"; return; }
  rc=0; glcl readme-two --file pipelines/readme-two-rule-sets.yml "${MAIN_VARS[@]}" || rc=$?
  if [ "$rc" = 0 ] && grep -q 'PASS .*caches-registry-gc' "$WORK/glcl-readme-two.log" && grep -q 'PASS .*releases-registry-gc' "$WORK/glcl-readme-two.log"; then
    pass "README two rule sets: jobs caches-registry-gc and releases-registry-gc pass"
  else
    fail "README two rule sets: both jobs pass (exit $rc)" "$(cat "$WORK/glcl-readme-two.log")"
  fi
  artifacts_ok "README two rule sets (caches)" caches-registry-gc && caches=$REPORT_FILE
  artifacts_ok "README two rule sets (releases)" releases-registry-gc && releases=$REPORT_FILE
  if [ -n "$caches" ] && [ -n "$releases" ]; then
    check "README two rule sets: each job decides its repositories only; a cache is judged against its excluded image's tags" \
      py - "$caches" "$releases" <<'EOF'
import json, sys
caches, releases = (json.load(open(f)) for f in sys.argv[1:3])
def decided(r): return sorted(x["path"] for x in r["repositories"])
def deleted(r): return sorted(f"{x['path']}:{t['name']}" for x in r["repositories"] for t in x["tags"] if t["outcome"] == "deleted")
def rule(r, path, tag): return next((t["outcome"], t["rule"]) for x in r["repositories"] if x["path"] == path for t in x["tags"] if t["name"] == tag)
problems = []
if decided(caches) != ["demo/shop/app.cache", "demo/shop/worker.cache"]: problems.append(f"caches decided {decided(caches)}")
if decided(releases) != ["demo/shop/app", "demo/shop/charts", "demo/shop/docs"]: problems.append(f"releases decided {decided(releases)}")
want = ["demo/shop/app.cache:feature-gone", "demo/shop/app.cache:renovate-old", "demo/shop/worker.cache:feature-login"]
if deleted(caches) != want: problems.append(f"caches deleted {deleted(caches)}")
# feature-login has a tag in the excluded app, which was read: not orphaned. (Nor judged on an
# unknown counterpart: feature-gone, which app lacks, is deleted.)
# (Kept as unknown-age without a push time, or as too young for older_than with one: GC_API=auto
# may pick GraphQL, whose push times caches have.)
if rule(caches, "demo/shop/app.cache", "feature-login") not in (("kept", "unknown-age"), ("kept", "default")):
    problems.append(f"app.cache:feature-login {rule(caches, 'demo/shop/app.cache', 'feature-login')}")
if not any(s["what"] == "demo/shop/app" and "counterpart of demo/shop/app.cache" in s["why"] for s in caches["skipped"]):
    problems.append(f"caches skipped {caches['skipped']}")
# What the registry says is broken, and a signature of an image no tag points at.
want = ["demo/shop/app:multiarch-20240101", "demo/shop/app:nightly-broken",
        "demo/shop/app:sha256-0f3c9a1e5b7d0f3c9a1e5b7d0f3c9a1e5b7d0f3c9a1e5b7d0f3c9a1e5b7d0f3c.sig"]
if deleted(releases) != want: problems.append(f"releases deleted {deleted(releases)}")
for r, skipped in ((caches, 3), (releases, 2)):
    if r["summary"]["repositories_skipped"] != skipped: problems.append(f"skipped count {r['summary']['repositories_skipped']}")
if releases["settings"]["keep_n"] != "50" or caches["settings"]["older_than"] != "7d": problems.append("inputs")
print("\n".join(problems) or "ok"); sys.exit(1 if problems else 0)
EOF
  fi
  stop_fake
}

# ------------------------------------------------------------------ main
main() {
  local stages=("$@")
  [ "${#stages[@]}" -gt 0 ] || stages=(static chroot images pipelines page)
  install_tools
  build
  for f in "$BIN" "$FAKE_BIN" "$FIXTURE"; do
    [ -e "$f" ] || fail "missing $f"
  done
  if [ "$FAILED" -gt 0 ]; then finish || true; exit 1; fi
  for stage in "${stages[@]}"; do
    case $stage in
      static) static_checks ;;
      chroot) chroot_run ;;
      images) images ;;
      pipelines) pipelines ;;
      page) report_page ;;
      *) echo "unknown stage $stage (static chroot images pipelines page)"; exit 2 ;;
    esac
  done
  log "sizes"
  echo "binary: ${BINARY_SIZE:-?} bytes; runtime image: ${RUNTIME_SIZE:-?}; ci image: ${CI_SIZE:-?}"
  finish
}

main "$@"
