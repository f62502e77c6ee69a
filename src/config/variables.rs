//! The variables registry-gc reads: one table, the source of `--help`, of the unknown-variable
//! check and of the README's documentation test.

use super::parse::edit_distance;

/// One documented variable: the source of `--help` and of the unknown-variable check.
pub struct Variable {
    pub name: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

/// Every variable registry-gc reads, in the order `--help` lists them.
pub const VARIABLES: &[Variable] = &[
    Variable { name: "CI_API_V4_URL", default: "(required)", meaning: "GitLab API root, e.g. https://gitlab.example.com/api/v4" },
    Variable { name: "CI_API_GRAPHQL_URL", default: "CI_API_V4_URL with /api/graphql", meaning: "GitLab GraphQL endpoint (same origin as CI_API_V4_URL)" },
    Variable { name: "API_TOKEN", default: "(unset)", meaning: "access token with scope api (read_api for dry-run), sent as PRIVATE-TOKEN; never printed" },
    Variable { name: "CI_JOB_TOKEN", default: "(set by GitLab)", meaning: "used when API_TOKEN is unset: scope project only, no policy apply" },
    Variable { name: "CI_PROJECT_ID", default: "(set by GitLab)", meaning: "project for GC_SCOPE=project" },
    Variable { name: "CI_PROJECT_NAMESPACE_ID", default: "(set by GitLab)", meaning: "default group for GC_SCOPE=group" },
    Variable { name: "CI_SERVER_TLS_CA_FILE", default: "(unset)", meaning: "extra PEM CA bundle trusted in addition to the built-in roots" },
    Variable { name: "CI_PIPELINE_SOURCE", default: "(set by GitLab)", meaning: "GC_DRY_RUN=auto: merge request pipelines run dry" },
    Variable { name: "CI_COMMIT_REF_NAME", default: "(set by GitLab)", meaning: "GC_DRY_RUN=auto: only the default branch deletes" },
    Variable { name: "CI_DEFAULT_BRANCH", default: "(set by GitLab)", meaning: "GC_DRY_RUN=auto: the branch that may delete" },
    Variable { name: "CI_NODE_INDEX", default: "(unset)", meaning: "shard of a `parallel: N` job (1-based); needs CI_NODE_TOTAL" },
    Variable { name: "CI_NODE_TOTAL", default: "(unset)", meaning: "number of shards: project P belongs to shard P % total + 1" },
    Variable { name: "CI_JOB_URL", default: "(unset)", meaning: "linked from the reports" },
    Variable { name: "CI_REGISTRY", default: "(set by GitLab)", meaning: "the container registry's host[:port]: GC_REGISTRY_URL defaults to https://$CI_REGISTRY" },
    Variable { name: "CI_REGISTRY_USER", default: "(set by GitLab)", meaning: "registry login with the job token when API_TOKEN is unset (gitlab-ci-token)" },
    Variable { name: "CI_REGISTRY_PASSWORD", default: "(set by GitLab)", meaning: "registry password with the job token when API_TOKEN is unset; never printed" },
    Variable { name: "GC_SCOPE", default: "project", meaning: "project, group (with subgroups) or all (projects where the token is Maintainer+)" },
    Variable { name: "GC_GROUP", default: "CI_PROJECT_NAMESPACE_ID", meaning: "group id or full path for GC_SCOPE=group" },
    Variable { name: "GC_DRY_RUN", default: "auto", meaning: "true, false, or auto: delete only in a non-MR pipeline on the default branch" },
    Variable { name: "GC_KEEP_REGEX", default: DEFAULT_KEEP_REGEX, meaning: "tags never deleted by any rule (full match)" },
    Variable { name: "GC_DELETE_REGEX", default: ".*", meaning: "tags the age and count rules may delete (full match)" },
    Variable { name: "GC_KEEP_N", default: "(unset)", meaning: "keep the N newest candidate tags of each repository (N >= 1)" },
    Variable { name: "GC_OLDER_THAN", default: "(unset)", meaning: "delete candidate tags older than this: 90m, 12h, 7d, 2w" },
    Variable { name: "GC_DELETE_BROKEN", default: "true", meaning: "delete tags whose details GitLab cannot return (404)" },
    Variable { name: "GC_DELETE_ORPHAN_CACHE", default: "true", meaning: "delete cache tags whose image counterpart is gone" },
    Variable { name: "GC_CACHE_SUFFIX", default: ".cache", meaning: "marks a cache repository: app.cache is the cache of app" },
    Variable { name: "GC_DELETE_ORPHAN_REFERRERS", default: "true", meaning: "delete signature/attestation/SBOM tags whose subject is gone" },
    Variable { name: "GC_INSPECT", default: "auto", meaning: "read from the registry the manifests GitLab cannot show: auto (when it answers), true (required), false" },
    Variable { name: "GC_REGISTRY_URL", default: "https://$CI_REGISTRY", meaning: "the container registry's API root, for GC_INSPECT" },
    Variable { name: "GC_STALE_REF_REGEX", default: "(unset)", meaning: "tags named after a branch or merge request: full-match regex with a named group slug and/or mr; unset: rule stale-ref off" },
    Variable { name: "GC_STALE_REF_MIN_AGE", default: "1d", meaning: "a stale-ref tag younger than this is kept (90m, 12h, 7d, 2w)" },
    Variable { name: "GC_REPOSITORY_REGEX", default: ".*", meaning: "repositories in scope (full match on the path, e.g. acme/shop/app.cache)" },
    Variable { name: "GC_REPOSITORY_EXCLUDE_REGEX", default: "(unset)", meaning: "repositories left alone (full match on the path); wins over GC_REPOSITORY_REGEX" },
    Variable { name: "GC_API", default: "auto", meaning: "rest, graphql, or auto: GraphQL when a probe shows the instance has what we need" },
    Variable { name: "GC_AGE_FROM", default: "published if available", meaning: "age of a tag for GC_KEEP_N/GC_OLDER_THAN: published (push time, GraphQL) or created (build time)" },
    Variable { name: "GC_CONCURRENCY", default: "8", meaning: "parallel API requests (1-64); GitLab's rate limits are still obeyed" },
    Variable { name: "GC_MAX_DELETIONS", default: "(unset)", meaning: "if the plan deletes more tags than this, delete nothing and exit 3" },
    Variable { name: "GC_LOG_FILE", default: "gc.log", meaning: "decision log, written as the run goes" },
    Variable { name: "GC_JUNIT_FILE", default: "gc-junit.xml", meaning: "JUnit report for GitLab's Tests tab" },
    Variable { name: "GC_REPORT_FILE", default: "gc-report.json", meaning: "machine-readable plan and outcome" },
    Variable { name: "GC_HTML_FILE", default: "gc-report.html", meaning: "self-contained page for reviewers: charts and every decision in a table" },
    Variable { name: "GC_DOTENV_FILE", default: DEFAULT_DOTENV_FILE, meaning: "the figures for later jobs (GitLab dotenv report: REGISTRY_GC_*)" },
    Variable { name: "GC_POLICY_APPLY", default: "false", meaning: "also apply GitLab's built-in cleanup policy to every project in scope" },
    Variable { name: "GC_POLICY_ENABLED", default: "true", meaning: "policy: enabled" },
    Variable { name: "GC_POLICY_CADENCE", default: "1d", meaning: "policy: 1d, 7d, 14d, 1month, 3month" },
    Variable { name: "GC_POLICY_KEEP_N", default: "10", meaning: "policy: 1, 5, 10, 25, 50, 100" },
    Variable { name: "GC_POLICY_OLDER_THAN", default: "7d", meaning: "policy: 7d, 14d, 30d, 60d, 90d" },
    Variable { name: "GC_POLICY_NAME_REGEX", default: ".*", meaning: "policy: tags the built-in policy may delete" },
    Variable { name: "GC_POLICY_NAME_REGEX_KEEP", default: "GC_KEEP_REGEX", meaning: "policy: tags the built-in policy keeps" },
];

pub const DEFAULT_KEEP_REGEX: &str = r"latest|main|master|v.*\..*\..*";

pub const DEFAULT_DOTENV_FILE: &str = "gc.env";

/// Allowed values of GitLab's `container_expiration_policy` (app/models/container_expiration_policy.rb;
/// `60d` since GitLab 14.3, commit c7be549c "Add option of 60 days").
pub const POLICY_CADENCES: &[&str] = &["1d", "7d", "14d", "1month", "3month"];
pub const POLICY_KEEP_N: &[&str] = &["1", "5", "10", "25", "50", "100"];
pub const POLICY_OLDER_THAN: &[&str] = &["7d", "14d", "30d", "60d", "90d"];

pub(super) fn is_ours(name: &str) -> bool {
    name.starts_with("GC_")
        || VARIABLES.iter().any(|v| v.name == name)
        || name == "CI_MERGE_REQUEST_IID"
}

pub(super) fn unknown_variable_message(name: &str) -> String {
    let closest = VARIABLES
        .iter()
        .filter(|v| v.name.starts_with("GC_"))
        .map(|v| (edit_distance(name, v.name), v.name))
        .min();
    match closest {
        Some((distance, known)) if distance <= 3 => {
            format!("unknown variable (did you mean {known}?); refusing to run with a setting that would be ignored")
        }
        _ => "unknown variable; refusing to run with a setting that would be ignored (see registry-gc --help)".to_string(),
    }
}

/// `--help`: every variable with its default, generated from [`VARIABLES`] so it cannot drift.
pub fn help_text() -> String {
    let mut out = String::new();
    out.push_str(concat!(
        "registry-gc ",
        env!("CARGO_PKG_VERSION"),
        "\nGarbage-collects GitLab container registries: deletes broken tags (OCI indexes, attestations)\n",
        "and orphaned buildkit cache tags that GitLab's cleanup policy cannot remove, plus optional\n",
        "keep-N / older-than rules. Configured entirely from environment variables.\n\n",
        "Usage: registry-gc [--help | --version]\n\n",
        "Environment:\n"
    ));
    let width = VARIABLES.iter().map(|v| v.name.len()).max().unwrap_or(0);
    for v in VARIABLES {
        out.push_str(&format!(
            "  {:width$}  {}\n  {:width$}  default: {}\n",
            v.name, v.meaning, "", v.default
        ));
    }
    out.push_str(
        "\nRegexes are full-match (`main` does not match `main2`). An empty variable counts as unset.\n\
         Booleans: true/false/1/0/yes/no. Durations: 90m, 12h, 7d, 2w.\n\n\
         Outputs: GC_LOG_FILE (every decision, then a summary), GC_JUNIT_FILE, GC_REPORT_FILE,\n\
         GC_HTML_FILE (a page to review), GC_DOTENV_FILE (REGISTRY_GC_* figures for later jobs).\n\
         Exit codes: 0 success (dry-run too), 1 some API operations failed, 2 configuration error\n\
         (nothing requested), 3 refused by GC_MAX_DELETIONS (nothing deleted), 130/143 interrupted.\n",
    );
    out
}
