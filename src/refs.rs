//! What a project's branches and open merge requests say about the refs tags are named after
//! (the `stale-ref` rule, design §10). Pure: built from the two listings, asked by the rules.

use std::collections::HashSet;
use std::sync::Arc;

use crate::config::NamedRef;
use crate::slug::slugify;

/// The live refs of one project: the slugs of its branches and of its open merge requests'
/// source branches, and the iids of its open merge requests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ProjectRefs {
    live_slugs: HashSet<String>,
    open_mrs: HashSet<u64>,
}

/// One listed branch: its name and whether GitLab marks it as the default branch.
pub struct ListedBranch<'a> {
    pub name: &'a str,
    pub default: bool,
}

/// One open merge request: its iid and source branch.
pub struct OpenMergeRequest<'a> {
    pub iid: u64,
    pub source_branch: &'a str,
}

impl ProjectRefs {
    /// From every page of both listings. A branch list that names no default branch is not
    /// trusted: GitLab marks the default branch in every complete list of a repository that has
    /// one (lib/api/entities/branch.rb `default`), so either the list is not what it seems or the
    /// repository is empty, and an empty repository tells nothing about images pushed to its
    /// registry from elsewhere.
    ///
    /// An open merge request's source branch counts as live too: a merge request from a fork
    /// runs its pipelines here with `CI_COMMIT_REF_SLUG` of a branch this project does not have.
    pub fn from_listings<'a>(
        branches: impl IntoIterator<Item = ListedBranch<'a>>,
        open_merge_requests: impl IntoIterator<Item = OpenMergeRequest<'a>>,
    ) -> Result<ProjectRefs, String> {
        let mut refs = ProjectRefs::default();
        let mut has_default = false;
        for branch in branches {
            has_default |= branch.default;
            refs.live_slugs.insert(slugify(branch.name));
        }
        if !has_default {
            return Err("the branch list names no default branch".into());
        }
        for mr in open_merge_requests {
            refs.open_mrs.insert(mr.iid);
            refs.live_slugs.insert(slugify(mr.source_branch));
        }
        Ok(refs)
    }

    /// A tag named after a branch and a merge request is live if either is.
    pub fn is_live(&self, named: &NamedRef<'_>) -> bool {
        named.slug.is_some_and(|s| self.live_slugs.contains(s))
            || named.mr.is_some_and(|iid| self.open_mrs.contains(&iid))
    }
}

/// What is known of the refs of a repository's project.
#[derive(Clone, Debug, Default)]
pub enum Refs {
    /// Not listed: the rule is off, or no tag of the project is named after a ref.
    #[default]
    NotListed,
    Known(Arc<ProjectRefs>),
    /// A listing failed: the error, shared by every tag it leaves undecided.
    Unknown(Arc<str>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branch(name: &str, default: bool) -> ListedBranch<'_> {
        ListedBranch { name, default }
    }

    #[test]
    fn slugs_of_branches_and_open_merge_requests_are_live() {
        let refs = ProjectRefs::from_listings(
            [branch("main", true), branch("Feature/Login", false)],
            [OpenMergeRequest {
                iid: 21,
                source_branch: "fork/Topic",
            }],
        )
        .unwrap();
        let live = |slug: Option<&str>, mr: Option<u64>| refs.is_live(&NamedRef { slug, mr });
        assert!(live(Some("feature-login"), None));
        assert!(live(Some("main"), None));
        assert!(live(Some("fork-topic"), None), "a fork MR's source branch");
        assert!(!live(Some("Feature/Login"), None), "slugs, not names");
        assert!(live(None, Some(21)));
        assert!(!live(None, Some(17)));
        assert!(live(Some("gone"), Some(21)), "either part keeps it");
        assert!(!live(Some("gone"), Some(17)));
    }

    #[test]
    fn a_branch_list_without_a_default_branch_is_not_trusted() {
        let none = || -> [OpenMergeRequest<'static>; 0] { [] };
        assert!(ProjectRefs::from_listings([branch("x", false)], none()).is_err());
        assert!(ProjectRefs::from_listings([], none()).is_err());
    }
}
