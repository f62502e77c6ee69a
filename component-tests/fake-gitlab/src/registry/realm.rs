//! `GET /jwt/auth`: GitLab as its registry's token realm.
//!
//! Follows app/controllers/jwt_controller.rb and
//! app/services/auth/container_registry_authentication_service.rb:
//! - Basic credentials go through `Gitlab::Auth.find_for_git_client`: an access token
//!   works with any user name (`personal_access_token_check` ignores the login), the job
//!   token only as `gitlab-ci-token`; a failed login answers 401
//!   `{"errors":[{"code":"UNAUTHORIZED","message":"HTTP Basic: Access denied"}]}`; no
//!   credentials is an anonymous request with read abilities only;
//! - `scope` may be given several times and each may hold space-separated scopes
//!   (`scopes_param`); each `repository:<path>:<actions>` is granted the actions the caller
//!   may do on the project that holds the path, and left out otherwise (no error);
//! - pull needs `read_container_image` (Reporter in a private project), push
//!   `create_container_image` (Developer), delete and `*` `admin_container_image`
//!   (Maintainer); a job token may pull, push and delete in its own project;
//! - nothing granted and nobody authenticated: 403 `DENIED` `access forbidden`;
//! - the answer is `{"token": …}`, a JWT valid for `container_registry_token_expire_delay`
//!   (5 minutes by default).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::json;

use super::jwt::{Access, SERVICE};
use crate::http::{Request, Response};
use crate::state::{RegistryAccess, State};

/// Who asked, and what their credentials let them do with the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    /// An access token: its scopes decide the abilities, the user's role the rest.
    Token {
        read: bool,
        create: bool,
        admin: bool,
    },
    /// `gitlab-ci-token` with a job token of this project.
    Job {
        project: u64,
    },
}

fn errors(status: u16, code: &str, message: &str) -> Response {
    Response::json(
        status,
        &json!({"errors": [{"code": code, "message": message}]}),
    )
}

pub(crate) fn handle(state: &State, req: &Request) -> Response {
    if req.method != "GET" {
        return Response::json(404, &json!({"error": "404 Not Found"}));
    }
    let query = crate::params::parse_pairs(&req.query);
    if !query.iter().any(|(k, v)| k == "service" && v == SERVICE) {
        // `return head :not_found unless service`
        return Response::new(404, "text/html", "");
    }
    let Some(registry) = state.registry.as_ref() else {
        return errors(404, "UNAVAILABLE", "registry not enabled");
    };
    let caller = match basic_credentials(req) {
        None => Caller::Anonymous,
        Some((login, password)) => match login_as(state, &login, &password) {
            Some(caller) => caller,
            None => return errors(401, "UNAUTHORIZED", "HTTP Basic: Access denied"),
        },
    };
    let granted: Vec<Access> = query
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter_map(|scope| grant(state, caller, &scope))
        .collect();
    if granted.is_empty() && caller == Caller::Anonymous {
        return errors(403, "DENIED", "access forbidden");
    }
    let subject = match caller {
        Caller::Token { .. } => Some("fake-user"),
        _ => None,
    };
    let token = registry
        .signer
        .token(subject, &granted, registry.settings.token_ttl_secs);
    Response::json(200, &json!({ "token": token }))
}

fn basic_credentials(req: &Request) -> Option<(String, String)> {
    let value = req.header("authorization")?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (login, password) = text.split_once(':')?;
    Some((login.to_string(), password.to_string()))
}

/// lib/gitlab/auth.rb `find_for_git_client`, for the credentials fixtures know.
fn login_as(state: &State, login: &str, password: &str) -> Option<Caller> {
    if login == "gitlab-ci-token" {
        if let Some(&project) = state.job_tokens.get(password) {
            return Some(Caller::Job { project });
        }
    }
    // `abilities_for_scopes`: api is full access, read_api and read_registry read,
    // write_registry creates.
    let scopes = state.tokens.get(password)?;
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let caller = Caller::Token {
        read: has("api") || has("read_api") || has("read_registry"),
        create: has("api") || has("write_registry"),
        admin: has("api"),
    };
    (caller
        != Caller::Token {
            read: false,
            create: false,
            admin: false,
        })
    .then_some(caller)
}

/// One `repository:<path>:<actions>` scope, as far as the caller may have it.
fn grant(state: &State, caller: Caller, scope: &str) -> Option<Access> {
    let mut parts = scope.splitn(3, ':');
    let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
    if kind != "repository" {
        return None;
    }
    let project = state.project_of_repository_path(name)?;
    let p = &state.projects[&project];
    if p.registry == RegistryAccess::Disabled {
        return None;
    }
    let role = state.project_access(p);
    let allowed: Vec<String> = actions
        .split(',')
        .filter(|action| match (caller, *action) {
            (Caller::Anonymous, _) => false,
            (Caller::Job { project: own }, "pull") => own == project || role >= 20,
            (Caller::Job { project: own }, "push" | "delete") => own == project,
            (Caller::Job { .. }, _) => false,
            (Caller::Token { read, .. }, "pull") => read && role >= 20,
            (Caller::Token { create, .. }, "push") => create && role >= 30,
            (Caller::Token { admin, .. }, "delete" | "*") => admin && role >= 40,
            _ => false,
        })
        .map(str::to_string)
        .collect();
    (!allowed.is_empty()).then(|| Access {
        name: name.to_string(),
        actions: allowed,
    })
}
