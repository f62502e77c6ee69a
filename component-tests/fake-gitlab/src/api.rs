//! The GitLab REST endpoints registry-gc uses, answering as GitLab does.
//!
//! The point of the fake is that a client tested against it works against
//! GitLab, so each answer (status, body shape, field names, error text)
//! follows GitLab's source; the file each behaviour comes from is named
//! beside it. Field names follow lib/api/entities/container_registry.rb,
//! lib/api/entities/project.rb (and BasicProjectDetails for `simple=true`)
//! and lib/api/entities/container_expiration_policy.rb.
//!
//! Error bodies follow lib/api/helpers.rb: `not_found!('Project')` →
//! `{"message":"404 Project Not Found"}`, `forbidden!(reason)` →
//! `{"message":"403 Forbidden - reason"}`, Grape validation errors →
//! `{"error":"x is invalid"}`, and lib/api/api.rb answers an unknown route
//! with `{"error":"404 Not Found"}` and an ActiveRecord::RecordNotFound (a
//! repository id not in the project) with `{"message":"404 Not found"}`.

use crate::auth::{authenticate, unauthorized, Principal};
use crate::clock;
use crate::http::{Request, Response};
use crate::pagination::{self, Source};
use crate::params::{coerce_bool, coerce_int, coerce_string, nest, parse_pairs, percent_decode};
use crate::policy::Attrs;
use crate::registry::Details;
use crate::state::{Project, RegistryAccess, Repo, State};
use crate::tags::DeleteAnswer;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Projects,
    Project(String),
    ProjectRepos(String),
    Tags(String, String),
    Tag(String, String, String),
    GroupProjects(String),
    GroupRepos(String),
    ProtectionTagRules(String),
    /// `GET /projects/:id/repository/branches`, answered by crate::refs.
    Branches(String),
    /// `GET /projects/:id/merge_requests`, answered by crate::refs.
    MergeRequests(String),
    /// `POST /api/graphql`, answered by crate::graphql.
    Graphql,
    /// `/jwt/auth`, answered by crate::registry::realm.
    Realm,
    Unknown,
}

#[derive(Debug, Clone)]
pub(crate) struct Routed {
    pub route: Route,
    /// `METHOD /endpoint/:template`, the key of stats and scripted faults.
    pub template: String,
}

/// Matches `/api/v4/...`. Path segments are split before decoding, so
/// `demo%2Fshop` is one `:id` and `demo/shop` is no route at all, as with
/// GitLab's `NO_SLASH_URL_PART_REGEX` requirements.
pub(crate) fn route(method: &str, raw_path: &str) -> Routed {
    let rest = raw_path.strip_prefix("/api/v4").unwrap_or("");
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segs: Vec<String> = rest
        .split('/')
        .skip(1)
        .map(|s| percent_decode(s, false))
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let read = method == "GET" || method == "HEAD";
    let (route, template) = match (s.as_slice(), method) {
        (["projects"], _) if read => (Route::Projects, "/projects"),
        (["projects", id], _) if read => (Route::Project(id.to_string()), "/projects/:id"),
        (["projects", id], "PUT") => (Route::Project(id.to_string()), "/projects/:id"),
        (["projects", id, "registry", "repositories"], _) if read => (
            Route::ProjectRepos(id.to_string()),
            "/projects/:id/registry/repositories",
        ),
        (["projects", id, "registry", "repositories", rid, "tags"], _) if read => (
            Route::Tags(id.to_string(), rid.to_string()),
            "/projects/:id/registry/repositories/:repository_id/tags",
        ),
        (["projects", id, "registry", "repositories", rid, "tags", tag], m)
            if read || m == "DELETE" =>
        {
            (
                Route::Tag(id.to_string(), rid.to_string(), tag.to_string()),
                "/projects/:id/registry/repositories/:repository_id/tags/:tag_name",
            )
        }
        (["projects", id, "registry", "protection", "tag", "rules"], _) if read => (
            Route::ProtectionTagRules(id.to_string()),
            "/projects/:id/registry/protection/tag/rules",
        ),
        (["projects", id, "repository", "branches"], _) if read => (
            Route::Branches(id.to_string()),
            "/projects/:id/repository/branches",
        ),
        (["projects", id, "merge_requests"], _) if read => (
            Route::MergeRequests(id.to_string()),
            "/projects/:id/merge_requests",
        ),
        (["groups", id, "projects"], _) if read => {
            (Route::GroupProjects(id.to_string()), "/groups/:id/projects")
        }
        (["groups", id, "registry", "repositories"], _) if read => (
            Route::GroupRepos(id.to_string()),
            "/groups/:id/registry/repositories",
        ),
        _ => (Route::Unknown, "(unknown)"),
    };
    Routed {
        route,
        template: format!("{method} {template}"),
    }
}

fn msg(status: u16, message: &str) -> Response {
    Response::json(status, &json!({ "message": message }))
}

fn not_found(resource: &str) -> Response {
    msg(404, &format!("404 {resource} Not Found"))
}

pub(crate) fn forbidden(reason: Option<&str>) -> Response {
    match reason {
        None => msg(403, "403 Forbidden"),
        Some(r) => msg(403, &format!("403 Forbidden - {r}")),
    }
}

pub(crate) fn grape_error(errors: &[String]) -> Response {
    Response::json(400, &json!({ "error": errors.join(", ") }))
}

/// Per-request context: parameters, caller, URLs.
pub(crate) struct Ctx<'a> {
    req: &'a Request,
    /// Query params, last occurrence wins (Rack), plus route params.
    pub(crate) params: BTreeMap<String, String>,
    pub(crate) base: String,
    principal: Principal,
    now_ms: i64,
    apply: bool,
}

impl Ctx<'_> {
    pub(crate) fn url(&self) -> String {
        format!("{}{}", self.base, self.req.path)
    }

    fn bool_param(&self, name: &str, errors: &mut Vec<String>) -> Option<bool> {
        let v = self.params.get(name)?;
        let b = coerce_bool(&Value::String(v.clone()));
        if b.is_none() {
            errors.push(format!("{name} is invalid"));
        }
        b
    }

    pub(crate) fn respond_page(
        &self,
        items: Vec<Value>,
        headers: Vec<(String, String)>,
    ) -> Response {
        let mut r = Response::json(200, &Value::Array(items));
        r.headers.extend(headers);
        r
    }
}

pub(crate) fn handle(
    state: &mut State,
    req: &Request,
    routed: &Routed,
    apply: bool,
    now_ms: i64,
) -> Response {
    if matches!(routed.route, Route::Unknown | Route::Graphql | Route::Realm) {
        return Response::json(404, &json!({"error": "404 Not Found"}));
    }
    let mut params: BTreeMap<String, String> = parse_pairs(&req.query).into_iter().collect();
    match &routed.route {
        Route::Project(id)
        | Route::ProjectRepos(id)
        | Route::ProtectionTagRules(id)
        | Route::GroupProjects(id)
        | Route::GroupRepos(id)
        | Route::Branches(id)
        | Route::MergeRequests(id) => {
            params.insert("id".into(), id.clone());
        }
        Route::Tags(id, rid) => {
            params.insert("id".into(), id.clone());
            params.insert("repository_id".into(), rid.clone());
        }
        _ => {}
    }
    let job_token_allowed = matches!(
        routed.route,
        Route::ProjectRepos(_) | Route::Tags(..) | Route::Tag(..)
    );
    let principal = match authenticate(req, state, job_token_allowed) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let host = req.header("host").unwrap_or("localhost");
    let ctx = Ctx {
        req,
        params,
        base: format!("{}://{host}", req.scheme),
        principal,
        now_ms,
        apply,
    };
    match routed.route.clone() {
        Route::Projects => list_projects(state, &ctx, None),
        Route::Project(id) if req.method == "PUT" => update_project(state, &ctx, &id),
        Route::Project(id) => get_project(state, &ctx, &id),
        Route::ProjectRepos(id) => project_repositories(state, &ctx, &id),
        Route::Tags(id, rid) => list_tags(state, &ctx, &id, &rid),
        Route::Tag(id, rid, tag) if req.method == "DELETE" => {
            delete_tag(state, &ctx, &id, &rid, &tag)
        }
        Route::Tag(id, rid, tag) => tag_details(state, &ctx, &id, &rid, &tag),
        Route::GroupProjects(id) => group_projects(state, &ctx, &id),
        Route::GroupRepos(id) => group_repositories(state, &ctx, &id),
        Route::ProtectionTagRules(id) => protection_tag_rules(state, &ctx, &id),
        Route::Branches(id) => crate::refs::list_branches(state, &ctx, &id),
        Route::MergeRequests(id) => crate::refs::list_merge_requests(state, &ctx, &id),
        Route::Unknown | Route::Graphql | Route::Realm => unreachable!(),
    }
}

// ---------------------------------------------------------------- lookups

/// lib/api/helpers.rb `find_project!`: a job token authenticated for
/// another project (or none) is refused before the lookup; then a project
/// the caller cannot read is "not found".
pub(crate) fn find_project<'s>(
    state: &'s State,
    ctx: &Ctx,
    id: &str,
) -> Result<&'s Project, Response> {
    let project = state.find_project(id).and_then(|i| state.projects.get(&i));
    if let Principal::User {
        job_project: Some(job),
    } = ctx.principal
    {
        if project.map(|p| p.id) != Some(job) {
            return Err(forbidden(Some(
                "This project's CI/CD job token cannot be used to authenticate with the container registry of a different project.",
            )));
        }
    }
    match (ctx.principal, project) {
        (Principal::User { .. }, Some(p)) if state.project_access(p) >= 10 => Ok(p),
        _ => Err(not_found("Project")),
    }
}

/// `authorize! :read_container_image`: ProjectPolicy prevents it when the
/// registry is disabled (`rule { container_registry_disabled }`) and grants
/// it from Reporter (`reporter_access`) in a private project.
fn can_read_registry(state: &State, p: &Project) -> bool {
    p.registry != RegistryAccess::Disabled && state.project_access(p) >= 20
}

/// lib/api/helpers.rb `find_group!` / `check_group_access`.
fn find_group(state: &State, ctx: &Ctx, id: &str) -> Result<u64, Response> {
    match (ctx.principal, state.find_group(id)) {
        (Principal::User { .. }, Some(g)) if state.group_visible(g) => Ok(g),
        _ => Err(not_found("Group")),
    }
}

/// `user_project.container_repositories.find(params[:repository_id])`.
fn find_repo<'s>(state: &'s State, project: &Project, rid: &str) -> Result<&'s Repo, Response> {
    if !crate::state::is_integer(rid) {
        return Err(grape_error(&["repository_id is invalid".to_string()]));
    }
    rid.parse::<u64>()
        .ok()
        .and_then(|r| state.repos.get(&r))
        .filter(|r| r.project_id == project.id)
        .ok_or_else(|| msg(404, "404 Not found"))
}

// ---------------------------------------------------------------- projects

const ORDER_BY: [&str; 12] = [
    "id",
    "name",
    "path",
    "created_at",
    "updated_at",
    "last_activity_at",
    "similarity",
    "star_count",
    "storage_size",
    "repository_size",
    "wiki_size",
    "packages_size",
];

/// Gitlab::Access.all_values.
const ACCESS_VALUES: [&str; 7] = ["5", "10", "15", "20", "30", "40", "50"];

/// `GET /projects` (lib/api/projects.rb) and `GET /groups/:id/projects`
/// (lib/api/groups.rb): visible projects, filtered, ordered by `order_by`
/// (default `created_at`, which orders by id) and `sort` (default `desc`).
fn list_projects(
    state: &State,
    ctx: &Ctx,
    groups: Option<std::collections::BTreeSet<u64>>,
) -> Response {
    let mut errors = Vec::new();
    let simple = ctx.bool_param("simple", &mut errors).unwrap_or(false);
    let archived = ctx.bool_param("archived", &mut errors);
    let _membership = ctx.bool_param("membership", &mut errors);
    let min_access = match ctx.params.get("min_access_level") {
        None => None,
        Some(v) if ACCESS_VALUES.contains(&v.as_str()) => v.parse::<u8>().ok(),
        Some(_) => {
            errors.push("min_access_level does not have a valid value".into());
            None
        }
    };
    let order_by = ctx
        .params
        .get("order_by")
        .map(String::as_str)
        .unwrap_or("created_at");
    if !ORDER_BY.contains(&order_by) {
        errors.push("order_by does not have a valid value".into());
    }
    let sort = ctx.params.get("sort").map(String::as_str).unwrap_or("desc");
    if !["asc", "desc"].contains(&sort) {
        errors.push("sort does not have a valid value".into());
    }
    let page = match pagination::parse(&ctx.params) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !errors.is_empty() {
        return grape_error(&errors);
    }
    let search = ctx.params.get("search").map(|s| s.to_lowercase());

    let mut list: Vec<&Project> = match ctx.principal {
        // Anonymous callers see public projects only; fixture projects are private.
        Principal::Anonymous => Vec::new(),
        Principal::User { .. } => state
            .projects
            .values()
            .filter(|p| state.project_access(p) >= 10)
            .filter(|p| {
                groups
                    .as_ref()
                    .map_or(true, |g| g.contains(&p.namespace_id))
            })
            .filter(|p| min_access.map_or(true, |m| state.project_access(p) >= m))
            .filter(|p| archived.map_or(true, |a| p.archived == a))
            .filter(|p| {
                search.as_ref().map_or(true, |s| {
                    p.name.to_lowercase().contains(s) || p.full_path.to_lowercase().contains(s)
                })
            })
            .collect(),
    };
    list.sort_by(|a, b| {
        let primary = match order_by {
            "name" => a.name.cmp(&b.name),
            "path" => a.path().cmp(b.path()),
            "updated_at" | "last_activity_at" => a.created_ms.cmp(&b.created_ms),
            _ => std::cmp::Ordering::Equal, // id, created_at (→ id), the rest
        };
        let ord = primary.then(a.id.cmp(&b.id));
        if sort == "desc" {
            ord.reverse()
        } else {
            ord
        }
    });
    let (range, headers) =
        pagination::paginate(list.len(), &page, Source::Relation, &ctx.url(), &ctx.params);
    let with_permissions = groups.is_none();
    let items = list[range]
        .iter()
        .map(|p| project_json(state, ctx, p, !simple, with_permissions && !simple))
        .collect();
    ctx.respond_page(items, headers)
}

fn get_project(state: &State, ctx: &Ctx, id: &str) -> Response {
    match find_project(state, ctx, id) {
        Ok(p) => Response::json(200, &project_json(state, ctx, p, true, true)),
        Err(r) => r,
    }
}

/// Top-level attributes that satisfy PUT's `at_least_one_of`
/// (Helpers::ProjectsHelpers.update_params_at_least_one_of, abridged).
const UPDATE_PARAMS: [&str; 12] = [
    "name",
    "description",
    "default_branch",
    "path",
    "visibility",
    "archived",
    "topics",
    "tag_list",
    "container_registry_enabled",
    "container_registry_access_level",
    "container_expiration_policy_attributes",
    "packages_enabled",
];

/// `PUT /projects/:id` (lib/api/projects.rb): `authenticate_non_get!`,
/// `authorize_admin_project` (Maintainer), Grape coercion of
/// `container_expiration_policy_attributes` (lib/api/helpers/projects_helpers.rb
/// `optional_container_expiration_policy_params`: only cadence, keep_n,
/// older_than, name_regex, name_regex_keep, enabled; anything else, such as
/// `name_regex_delete`, is dropped by `declared_params`), then the model's
/// validation, answered by `render_validation_error!` as
/// `{"message": {"container_expiration_policy.cadence": [...]}}` with 400.
fn update_project(state: &mut State, ctx: &Ctx, id: &str) -> Response {
    if ctx.principal == Principal::Anonymous {
        return unauthorized();
    }
    let pid = match find_project(state, ctx, id) {
        Ok(p) if state.project_access(p) >= 40 => p.id,
        Ok(_) => return forbidden(None),
        Err(r) => return r,
    };

    // Rack merges query and body parameters.
    let mut body_params = nest(&parse_pairs(&ctx.req.query));
    let ctype = ctx
        .req
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let body = String::from_utf8_lossy(&ctx.req.body);
    if !body.trim().is_empty() {
        let parsed = if ctype.starts_with("application/json")
            || (!ctype.contains("form") && body.trim_start().starts_with('{'))
        {
            match serde_json::from_str::<Value>(&body) {
                Ok(Value::Object(m)) => m,
                _ => return grape_error(&["The request body is not valid JSON".into()]),
            }
        } else {
            nest(&parse_pairs(&body))
        };
        body_params.extend(parsed);
    }
    if !UPDATE_PARAMS.iter().any(|k| body_params.contains_key(*k)) {
        return grape_error(&[format!(
            "{} are missing, at least one parameter must be provided",
            UPDATE_PARAMS.join(", ")
        )]);
    }

    let mut errors = Vec::new();
    let mut registry = None;
    if let Some(v) = body_params.get("container_registry_access_level") {
        registry = match v.as_str().and_then(RegistryAccess::parse) {
            Some(r) => Some(r),
            None => {
                errors.push("container_registry_access_level does not have a valid value".into());
                None
            }
        };
    } else if let Some(v) = body_params.get("container_registry_enabled") {
        match coerce_bool(v) {
            Some(true) => registry = Some(RegistryAccess::Enabled),
            Some(false) => registry = Some(RegistryAccess::Disabled),
            None => errors.push("container_registry_enabled is invalid".into()),
        }
    }
    let mut attrs = Attrs::default();
    if let Some(v) = body_params.get("container_expiration_policy_attributes") {
        match v {
            Value::Object(m) => read_policy_attrs(m, &mut attrs, &mut errors),
            _ => errors.push("container_expiration_policy_attributes is invalid".into()),
        }
    }
    if !errors.is_empty() {
        return grape_error(&errors);
    }

    let project = &state.projects[&pid];
    let policy = match project.policy.updated(&attrs, ctx.now_ms) {
        Ok(p) => p,
        Err(e) => return Response::json(400, &json!({ "message": Value::Object(e) })),
    };
    let old_policy = project.policy.clone();
    let old_registry = project.registry;
    {
        let p = state.projects.get_mut(&pid).expect("project exists");
        p.policy = policy;
        if let Some(r) = registry {
            p.registry = r;
        }
    }
    let body = project_json(state, ctx, &state.projects[&pid], true, true);
    if !ctx.apply {
        let p = state.projects.get_mut(&pid).expect("project exists");
        p.policy = old_policy;
        p.registry = old_registry;
    }
    Response::json(200, &body)
}

fn read_policy_attrs(m: &Map<String, Value>, attrs: &mut Attrs, errors: &mut Vec<String>) {
    let invalid = |k: &str| format!("container_expiration_policy_attributes[{k}] is invalid");
    for (k, v) in m {
        match k.as_str() {
            "cadence" | "older_than" | "name_regex" | "name_regex_keep" => match coerce_string(v) {
                Some(s) => {
                    let slot = match k.as_str() {
                        "cadence" => &mut attrs.cadence,
                        "older_than" => &mut attrs.older_than,
                        "name_regex" => &mut attrs.name_regex,
                        _ => &mut attrs.name_regex_keep,
                    };
                    *slot = Some(s);
                }
                None => errors.push(invalid(k)),
            },
            "keep_n" => match coerce_int(v) {
                Some(n) => attrs.keep_n = Some(n),
                None => errors.push(invalid(k)),
            },
            "enabled" => match v {
                Value::Null => attrs.enabled = Some(None),
                _ => match coerce_bool(v) {
                    Some(b) => attrs.enabled = Some(Some(b)),
                    None => errors.push(invalid(k)),
                },
            },
            _ => {} // not declared: dropped by declared_params
        }
    }
}

// ---------------------------------------------------------------- registry

fn project_repositories(state: &State, ctx: &Ctx, id: &str) -> Response {
    let p = match find_project(state, ctx, id) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !can_read_registry(state, p) {
        return forbidden(None);
    }
    let mut errors = Vec::new();
    let tags = ctx.bool_param("tags", &mut errors).unwrap_or(false);
    let tags_count = ctx.bool_param("tags_count", &mut errors).unwrap_or(false);
    let page = match pagination::parse(&ctx.params) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !errors.is_empty() {
        return grape_error(&errors);
    }
    let can_admin = state.project_access(p) >= 40;
    let (range, headers) = pagination::paginate(
        p.repo_ids.len(),
        &page,
        Source::Relation,
        &ctx.url(),
        &ctx.params,
    );
    let items = p.repo_ids[range]
        .iter()
        .map(|rid| repo_json(state, ctx, &state.repos[rid], tags, tags_count, can_admin))
        .collect();
    ctx.respond_page(items, headers)
}

/// `GET /groups/:id/registry/repositories` (lib/api/group_container_repositories.rb):
/// `authorize! :read_container_image, user_group` (GroupPolicy: Reporter in
/// the group), then ContainerRepository.for_group_and_its_subgroups, which
/// keeps projects whose registry is not disabled ("enabled here means not
/// disabled. It includes private features!", Project.with_feature_enabled).
fn group_repositories(state: &State, ctx: &Ctx, id: &str) -> Response {
    let gid = match find_group(state, ctx, id) {
        Ok(g) => g,
        Err(r) => return r,
    };
    if state.group_access(gid) < 20 {
        return forbidden(None);
    }
    let page = match pagination::parse(&ctx.params) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let tree = state.subtree(gid);
    // OffsetPagination#add_default_order orders by id.
    let repos: Vec<&Repo> = state
        .repos
        .values()
        .filter(|r| {
            let p = &state.projects[&r.project_id];
            tree.contains(&p.namespace_id) && p.registry != RegistryAccess::Disabled
        })
        .collect();
    let (range, headers) = pagination::paginate(
        repos.len(),
        &page,
        Source::Relation,
        &ctx.url(),
        &ctx.params,
    );
    let items = repos[range]
        .iter()
        .map(|r| {
            let can_admin = state.project_access(&state.projects[&r.project_id]) >= 40;
            repo_json(state, ctx, r, false, false, can_admin)
        })
        .collect();
    ctx.respond_page(items, headers)
}

fn group_projects(state: &State, ctx: &Ctx, id: &str) -> Response {
    let gid = match find_group(state, ctx, id) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let mut errors = Vec::new();
    let include_subgroups = ctx
        .bool_param("include_subgroups", &mut errors)
        .unwrap_or(false);
    if !errors.is_empty() {
        return grape_error(&errors);
    }
    let groups = if include_subgroups {
        state.subtree(gid)
    } else {
        std::collections::BTreeSet::from([gid])
    };
    list_projects(state, ctx, Some(groups))
}

/// Repository and tag lookups shared by the tag routes, in GitLab's order:
/// project (before block), repository_id type, repository, read access.
fn registry_target<'s>(
    state: &'s State,
    ctx: &Ctx,
    id: &str,
    rid: &str,
) -> Result<(&'s Project, &'s Repo), Response> {
    let p = find_project(state, ctx, id)?;
    if !can_read_registry(state, p) {
        return Err(forbidden(None));
    }
    let r = find_repo(state, p, rid)?;
    Ok((p, r))
}

/// `repository.tags` sorts the names (app/models/container_repository.rb
/// `manifest['tags'].sort`), then `Kaminari.paginate_array`.
fn list_tags(state: &State, ctx: &Ctx, id: &str, rid: &str) -> Response {
    let (_, repo) = match registry_target(state, ctx, id, rid) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let page = match pagination::parse(&ctx.params) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let names = match state.tag_names(repo.id) {
        Ok(names) => names,
        Err(e) => return registry_error(&e),
    };
    let (range, headers) =
        pagination::paginate(names.len(), &page, Source::Array, &ctx.url(), &ctx.params);
    let items = names[range]
        .iter()
        .map(|name| tag_json(state, repo, name))
        .collect();
    ctx.respond_page(items, headers)
}

/// A registry that does not answer: Rails' 500.
fn registry_error(detail: &str) -> Response {
    log_registry_error(detail);
    msg(500, "500 Internal Server Error")
}

fn log_registry_error(detail: &str) {
    eprintln!("fake-gitlab: registry: {detail}");
}

/// `validate_tag!`: `not_found!('Tag') unless tag&.valid?`, then
/// `Entities::ContainerRegistry::TagDetails`.
fn tag_details(state: &State, ctx: &Ctx, id: &str, rid: &str, name: &str) -> Response {
    let (_, repo) = match registry_target(state, ctx, id, rid) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let view = match state.rest_details(repo.id, name) {
        Details::Found(view) => view,
        Details::NotFound => return not_found("Tag"),
        Details::ServerError(e) => return registry_error(&e),
    };
    let mut v = tag_json(state, repo, name);
    let m = v.as_object_mut().expect("tag json is an object");
    m.insert("revision".into(), json!(view.revision));
    m.insert(
        "short_revision".into(),
        json!(view
            .revision
            .as_ref()
            .map(|r| r.chars().take(9).collect::<String>())),
    );
    m.insert("digest".into(), json!(view.digest));
    m.insert(
        "created_at".into(),
        json!(view.created_ms.map(clock::rfc3339_offset)),
    );
    m.insert("total_size".into(), json!(view.total_size));
    Response::json(200, &v)
}

/// `DELETE .../tags/:tag_name`: `authorize_destroy_container_image_tag!`
/// (Developer), then DeleteTagsService; what each registry and GitLab version
/// answers is in crate::tags (gitlab-api.md §13): a protected tag usually meets
/// the tag policy's plain 403; success is `status :ok`, whose value (200) Grape
/// renders as the body, a failure `status :bad_request`.
fn delete_tag(state: &mut State, ctx: &Ctx, id: &str, rid: &str, name: &str) -> Response {
    let (pid, repo_id) = match registry_target(state, ctx, id, rid) {
        Ok((p, r)) => (p.id, r.id),
        Err(r) => return r,
    };
    let role = state.project_access(&state.projects[&pid]);
    if role < 30 {
        return forbidden(None);
    }
    match state.delete_tag(repo_id, name, role, ctx.apply) {
        DeleteAnswer::Deleted => Response::json(200, &json!(200)),
        DeleteAnswer::TagNotFound => not_found("Tag"),
        DeleteAnswer::Forbidden => forbidden(None),
        DeleteAnswer::ProtectedByService => forbidden(Some("cannot delete protected tag(s)")),
        DeleteAnswer::Status(200) => Response::json(200, &json!(200)),
        DeleteAnswer::Status(400) => msg(400, "400 Bad request"),
        DeleteAnswer::Status(_) => not_found("Tag"),
        DeleteAnswer::BadRequest(e) => {
            log_registry_error(&e);
            Response::json(400, &json!(400))
        }
    }
}

/// `GET /projects/:id/registry/protection/tag/rules` (GitLab 18.7+,
/// doc/api/container_registry_protection_tag_rules.md): Maintainer; the mutable
/// rules only (immutable ones are not listed).
fn protection_tag_rules(state: &State, ctx: &Ctx, id: &str) -> Response {
    if state.registry_settings.mode != crate::registry::Mode::Memory
        && state.registry_settings.version < crate::registry::Version(18, 7, 0)
    {
        return Response::json(404, &json!({"error": "404 Not Found"}));
    }
    let p = match find_project(state, ctx, id) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if state.project_access(p) < 40 {
        return forbidden(None);
    }
    let rules: Vec<Value> = p
        .protection_rules
        .iter()
        .filter(|r| !r.immutable)
        .map(|r| r.rest_json(p.id))
        .collect();
    Response::json(200, &Value::Array(rules))
}

// ---------------------------------------------------------------- entities

fn tag_json(state: &State, repo: &Repo, name: &str) -> Value {
    json!({
        "name": name,
        "path": format!("{}:{name}", repo.path),
        "location": format!("{}/{}:{name}", state.registry_host, repo.path),
    })
}

fn repo_json(
    state: &State,
    ctx: &Ctx,
    r: &Repo,
    tags: bool,
    tags_count: bool,
    can_admin: bool,
) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("name".into(), json!(r.name));
    m.insert("path".into(), json!(r.path));
    m.insert("project_id".into(), json!(r.project_id));
    m.insert(
        "location".into(),
        json!(format!("{}/{}", state.registry_host, r.path)),
    );
    m.insert("created_at".into(), json!(clock::rfc3339_z(r.created_ms)));
    m.insert("cleanup_policy_started_at".into(), Value::Null);
    if tags || tags_count {
        let names = state.tag_names(r.id).unwrap_or_default();
        if tags_count {
            m.insert("tags_count".into(), json!(names.len()));
        }
        if tags {
            let list: Vec<Value> = names.iter().map(|n| tag_json(state, r, n)).collect();
            m.insert("tags".into(), Value::Array(list));
        }
    }
    if can_admin {
        m.insert(
            "delete_api_path".into(),
            json!(format!(
                "{}/api/v4/projects/{}/registry/repositories/{}",
                ctx.base, r.project_id, r.id
            )),
        );
    }
    m.insert("status".into(), json!(r.status));
    Value::Object(m)
}

fn project_json(state: &State, ctx: &Ctx, p: &Project, full: bool, permissions: bool) -> Value {
    let ns = &state.groups[&p.namespace_id];
    let mut ns_names = Vec::new();
    let mut cur = Some(ns);
    while let Some(g) = cur {
        ns_names.push(g.name.as_str());
        cur = g.parent_id.and_then(|id| state.groups.get(&id));
    }
    ns_names.reverse();
    let created = clock::rfc3339_z(p.created_ms);
    let web_url = format!("{}/{}", ctx.base, p.full_path);
    let host = ctx
        .base
        .split_once("://")
        .map_or(ctx.base.as_str(), |(_, h)| h);
    let mut m = Map::new();
    m.insert("id".into(), json!(p.id));
    m.insert("description".into(), Value::Null);
    m.insert("name".into(), json!(p.name));
    m.insert(
        "name_with_namespace".into(),
        json!(format!("{} / {}", ns_names.join(" / "), p.name)),
    );
    m.insert("path".into(), json!(p.path()));
    m.insert("path_with_namespace".into(), json!(p.full_path));
    m.insert("created_at".into(), json!(created));
    m.insert("default_branch".into(), json!(p.git.default_branch));
    m.insert("tag_list".into(), json!([]));
    m.insert("topics".into(), json!([]));
    m.insert(
        "ssh_url_to_repo".into(),
        json!(format!("git@{host}:{}.git", p.full_path)),
    );
    m.insert("http_url_to_repo".into(), json!(format!("{web_url}.git")));
    m.insert("web_url".into(), json!(web_url));
    m.insert("readme_url".into(), Value::Null);
    m.insert("forks_count".into(), json!(0));
    m.insert("avatar_url".into(), Value::Null);
    m.insert("star_count".into(), json!(0));
    m.insert("last_activity_at".into(), json!(created));
    m.insert(
        "namespace".into(),
        json!({
            "id": ns.id,
            "name": ns.name,
            "path": ns.full_path.rsplit('/').next().unwrap_or(&ns.full_path),
            "kind": "group",
            "full_path": ns.full_path,
            "parent_id": ns.parent_id,
            "avatar_url": null,
            "web_url": format!("{}/groups/{}", ctx.base, ns.full_path),
        }),
    );
    if full {
        m.insert(
            "container_registry_image_prefix".into(),
            json!(format!(
                "{}/{}",
                state.registry_host,
                p.full_path.to_lowercase()
            )),
        );
        m.insert(
            "_links".into(),
            json!({"self": format!("{}/api/v4/projects/{}", ctx.base, p.id)}),
        );
        m.insert("packages_enabled".into(), json!(true));
        m.insert("empty_repo".into(), json!(false));
        m.insert("archived".into(), json!(p.archived));
        m.insert("visibility".into(), json!("private"));
        m.insert("container_expiration_policy".into(), p.policy.to_json());
        // `feature_available?(:container_registry, user)`: private registries
        // are available to members from Reporter.
        let available = match p.registry {
            RegistryAccess::Disabled => false,
            RegistryAccess::Enabled => true,
            RegistryAccess::Private => state.project_access(p) >= 20,
        };
        m.insert("container_registry_enabled".into(), json!(available));
        m.insert(
            "container_registry_access_level".into(),
            json!(p.registry.as_str()),
        );
    }
    if permissions {
        let access = |level: u8| {
            if level == 0 {
                Value::Null
            } else {
                json!({"access_level": level, "notification_level": 3})
            }
        };
        m.insert(
            "permissions".into(),
            json!({
                "project_access": access(p.access_level),
                "group_access": access(state.group_access(p.namespace_id)),
            }),
        );
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = route(
            "GET",
            "/api/v4/projects/demo%2Fshop/registry/repositories/101/tags/v1.0",
        );
        assert_eq!(
            r.route,
            Route::Tag("demo/shop".into(), "101".into(), "v1.0".into())
        );
        assert_eq!(
            r.template,
            "GET /projects/:id/registry/repositories/:repository_id/tags/:tag_name"
        );
        assert_eq!(
            route("GET", "/api/v4/projects/demo/shop").route,
            Route::Unknown
        );
        assert_eq!(
            route("DELETE", "/api/v4/projects/1").template,
            "DELETE (unknown)"
        );
        assert_eq!(
            route("PUT", "/api/v4/projects/1/").route,
            Route::Project("1".into())
        );
        assert_eq!(
            route("GET", "/api/v4/groups/10/registry/repositories").template,
            "GET /groups/:id/registry/repositories"
        );
    }
}
