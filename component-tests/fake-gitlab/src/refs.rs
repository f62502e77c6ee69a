//! A project's git side, as far as registry-gc reads it: its branches and its merge requests,
//! listed by `GET /projects/:id/repository/branches` and `GET /projects/:id/merge_requests`.
//!
//! Sources (gitlabhq/gitlabhq):
//! - lib/api/branches.rb: `authorize! :download_code` (Reporter in a private project), then
//!   `BranchesFinder` (sorted by name) paginated by `Gitlab::Pagination::GitalyKeysetPager`,
//!   which without `pagination=keyset` is offset pagination over an array
//!   (`Kaminari.paginate_array`; lib/gitlab/pagination/gitaly_keyset_pager.rb; its first-page
//!   shortcut is behind the feature flag `branch_list_keyset_pagination`, default off);
//! - lib/api/entities/branch.rb: `name`, `commit`, `merged`, `protected`,
//!   `developers_can_push`, `developers_can_merge`, `can_push`, `default`
//!   (`project.default_branch == name`), `web_url`;
//! - lib/api/merge_requests.rb: `authorize! :read_merge_request`, `state` one of `opened closed
//!   locked merged all` (default `all`), `order_by` (default `created_at`), `sort` (default
//!   `desc`), `view=simple`; `MergeRequestsFinder` with `state=opened` uses the `opened` scope,
//!   the `opened` state alone (app/models/concerns/issuable.rb), so a merge request being merged
//!   (`locked`) is not listed; offset pagination over a relation;
//! - lib/api/entities/merge_request_basic.rb and issuable_entity.rb for the fields.
//!
//! Neither route allows a job token (no `job_token_allowed` route setting), so a job token is
//! ignored there and the caller is anonymous: `404 Project Not Found` for a private project.

use crate::api::{find_project, forbidden, grape_error, Ctx};
use crate::clock;
use crate::fixture::ProjectFixture;
use crate::http::Response;
use crate::pagination::{self, PageRequest, Source};
use crate::state::{fake_sha256_hex, Project, State};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

#[derive(Debug)]
pub(crate) struct Git {
    /// `None` for an empty repository.
    pub default_branch: Option<String>,
    /// Sorted by name (byte order), as BranchesFinder sorts them.
    pub branches: Vec<Branch>,
    /// Newest first (by creation), GitLab's default order.
    pub merge_requests: Vec<MergeRequest>,
}

#[derive(Debug)]
pub(crate) struct Branch {
    pub name: String,
    pub protected: bool,
    pub committed_ms: i64,
}

#[derive(Debug)]
pub(crate) struct MergeRequest {
    pub iid: u64,
    pub state: &'static str,
    pub source_branch: String,
    pub target_branch: String,
    pub source_project_id: u64,
    pub created_ms: i64,
}

const MR_STATES: [&str; 4] = ["opened", "closed", "merged", "locked"];

impl Git {
    pub(crate) fn build(pf: &ProjectFixture, start_ms: i64) -> Result<Git, String> {
        let at = |age: &Option<String>, default: &str, what: &str| {
            clock::parse_age_ms(age.as_deref().unwrap_or(default))
                .map(|ms| start_ms - ms)
                .map_err(|e| format!("project {:?}: {what}: {e}", pf.path))
        };
        let default_branch = pf.default_branch.clone().unwrap_or_else(|| "main".into());
        let mut branches = match &pf.branches {
            None => vec![Branch {
                name: default_branch.clone(),
                protected: true,
                committed_ms: at(&None, "1d", "default branch")?,
            }],
            Some(list) => {
                let mut names = BTreeSet::new();
                let mut branches = Vec::new();
                for b in list {
                    if b.name.is_empty() || !names.insert(b.name.clone()) {
                        return Err(format!(
                            "project {:?}: branch {:?} is empty or listed twice",
                            pf.path, b.name
                        ));
                    }
                    branches.push(Branch {
                        name: b.name.clone(),
                        protected: b.protected,
                        committed_ms: at(&b.age, "1d", &format!("branch {:?}", b.name))?,
                    });
                }
                branches
            }
        };
        branches.sort_by(|a, b| a.name.cmp(&b.name));
        let default_branch = if branches.is_empty() {
            None
        } else if branches.iter().any(|b| b.name == default_branch) {
            Some(default_branch)
        } else {
            return Err(format!(
                "project {:?}: default_branch {default_branch:?} is not one of its branches",
                pf.path
            ));
        };
        let mut iids = BTreeSet::new();
        let mut merge_requests = Vec::new();
        for mr in &pf.merge_requests {
            if mr.iid == 0 || !iids.insert(mr.iid) {
                return Err(format!(
                    "project {:?}: merge request iid {} is 0 or listed twice",
                    pf.path, mr.iid
                ));
            }
            let state = mr.state.as_deref().unwrap_or("opened");
            let state = MR_STATES.iter().find(|s| **s == state).ok_or_else(|| {
                format!(
                    "project {:?}: !{}: unknown state {state:?}",
                    pf.path, mr.iid
                )
            })?;
            if mr.source_branch.is_empty() {
                return Err(format!(
                    "project {:?}: !{}: no source_branch",
                    pf.path, mr.iid
                ));
            }
            merge_requests.push(MergeRequest {
                iid: mr.iid,
                state,
                source_branch: mr.source_branch.clone(),
                target_branch: mr
                    .target_branch
                    .clone()
                    .or_else(|| default_branch.clone())
                    .unwrap_or_else(|| "main".into()),
                source_project_id: mr.source_project_id.unwrap_or(pf.id),
                created_ms: at(&mr.age, "30d", &format!("!{}", mr.iid))?,
            });
        }
        merge_requests.sort_by_key(|mr| std::cmp::Reverse((mr.created_ms, mr.iid)));
        Ok(Git {
            default_branch,
            branches,
            merge_requests,
        })
    }
}

/// The project, if the caller may read its code and merge requests (Reporter in a private
/// project: `download_code`, `read_merge_request`), and the page asked for.
fn reporter_page<'s>(
    state: &'s State,
    ctx: &Ctx,
    id: &str,
) -> Result<(&'s Project, PageRequest), Response> {
    let p = find_project(state, ctx, id)?;
    if state.project_access(p) < 20 {
        return Err(forbidden(None));
    }
    Ok((p, pagination::parse(&ctx.params)?))
}

/// `GET /projects/:id/repository/branches`.
pub(crate) fn list_branches(state: &State, ctx: &Ctx, id: &str) -> Response {
    let (p, page) = match reporter_page(state, ctx, id) {
        Ok(found) => found,
        Err(r) => return r,
    };
    let git = &p.git;
    let (range, headers) = pagination::paginate(
        git.branches.len(),
        &page,
        Source::Array,
        &ctx.url(),
        &ctx.params,
    );
    let items = git.branches[range]
        .iter()
        .map(|b| {
            let sha = fake_sha256_hex(&format!("{}#{}", p.full_path, b.name))[..40].to_string();
            let committed = clock::rfc3339_offset(b.committed_ms);
            json!({
                "name": b.name,
                "commit": {
                    "id": sha,
                    "short_id": &sha[..8],
                    "created_at": committed,
                    "parent_ids": [],
                    "title": format!("Update {}", b.name),
                    "message": format!("Update {}", b.name),
                    "author_name": "Fake Author",
                    "author_email": "author@example.com",
                    "authored_date": committed,
                    "committer_name": "Fake Author",
                    "committer_email": "author@example.com",
                    "committed_date": committed,
                    "trailers": {},
                    "extended_trailers": {},
                    "web_url": format!("{}/{}/-/commit/{sha}", ctx.base, p.full_path),
                },
                "merged": git.merge_requests.iter().any(|mr| mr.state == "merged" && mr.source_branch == b.name),
                "protected": b.protected,
                "developers_can_push": false,
                "developers_can_merge": false,
                "can_push": state.project_access(p) >= 30 && !b.protected || state.project_access(p) >= 40,
                "default": git.default_branch.as_deref() == Some(b.name.as_str()),
                "web_url": format!("{}/{}/-/tree/{}", ctx.base, p.full_path, b.name),
            })
        })
        .collect();
    ctx.respond_page(items, headers)
}

const ORDER_BY: [&str; 8] = [
    "created_at",
    "updated_at",
    "merged_at",
    "title",
    "label_priority",
    "milestone_due",
    "popularity",
    "priority",
];

/// `GET /projects/:id/merge_requests`.
pub(crate) fn list_merge_requests(state: &State, ctx: &Ctx, id: &str) -> Response {
    // Grape validates the parameters before the endpoint looks the project up.
    let mut errors = Vec::new();
    let param =
        |name: &str, allowed: &[&str], default: &'static str, errors: &mut Vec<String>| match ctx
            .params
            .get(name)
        {
            None => Some(default.to_string()),
            Some(v) if allowed.contains(&v.as_str()) => Some(v.clone()),
            Some(_) => {
                errors.push(format!("{name} does not have a valid value"));
                None
            }
        };
    let state_filter = param(
        "state",
        &["opened", "closed", "locked", "merged", "all"],
        "all",
        &mut errors,
    );
    let _order_by = param("order_by", &ORDER_BY, "created_at", &mut errors);
    let sort = param("sort", &["asc", "desc"], "desc", &mut errors);
    let simple = param("view", &["simple"], "", &mut errors).as_deref() == Some("simple");
    if !errors.is_empty() {
        return grape_error(&errors);
    }
    let (p, page) = match reporter_page(state, ctx, id) {
        Ok(found) => found,
        Err(r) => return r,
    };
    let state_filter = state_filter.unwrap_or_default();
    let mut list: Vec<&MergeRequest> = p
        .git
        .merge_requests
        .iter()
        .filter(|mr| state_filter == "all" || mr.state == state_filter)
        .filter(|mr| {
            ctx.params
                .get("source_branch")
                .map_or(true, |b| *b == mr.source_branch)
        })
        .filter(|mr| {
            ctx.params
                .get("target_branch")
                .map_or(true, |b| *b == mr.target_branch)
        })
        .collect();
    // Every order_by is by creation here: the fake keeps no other dates.
    if sort.as_deref() == Some("asc") {
        list.reverse();
    }
    let (range, headers) =
        pagination::paginate(list.len(), &page, Source::Relation, &ctx.url(), &ctx.params);
    let items = list[range]
        .iter()
        .map(|mr| merge_request_json(p, ctx, mr, simple))
        .collect();
    ctx.respond_page(items, headers)
}

fn merge_request_json(
    p: &crate::state::Project,
    ctx: &Ctx,
    mr: &MergeRequest,
    simple: bool,
) -> Value {
    let created = clock::rfc3339_z(mr.created_ms);
    let web_url = format!("{}/{}/-/merge_requests/{}", ctx.base, p.full_path, mr.iid);
    let mut m = Map::new();
    m.insert("id".into(), json!(p.id * 100_000 + mr.iid));
    m.insert("iid".into(), json!(mr.iid));
    m.insert("project_id".into(), json!(p.id));
    m.insert("title".into(), json!(format!("Merge {}", mr.source_branch)));
    m.insert("description".into(), json!(""));
    m.insert("state".into(), json!(mr.state));
    m.insert("created_at".into(), json!(created));
    m.insert("updated_at".into(), json!(created));
    m.insert("web_url".into(), json!(web_url));
    if simple {
        return Value::Object(m);
    }
    let ended = |state: &str| {
        if mr.state == state {
            json!(created)
        } else {
            Value::Null
        }
    };
    m.insert("merged_at".into(), ended("merged"));
    m.insert("closed_at".into(), ended("closed"));
    m.insert("target_branch".into(), json!(mr.target_branch));
    m.insert("source_branch".into(), json!(mr.source_branch));
    m.insert("source_project_id".into(), json!(mr.source_project_id));
    m.insert("target_project_id".into(), json!(p.id));
    m.insert("labels".into(), json!([]));
    m.insert("draft".into(), json!(false));
    m.insert("work_in_progress".into(), json!(false));
    m.insert("merge_status".into(), json!("can_be_merged"));
    m.insert("detailed_merge_status".into(), json!("mergeable"));
    m.insert(
        "sha".into(),
        json!(fake_sha256_hex(&format!("{}!{}", p.full_path, mr.iid))[..40]),
    );
    m.insert("reference".into(), json!(format!("!{}", mr.iid)));
    m.insert(
        "references".into(),
        json!({"short": format!("!{}", mr.iid), "relative": format!("!{}", mr.iid), "full": format!("{}!{}", p.full_path, mr.iid)}),
    );
    Value::Object(m)
}
