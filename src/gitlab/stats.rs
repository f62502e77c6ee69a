//! Request accounting: API requests are the cost users pay, so every run reports them.

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
    ListTagProtectionRules,
}

impl Endpoint {
    pub const ALL: [Endpoint; 15] = [
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
        Endpoint::ListTagProtectionRules,
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
            Endpoint::ListTagProtectionRules => "GET /projects/:id/registry/protection/tag/rules",
        }
    }
}

impl crate::http::Endpoints for Endpoint {
    const ALL: &'static [Endpoint] = &Endpoint::ALL;

    fn index(self) -> usize {
        self as usize
    }

    fn label(self) -> &'static str {
        Endpoint::label(self)
    }
}

/// Every attempt counts, retries included, because GitLab counts them too.
pub type Stats = crate::http::Stats<Endpoint>;
pub use crate::http::Counts;
