#!/usr/bin/env bash
# Every test of the project: unit and end-to-end tests (cargo, against the fake GitLab), then the
# shipping checks (static binary, images, the CI/CD component in gitlab-ci-local pipelines).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
component-tests/run-component-tests.sh
