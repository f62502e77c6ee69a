//! Request counters, so tests can assert how a client behaved (how many
//! pages it fetched, how often it retried) without scripting call sequences.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Counts since start or the last reset. Only `/api/v4` requests count,
/// faulted ones included; control requests under `/__fake/` do not.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub total: u64,
    /// By `METHOD /endpoint/template`, e.g.
    /// `GET /projects/:id/registry/repositories/:repository_id/tags`;
    /// unknown routes count as `METHOD (unknown)`.
    pub by_endpoint: BTreeMap<String, u64>,
    /// By the status sent; dropped connections send none.
    pub by_status: BTreeMap<u16, u64>,
    /// Injected faults by kind (`503`, `drop`, ...) and `rate_limit` for
    /// requests refused by the configured rate limit.
    pub faults: BTreeMap<String, u64>,
    /// GraphQL `tags(first: N)`: how many times each `first` was asked, as
    /// the client sent it (GitLab caps it to 20 but pages by it; see
    /// src/graphql/exec.rs).
    #[serde(default)]
    pub graphql_tags_first: BTreeMap<i64, u64>,
}

impl Stats {
    /// Requests to one endpoint template, 0 if none.
    pub fn endpoint(&self, template: &str) -> u64 {
        self.by_endpoint.get(template).copied().unwrap_or(0)
    }

    /// Responses with one status, 0 if none.
    pub fn status(&self, status: u16) -> u64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    /// Injected faults of one kind, 0 if none.
    pub fn fault(&self, kind: &str) -> u64 {
        self.faults.get(kind).copied().unwrap_or(0)
    }

    /// How many GraphQL `tags` fields asked for `first: n`.
    pub fn graphql_first(&self, n: i64) -> u64 {
        self.graphql_tags_first.get(&n).copied().unwrap_or(0)
    }

    /// The largest `first` any GraphQL `tags` field asked for.
    pub fn max_graphql_first(&self) -> Option<i64> {
        self.graphql_tags_first.keys().next_back().copied()
    }

    pub(crate) fn graphql_first_asked(&mut self, n: i64) {
        *self.graphql_tags_first.entry(n).or_default() += 1;
    }

    pub(crate) fn request(&mut self, template: &str) {
        self.total += 1;
        *self.by_endpoint.entry(template.to_string()).or_default() += 1;
    }

    pub(crate) fn status_sent(&mut self, status: u16) {
        *self.by_status.entry(status).or_default() += 1;
    }

    pub(crate) fn fault_injected(&mut self, kind: &str) {
        *self.faults.entry(kind.to_string()).or_default() += 1;
    }
}
