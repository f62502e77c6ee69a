//! Request accounting: API requests are the cost users pay, so every run reports them.

use std::sync::atomic::{AtomicU64, Ordering};

/// The endpoints registry-gc calls, named as GitLab's docs name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    ListProjects,
    ListGroupProjects,
    GetProject,
    UpdateProject,
    ListGroupRepositories,
    ListProjectRepositories,
    ListTags,
    TagDetails,
    DeleteTag,
    ListBranches,
    ListMergeRequests,
    GraphqlProbe,
    GraphqlTags,
    GraphqlDeleteTags,
}

impl Endpoint {
    pub const ALL: [Endpoint; 14] = [
        Endpoint::ListProjects,
        Endpoint::ListGroupProjects,
        Endpoint::GetProject,
        Endpoint::UpdateProject,
        Endpoint::ListGroupRepositories,
        Endpoint::ListProjectRepositories,
        Endpoint::ListTags,
        Endpoint::TagDetails,
        Endpoint::DeleteTag,
        Endpoint::ListBranches,
        Endpoint::ListMergeRequests,
        Endpoint::GraphqlProbe,
        Endpoint::GraphqlTags,
        Endpoint::GraphqlDeleteTags,
    ];

    /// The endpoint as GitLab's API docs write it; also the key in reports and the fake's stats.
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::ListProjects => "GET /projects",
            Endpoint::ListGroupProjects => "GET /groups/:id/projects",
            Endpoint::GetProject => "GET /projects/:id",
            Endpoint::UpdateProject => "PUT /projects/:id",
            Endpoint::ListGroupRepositories => "GET /groups/:id/registry/repositories",
            Endpoint::ListProjectRepositories => "GET /projects/:id/registry/repositories",
            Endpoint::ListTags => "GET /projects/:id/registry/repositories/:repository_id/tags",
            Endpoint::TagDetails => {
                "GET /projects/:id/registry/repositories/:repository_id/tags/:tag_name"
            }
            Endpoint::DeleteTag => {
                "DELETE /projects/:id/registry/repositories/:repository_id/tags/:tag_name"
            }
            Endpoint::ListBranches => "GET /projects/:id/repository/branches",
            Endpoint::ListMergeRequests => "GET /projects/:id/merge_requests",
            // GraphQL has one endpoint; the operation name tells the requests apart.
            Endpoint::GraphqlProbe => "POST /api/graphql (registryGcProbe)",
            Endpoint::GraphqlTags => "POST /api/graphql (registryGcTags)",
            Endpoint::GraphqlDeleteTags => "POST /api/graphql (registryGcDeleteTags)",
        }
    }
}

/// Thread-safe counters; every attempt counts, retries included, because GitLab counts them too.
#[derive(Default)]
pub struct Stats {
    by_endpoint: [AtomicU64; Endpoint::ALL.len()],
    retries: AtomicU64,
    throttled: AtomicU64,
}

/// A snapshot for the summary and the reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub total: u64,
    pub retries: u64,
    pub throttled: u64,
    pub by_endpoint: std::collections::BTreeMap<&'static str, u64>,
}

impl Stats {
    pub fn count(&self, endpoint: Endpoint) {
        self.by_endpoint[endpoint as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Counts {
        let mut counts = Counts {
            retries: self.retries.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            ..Counts::default()
        };
        for endpoint in Endpoint::ALL {
            let n = self.by_endpoint[endpoint as usize].load(Ordering::Relaxed);
            counts.total += n;
            if n > 0 {
                counts.by_endpoint.insert(endpoint.label(), n);
            }
        }
        counts
    }
}
