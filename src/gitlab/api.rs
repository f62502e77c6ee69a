//! Typed endpoints. Each function is one documented GitLab endpoint
//! (doc/api/container_registry.md, doc/api/projects.md, doc/api/groups.md).

use reqwest::{Method, StatusCode};

use super::client::{json_verdict, ApiError, Client, Verdict};
use super::stats::Endpoint;
use super::types::{Branch, ListedTag, MergeRequest, Project, Repository, TagDetails};

/// What `GET …/tags/:tag_name` found.
#[derive(Debug)]
pub enum Details {
    Found(TagDetails),
    /// 404: GitLab cannot read the tag's manifest (`tag&.valid?` is false).
    NotFound,
}

/// What `DELETE …/tags/:tag_name` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    /// 403 `cannot delete protected tag(s)`: a protection or immutability rule.
    Protected,
    /// A plain 403, GitLab's usual answer for a protected or immutable tag, and for a role
    /// below Developer; on a metadata-database registry also for a tag already gone.
    Forbidden,
    /// 404: already gone, or (for a broken tag) older GitLab cannot delete it through the API.
    NotFound,
}

impl Client {
    pub fn list_project_repositories(&self, project: &str) -> Result<Vec<Repository>, ApiError> {
        let mut all = Vec::new();
        self.get_pages(
            Endpoint::ListProjectRepositories,
            self.url(&["projects", project, "registry", "repositories"]),
            |page| all.extend(page),
        )?;
        Ok(all)
    }

    /// Repositories of the group and all its subgroups (GitLab includes them).
    pub fn list_group_repositories(&self, group: &str) -> Result<Vec<Repository>, ApiError> {
        let mut all = Vec::new();
        self.get_pages(
            Endpoint::ListGroupRepositories,
            self.url(&["groups", group, "registry", "repositories"]),
            |page| all.extend(page),
        )?;
        Ok(all)
    }

    /// Projects where the token's user is at least Maintainer (access level 40), not archived.
    pub fn list_maintained_projects(&self) -> Result<Vec<Project>, ApiError> {
        let mut url = self.url(&["projects"]);
        url.query_pairs_mut()
            .append_pair("min_access_level", "40")
            .append_pair("archived", "false")
            .append_pair("order_by", "id")
            .append_pair("sort", "asc");
        let mut all = Vec::new();
        self.get_pages(Endpoint::ListProjects, url, |page| all.extend(page))?;
        Ok(all)
    }

    /// Projects of a group and its subgroups.
    pub fn list_group_projects(&self, group: &str) -> Result<Vec<Project>, ApiError> {
        let mut url = self.url(&["groups", group, "projects"]);
        url.query_pairs_mut()
            .append_pair("include_subgroups", "true")
            .append_pair("archived", "false")
            .append_pair("order_by", "id")
            .append_pair("sort", "asc");
        let mut all = Vec::new();
        self.get_pages(Endpoint::ListGroupProjects, url, |page| all.extend(page))?;
        Ok(all)
    }

    pub fn get_project(&self, project: &str) -> Result<Project, ApiError> {
        self.get_json(Endpoint::GetProject, &self.url(&["projects", project]))
    }

    /// `PUT /projects/:id` with a JSON body; returns the project as GitLab saved it.
    pub fn update_project(
        &self,
        project: u64,
        body: &serde_json::Value,
    ) -> Result<Project, ApiError> {
        let url = self.url(&["projects", &project.to_string()]);
        let request = format!("PUT {}", url.path());
        self.call(
            Endpoint::UpdateProject,
            Method::PUT,
            &url,
            Some(body),
            |reply| match json_verdict::<Project>(&request, reply) {
                Verdict::Done((project, _)) => Verdict::Done(project),
                // Never repeat a write because its answer was unreadable: report it instead.
                Verdict::Retry(e) | Verdict::Fail(e) => Verdict::Fail(e),
            },
        )
    }

    /// Every branch of the project's repository, `per_page=100` (lib/api/branches.rb).
    pub fn list_branches(&self, project: u64) -> Result<Vec<Branch>, ApiError> {
        let mut all = Vec::new();
        self.get_pages(
            Endpoint::ListBranches,
            self.url(&["projects", &project.to_string(), "repository", "branches"]),
            |page| all.extend(page),
        )?;
        Ok(all)
    }

    /// The project's open merge requests (those it is the target of), `per_page=100`
    /// (lib/api/merge_requests.rb; `state=opened` is the `opened` state only: a merge request
    /// being merged at that instant is `locked`).
    pub fn list_open_merge_requests(&self, project: u64) -> Result<Vec<MergeRequest>, ApiError> {
        let mut url = self.url(&["projects", &project.to_string(), "merge_requests"]);
        url.query_pairs_mut().append_pair("state", "opened");
        let mut all = Vec::new();
        self.get_pages(Endpoint::ListMergeRequests, url, |page| all.extend(page))?;
        Ok(all)
    }

    /// Streams a repository's tag names page by page.
    pub fn list_tags(
        &self,
        project: u64,
        repository: u64,
        each: impl FnMut(Vec<ListedTag>),
    ) -> Result<(), ApiError> {
        let url = self.url(&[
            "projects",
            &project.to_string(),
            "registry",
            "repositories",
            &repository.to_string(),
            "tags",
        ]);
        self.get_pages(Endpoint::ListTags, url, each)
    }

    pub fn tag_details(
        &self,
        project: u64,
        repository: u64,
        tag: &str,
    ) -> Result<Details, ApiError> {
        check_tag_name("GET", project, repository, tag)?;
        let url = self.url(&[
            "projects",
            &project.to_string(),
            "registry",
            "repositories",
            &repository.to_string(),
            "tags",
            tag,
        ]);
        let request = format!("GET {}", url.path());
        self.call(Endpoint::TagDetails, Method::GET, &url, None, |reply| {
            if reply.status == StatusCode::NOT_FOUND {
                // GitLab says `404 Tag Not Found` when it cannot read the manifest. Any other 404
                // (repository or project gone mid-run) must not make tags look broken.
                let message = reply.message();
                return if message.is_empty() || message.contains("Tag") {
                    Verdict::Done(Details::NotFound)
                } else {
                    Verdict::Fail(ApiError::Status {
                        request: request.clone(),
                        status: 404,
                        message,
                    })
                };
            }
            match json_verdict::<TagDetails>(&request, reply) {
                Verdict::Done((details, _)) => Verdict::Done(Details::Found(details)),
                Verdict::Retry(e) => Verdict::Retry(e),
                Verdict::Fail(e) => Verdict::Fail(e),
            }
        })
    }

    pub fn delete_tag(
        &self,
        project: u64,
        repository: u64,
        tag: &str,
    ) -> Result<Deletion, ApiError> {
        check_tag_name("DELETE", project, repository, tag)?;
        let url = self.url(&[
            "projects",
            &project.to_string(),
            "registry",
            "repositories",
            &repository.to_string(),
            "tags",
            tag,
        ]);
        let request = format!("DELETE {}", url.path());
        self.call(
            Endpoint::DeleteTag,
            Method::DELETE,
            &url,
            None,
            |reply| match reply.status.as_u16() {
                // GitLab answers `200` (a JSON number). A 2xx page that is not JSON is someone
                // else talking (a sign-in or proxy page): nothing says the tag is gone, so ask
                // again; DELETE is idempotent, and a repeat after a real deletion answers 404.
                200..=299
                    if !reply.body.iter().all(u8::is_ascii_whitespace)
                        && serde_json::from_slice::<serde_json::Value>(&reply.body).is_err() =>
                {
                    Verdict::Retry(ApiError::Decode {
                        request: request.clone(),
                        detail: "a 2xx answer that is not GitLab's JSON".into(),
                    })
                }
                200..=299 => Verdict::Done(Deletion::Deleted),
                404 => Verdict::Done(Deletion::NotFound),
                403 if reply.message().contains("protected tag") => {
                    Verdict::Done(Deletion::Protected)
                }
                403 => Verdict::Done(Deletion::Forbidden),
                status => Verdict::Fail(ApiError::Status {
                    request: request.clone(),
                    status,
                    message: reply.message(),
                }),
            },
        )
    }
}

/// A listed tag name that cannot be put in a URL path as one segment, faithfully: `.` and `..`
/// are removed by URL normalisation (the request would go to `…/tags`, another endpoint), an
/// empty name names the list too, and ASCII tab, LF and CR are silently dropped by URL parsing
/// (`late\nst` would become `latest`: the details and the DELETE of another tag). Docker's
/// grammar (`[\w][\w.-]{0,127}`) allows none of them, so only a misbehaving server lists them;
/// every other name is percent-encoded as exactly one segment.
fn check_tag_name(method: &str, project: u64, repository: u64, tag: &str) -> Result<(), ApiError> {
    if matches!(tag, "" | "." | "..") || tag.contains(['\t', '\n', '\r']) {
        return Err(ApiError::Refused {
            request: format!(
                "{method} /projects/{project}/registry/repositories/{repository}/tags/{tag:?}"
            ),
            detail: "not a valid tag name: it cannot be sent as one URL path segment".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use reqwest::Url;

    /// Why `check_tag_name` exists: the URL layer drops these segments.
    #[test]
    fn dot_segments_vanish_from_urls() {
        for tag in [".", ".."] {
            let mut url = Url::parse("https://g.example/api/v4").unwrap();
            url.path_segments_mut().unwrap().extend(["tags", tag]);
            assert_eq!(url.path(), "/api/v4/tags", "{tag}");
        }
        let mut url = Url::parse("https://g.example/api/v4").unwrap();
        url.path_segments_mut().unwrap().push("late\nst\t");
        assert_eq!(url.path(), "/api/v4/latest", "tab and newline are dropped");
        for bad in ["", ".", "..", "late\nst", "a\tb", "a\rb"] {
            assert!(super::check_tag_name("GET", 1, 2, bad).is_err(), "{bad:?}");
        }
        for fine in ["...", "a b", "a%2Fb", "a/b", "\u{1}", "ü"] {
            assert!(super::check_tag_name("GET", 1, 2, fine).is_ok(), "{fine:?}");
        }
    }
}
