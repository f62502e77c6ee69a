#!/usr/bin/env bash
# Every test of the project: unit and end-to-end tests (cargo, against the fake GitLab), the
# end-to-end tests again over GraphQL (the same scenarios must decide the same on both APIs),
# then the shipping checks (static binary, images, the CI/CD component in gitlab-ci-local
# pipelines).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
REGISTRY_GC_TEST_API=graphql cargo test --locked -p registry-gc \
  --test gc --test policy --test hostile --test security --test properties --test soak \
  --test stale_ref --test filters
component-tests/run-component-tests.sh
