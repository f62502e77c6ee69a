#!/bin/sh
# The report page benchmark: gc-report.html's size (raw and deflated) and opening time in
# headless Chromium at 1k, 10k and 100k tags. Builds the release binaries of registry-gc and
# fake-gitlab, installs what is missing (GNU time, Debian's chromium; Node 22 from npm into
# component-tests/.tools, as run-component-tests.sh does), then runs page.py (--help).
#   component-tests/bench/page.sh                  1k, 10k and 100k tags (about a minute)
#   component-tests/bench/page.sh --sizes 100000   one size
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tools=$root/component-tests/.tools
target=${CARGO_TARGET_DIR:-$root/target}
missing=
[ -x /usr/bin/time ] || missing="$missing time"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
if [ -n "$missing" ]; then
    echo "page: apt-get install$missing" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
node=$tools/node_modules/.bin/node
case "$("$node" --version 2>/dev/null || true)" in
    v22.*) ;;
    *)
        echo "page: npm install node@22 into $tools" >&2
        mkdir -p "$tools" && printf '*\n' >"$tools/.gitignore"
        (cd "$tools" && npm install --no-audit --no-fund --loglevel=error node@22 </dev/null)
        ;;
esac
(cd "$root" && CARGO_TARGET_DIR=$target cargo build --release --quiet -p registry-gc -p fake-gitlab)
exec python3 "$here/page.py" --gc "$target/release/registry-gc" --fake "$target/release/fake-gitlab" --node "$node" "$@"
