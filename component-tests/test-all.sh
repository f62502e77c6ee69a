#!/usr/bin/env bash
# Every test of the project: unit and end-to-end tests (cargo, against the fake GitLab over a
# real docker-registry without GitLab's metadata database), the end-to-end tests again over
# GraphQL with the registry's metadata database (the same scenarios must decide the same),
# then the shipping checks (static binary, images, the CI/CD component in gitlab-ci-local
# pipelines).
set -euo pipefail
cd "$(dirname "$0")/.."
# The end-to-end tests run against a real registry behind the fake GitLab: Debian's
# docker-registry (distribution 2.8). A test that cannot start it fails, saying so.
if ! command -v docker-registry >/dev/null 2>&1 && [ ! -x /usr/bin/docker-registry ]; then
  echo "apt-get install docker-registry"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
fi
cargo test --workspace --locked
REGISTRY_GC_TEST_API=graphql cargo test --locked -p registry-gc \
  --test gc --test policy --test hostile --test security --test properties --test soak \
  --test registry --test reports --test stale_ref --test filters --test inspection
component-tests/run-component-tests.sh
