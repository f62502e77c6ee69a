//! `POST /api/graphql`: the container-registry slice of GitLab's GraphQL API.
//!
//! registry-gc's fast path reads tags in pages of 20 with their dates and
//! deletes 20 at a time through GraphQL; the fake answers it from the same
//! state as the REST routes so that a client mixing both (GraphQL where it
//! exists, REST elsewhere) sees one consistent instance. Queries are parsed
//! for real and validated against a small schema ([`schema`],
//! [`validate`]) before they run ([`exec`]), because a client's fallback
//! logic keys on GitLab's exact errors (an `undefinedField` on an older
//! GitLab, a 401 for a bad token), not on whatever a hand-matched query
//! would produce.
//!
//! Controller behaviour follows app/controllers/graphql_controller.rb:
//! sessionless authentication for GraphQL (lib/gitlab/auth/
//! request_authenticator.rb `find_user_for_graphql_api_request`: personal
//! access tokens with `api` or `read_api`; "CI_JOB_TOKENs are not allowed
//! for now"), `authorize_access_api!` answering 401 `Invalid token` when a
//! token is present but found no user (any of `PRIVATE-TOKEN`, `JOB-TOKEN`,
//! `Deploy-Token`, `private_token`, `job_token`, `token`: auth_finders.rb
//! `authentication_token_present?`), `limit_query_size` (422 `Query too
//! large` past 10,000 characters).

mod exec;
mod schema;
mod validate;

use crate::http::{Request, Response};
use crate::params::parse_pairs;
use crate::state::State;
use exec::{Caller, Exec};
use graphql_parser::query::Selection;
use schema::Schema;
use serde_json::{json, Map, Value};
use validate::{Doc, Validator};

/// Which GitLab the fixture stands for, as far as GraphQL goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Full,
    /// A GitLab whose ContainerRepositoryTag has no `publishedAt` yet.
    NoPublishedAt,
    /// `/api/graphql` is not there (blocked by a proxy): a 404 like any
    /// unknown route.
    Absent,
}

impl Mode {
    pub(crate) fn parse(s: Option<&str>) -> Result<Mode, String> {
        match s {
            None | Some("full") => Ok(Mode::Full),
            Some("no_published_at") => Ok(Mode::NoPublishedAt),
            Some("absent") => Ok(Mode::Absent),
            Some(other) => Err(format!(
                "graphql must be full, no_published_at or absent, not {other:?}"
            )),
        }
    }
}

/// GitLab rejects longer query strings (GraphqlController::MAX_QUERY_SIZE).
const MAX_QUERY_SIZE: usize = 10_000;

pub(crate) const PATH: &str = "/api/graphql";

/// Whether `template` is a GraphQL request's stats template.
pub(crate) fn is_template(template: &str) -> bool {
    template.starts_with("POST /api/graphql (")
}

/// The stats and fault key of a request to `/api/graphql`:
/// `POST /api/graphql (<operation name>)`, or the root fields of an
/// anonymous operation (`POST /api/graphql (containerRepository)`), or
/// `(invalid)` when the body says nothing usable. `None` when the route is
/// not there (another method, or the fixture's GraphQL is `absent`).
pub(crate) fn template(req: &Request, mode: Mode) -> Option<String> {
    if mode == Mode::Absent || req.method != "POST" {
        return None;
    }
    let label = with_operation(req, |name, roots| match name {
        Some(n) => n.to_string(),
        None => root_fields(roots).join(","),
    })
    .filter(|l| !l.is_empty())
    .unwrap_or_else(|| "invalid".to_string());
    Some(format!("POST {PATH} ({label})"))
}

/// The operation of the request's body, as it would be executed (named by `operationName`, or
/// the only one), given to `read` with its name and root selections; `None` when the body has
/// no such operation.
fn with_operation<T>(
    req: &Request,
    read: impl FnOnce(Option<&str>, &[Selection<'static, String>]) -> T,
) -> Option<T> {
    let Body {
        query,
        operation_name,
        ..
    } = request_body(req).ok()?;
    let doc = graphql_parser::parse_query::<String>(&query)
        .ok()?
        .into_static();
    let op = validate::select_operation(&doc, operation_name.as_deref()).ok()?;
    Some(read(op.name, &op.set.items))
}

fn root_fields(items: &[Selection<'static, String>]) -> Vec<String> {
    items
        .iter()
        .flat_map(|s| match s {
            Selection::Field(f) => vec![f.name.clone()],
            Selection::InlineFragment(i) => root_fields(&i.selection_set.items),
            Selection::FragmentSpread(_) => Vec::new(),
        })
        .collect()
}

fn errors(status: u16, messages: &[&str]) -> Response {
    let list: Vec<Value> = messages.iter().map(|m| json!({ "message": m })).collect();
    Response::json(status, &json!({ "errors": list }))
}

/// A request's JSON body.
struct Body {
    query: String,
    /// An object, a JSON string of one, or null (Gitlab::Graphql::Variables).
    variables: Map<String, Value>,
    operation_name: Option<String>,
}

fn request_body(req: &Request) -> Result<Body, String> {
    let body: Value = serde_json::from_slice(&req.body).map_err(|e| e.to_string())?;
    let query = match &body["query"] {
        Value::String(q) => q.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let variables = match &body["variables"] {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        Value::String(s) if s.trim().is_empty() => Map::new(),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => m,
            _ => return Err(format!("Unexpected end of input: {s}")),
        },
        other => return Err(format!("Unexpected parameter: {other}")),
    };
    let operation_name = body["operationName"].as_str().map(str::to_string);
    Ok(Body {
        query,
        variables,
        operation_name,
    })
}

/// GraphqlController's sessionless authentication; `Err` is its 401.
fn authenticate(req: &Request, state: &State) -> Result<Caller, Response> {
    let query = parse_pairs(&req.query);
    let param = |n: &str| {
        query
            .iter()
            .rev()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let bearer = req.header("authorization").and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    let token = param("private_token")
        .filter(|t| !t.is_empty())
        .or_else(|| req.header("private-token").filter(|t| !t.is_empty()))
        .or(bearer.filter(|t| !t.is_empty()));
    let user = token.and_then(|t| state.tokens.get(t)).and_then(|scopes| {
        let has = |s: &str| scopes.iter().any(|x| x == s);
        (has("api") || has("read_api")).then(|| Caller::User { write: has("api") })
    });
    if let Some(u) = user {
        return Ok(u);
    }
    let present = ["private_token", "job_token", "token"]
        .iter()
        .any(|p| param(p).is_some())
        || ["private-token", "job-token", "deploy-token"]
            .iter()
            .any(|h| req.header(h).is_some())
        || bearer.is_some_and(|b| !b.is_empty());
    if present {
        return Err(errors(401, &["Invalid token"]));
    }
    Ok(Caller::Anonymous)
}

/// graphql-ruby's parse error: `Parse error on "}" (RCURLY) at [1, 5]`
/// (without the token class graphql-parser does not report), or
/// `Unexpected end of document`.
fn parse_error(e: &graphql_parser::query::ParseError) -> Value {
    let text = e.to_string();
    let at = text.split("Parse error at ").nth(1).and_then(|r| {
        let pos = r.split(|c: char| c.is_whitespace()).next()?;
        let (l, c) = pos.split_once(':')?;
        Some((l.parse::<usize>().ok()?, c.parse::<usize>().ok()?))
    });
    let token = text
        .split("Unexpected `")
        .nth(1)
        .and_then(|r| r.split('`').next())
        .map(str::to_string);
    let message = match (&token, at) {
        (Some(t), Some((l, c))) => {
            // graphql-parser prints `}[Punctuator]`; graphql-ruby names
            // the token class after the text: `"}" (RCURLY)`.
            let (text, class) = t.split_once('[').unwrap_or((t, ""));
            let class = match (text, class.trim_end_matches(']')) {
                ("{", _) => "LCURLY",
                ("}", _) => "RCURLY",
                ("(", _) => "LPAREN",
                (")", _) => "RPAREN",
                ("[", _) => "LBRACKET",
                ("]", _) => "RBRACKET",
                (":", _) => "COLON",
                ("$", _) => "VAR_SIGN",
                ("!", _) => "BANG",
                ("=", _) => "EQUALS",
                ("@", _) => "DIR_SIGN",
                ("...", _) => "ELLIPSIS",
                (_, "Name") => "IDENTIFIER",
                (_, "IntValue") => "INT",
                (_, "FloatValue") => "FLOAT",
                (_, "StringValue" | "BlockString") => "STRING",
                _ => "UNKNOWN_CHAR",
            };
            format!("Parse error on {} ({class}) at [{l}, {c}]", json!(text))
        }
        (None, _) if text.contains("end of input") => "Unexpected end of document".to_string(),
        _ => format!(
            "Parse error: {}",
            text.trim_start_matches("query parse error: ")
        ),
    };
    let mut err = json!({ "message": message });
    if let Some((l, c)) = at {
        err["locations"] = json!([{"line": l, "column": c}]);
    }
    err
}

/// Answers one GraphQL request. `firsts` collects the `first` of every
/// `tags` field run, for the stats.
pub(crate) fn handle(
    state: &mut State,
    req: &Request,
    apply: bool,
    firsts: &mut Vec<i64>,
) -> Response {
    if template(req, state.graphql).is_none() {
        return Response::json(404, &json!({"error": "404 Not Found"}));
    }
    let caller = match authenticate(req, state) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Body {
        query,
        variables,
        operation_name,
    } = match request_body(req) {
        Ok(b) => b,
        Err(e) => return errors(422, &[&e]),
    };
    if query.chars().count() > MAX_QUERY_SIZE {
        return errors(422, &["Query too large"]);
    }
    if query.trim().is_empty() {
        return errors(200, &["No query string was present"]);
    }
    let doc: Doc = match graphql_parser::parse_query::<String>(&query) {
        Ok(d) => d.into_static(),
        Err(e) => return Response::json(200, &json!({ "errors": [parse_error(&e)] })),
    };
    let op = match validate::select_operation(&doc, operation_name.as_deref()) {
        Ok(op) => op,
        Err(m) => return errors(200, &[&m]),
    };
    let schema = Schema::new(state.graphql != Mode::NoPublishedAt);
    let fragments = validate::fragments(&doc);
    let invalid = Validator::run(&schema, &fragments, &op);
    if !invalid.is_empty() {
        return Response::json(200, &json!({ "errors": invalid }));
    }
    let vars = match validate::coerce_variables(&schema, &op, &variables) {
        Ok(v) => v,
        Err(e) => return Response::json(200, &json!({ "errors": e })),
    };
    let mut exec = Exec {
        schema: &schema,
        fragments: &fragments,
        vars: &vars,
        caller,
        apply,
        errors: Vec::new(),
        firsts: Vec::new(),
        views: Default::default(),
    };
    let data = exec.run(state, op.root_type(), op.set);
    firsts.extend(exec.firsts);
    let mut out = json!({ "data": data });
    if !exec.errors.is_empty() {
        out["errors"] = Value::Array(exec.errors);
    }
    Response::json(200, &out)
}

/// graphql-ruby's complexity limit hit (GitlabSchema's max_complexity):
/// HTTP 200, no data.
pub(crate) fn complexity_error() -> Response {
    Response::json(
        200,
        &json!({"data": null, "errors": [{"message": "Query has complexity of 300, which exceeds max complexity of 250"}]}),
    )
}

/// An exception inside a resolver: every root field of the operation is
/// null, each with an `Internal server error` entry (GraphqlController's
/// message outside development). Nothing is applied.
pub(crate) fn partial_error(req: &Request) -> Response {
    let keys: Vec<(String, Value)> = with_operation(req, |_, roots| {
        roots
            .iter()
            .filter_map(|s| match s {
                Selection::Field(f) => Some((
                    f.alias.clone().unwrap_or_else(|| f.name.clone()),
                    json!([{"line": f.position.line, "column": f.position.column}]),
                )),
                _ => None,
            })
            .collect()
    })
    .unwrap_or_default();
    let mut data = Map::new();
    let mut errs = Vec::new();
    for (key, locations) in keys {
        data.insert(key.clone(), Value::Null);
        errs.push(
            json!({"message": "Internal server error", "locations": locations, "path": [key]}),
        );
    }
    if errs.is_empty() {
        errs.push(json!({"message": "Internal server error"}));
    }
    Response::json(200, &json!({"data": data, "errors": errs}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_read_like_graphql_ruby() {
        let e = graphql_parser::parse_query::<String>("query { a }}").unwrap_err();
        let v = parse_error(&e);
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .starts_with("Parse error on \"}\""),
            "{v}"
        );
        let e = graphql_parser::parse_query::<String>("query { a ").unwrap_err();
        assert_eq!(parse_error(&e)["message"], "Unexpected end of document");
    }
}
