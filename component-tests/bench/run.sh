#!/bin/sh
# registry-gc benchmark: one command. Builds the release binaries of registry-gc and
# fake-gitlab, then runs component-tests/bench/bench.py (python3, standard library only).
#   component-tests/bench/run.sh            1k, 10k and 100k tags (about 7 minutes on 2 cores)
#   component-tests/bench/run.sh --quick    1k and 10k tags only (about a minute, for CI)
#   component-tests/bench/run.sh --registry [--size N]   on a real registry: what inspection
#                                           costs (registry_bench.py; needs docker-registry)
# Other options are passed to bench.py (--help). CARGO_TARGET_DIR is honoured.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
if [ ! -x /usr/bin/time ]; then
    echo "bench: installing GNU time (peak RSS)" >&2
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq time >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq time >/dev/null; fi
fi
(cd "$root" && CARGO_TARGET_DIR=$target cargo build --release --quiet -p registry-gc -p fake-gitlab)
script=bench.py
if [ "${1:-}" = --registry ]; then
    shift
    script=registry_bench.py
    command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || {
        echo "bench: --registry needs docker-registry (apt-get install docker-registry)" >&2
        exit 2
    }
fi
exec python3 "$here/$script" --gc "$target/release/registry-gc" --fake "$target/release/fake-gitlab" "$@"
