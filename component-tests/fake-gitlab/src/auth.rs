//! Who is calling, as GitLab's API guard decides it.
//!
//! Sources (gitlabhq/gitlabhq):
//! - lib/gitlab/auth/auth_finders.rb: tokens come from `PRIVATE-TOKEN` /
//!   `private_token`, `Authorization: Bearer`, `JOB-TOKEN` / `job_token`; an
//!   empty header counts as absent (`.presence`); an unknown personal token
//!   raises `UnauthorizedError` (401); a job token is only looked at on
//!   routes declaring `job_token_allowed`, elsewhere it is ignored and the
//!   request is anonymous;
//! - lib/api/api.rb: `allow_access_with_scope :api` and
//!   `allow_access_with_scope :read_api, if: GET or HEAD`;
//! - lib/api/api_guard.rb: an insufficient scope answers rack-oauth2's 403
//!   `{"error":"insufficient_scope","error_description":...,"scope":...}`,
//!   where `scope` lists every scope registered for the endpoint
//!   (auth_finders.rb `InsufficientScopeError#scopes`), i.e. `api read_api`;
//! - lib/api/project_container_repositories.rb: the only routes here with
//!   `job_token_allowed: true, job_token_scope: :project` are the project
//!   registry routes (doc/ci/jobs/ci_job_token.md: "Other API endpoints are
//!   not accessible using a job token").

use crate::http::{Request, Response};
use crate::params::parse_pairs;
use crate::state::State;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Principal {
    /// No credentials (or a job token where job tokens are not accepted).
    /// Every fixture project is private, so anonymous callers see nothing.
    Anonymous,
    /// The token's user; `job_project` is set when authenticated by a CI/CD
    /// job token, which may only reach that project's registry.
    User { job_project: Option<u64> },
}

pub(crate) fn unauthorized() -> Response {
    Response::json(401, &json!({"message": "401 Unauthorized"}))
}

fn insufficient_scope() -> Response {
    Response::json(
        403,
        &json!({
            "error": "insufficient_scope",
            "error_description": "The request requires higher privileges than provided by the access token.",
            "scope": "api read_api"
        }),
    )
}

pub(crate) fn authenticate(
    req: &Request,
    state: &State,
    job_token_allowed: bool,
) -> Result<Principal, Response> {
    let query = parse_pairs(&req.query);
    let param = |name: &str| {
        query
            .iter()
            .rev()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let header = |name: &str| {
        req.header(name)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let bearer = req.header("authorization").and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
            .then(|| token.trim().to_string())
    });

    if job_token_allowed {
        if let Some(project) = bearer.as_ref().and_then(|b| state.job_tokens.get(b)) {
            return Ok(Principal::User {
                job_project: Some(*project),
            });
        }
    }
    if let Some(token) = param("private_token")
        .or_else(|| header("private-token"))
        .or(bearer)
    {
        let scopes = state.tokens.get(&token).ok_or_else(unauthorized)?;
        let read_only = matches!(req.method.as_str(), "GET" | "HEAD");
        let allowed = scopes.iter().any(|s| s == "api")
            || (read_only && scopes.iter().any(|s| s == "read_api"));
        if !allowed {
            return Err(insufficient_scope());
        }
        return Ok(Principal::User { job_project: None });
    }
    if job_token_allowed {
        if let Some(token) = param("job_token").or_else(|| header("job-token")) {
            let project = state.job_tokens.get(&token).ok_or_else(unauthorized)?;
            return Ok(Principal::User {
                job_project: Some(*project),
            });
        }
    }
    Ok(Principal::Anonymous)
}
