//! Runs a validated operation against the same state the REST routes use.
//!
//! Values come from the fixture-built [`State`], never from a copy, so a
//! tag deleted by `destroyContainerRepositoryTags` is gone from REST at
//! once and the other way round. Field values follow what GitLab's
//! ContainerRepositoryTag type reads from a tag
//! (app/graphql/types/container_registry/container_repository_tag_type.rb):
//! a tag whose manifest cannot be read has only its name, path and location.

use super::schema::{Kind, Schema, TypeRef};
use super::validate::{ast_to_json, condition, error, repository_gid, Fragments};
use crate::clock;
use crate::state::{RegistryAccess, State, Tag};
use graphql_parser::query::{Field, Selection, SelectionSet};
use serde_json::{json, Map, Value};

/// Who is asking, as GitLab's GraphqlController authenticated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    Anonymous,
    /// `write`: the token has scope `api` (mutations need it; `read_api`
    /// reads only).
    User {
        write: bool,
    },
}

/// Gitlab::Graphql::Authorize::AuthorizeResource::RESOURCE_ACCESS_ERROR.
pub(crate) const RESOURCE_ACCESS_ERROR: &str = "The resource that you are attempting to access does not exist or you don't have permission to perform this action";

/// Mutations::ContainerRepositories::DestroyTags::LIMIT.
const DESTROY_LIMIT: usize = 20;

/// `max_page_size: 20` on ContainerRepositoryDetails.tags
/// (app/graphql/types/container_registry/container_repository_details_type.rb).
const TAGS_MAX_PAGE_SIZE: i64 = 20;

/// ContainerRegistry::GitlabApiClient caps the page it asks the registry for.
const REGISTRY_MAX_PAGE_SIZE: i64 = 1000;

/// What the registry answers without `n`.
const REGISTRY_DEFAULT_PAGE_SIZE: i64 = 100;

/// A resolved page of tags, as ExternallyPaginatedArrayConnection holds it.
#[derive(Debug, Clone)]
struct Page {
    repo: u64,
    /// (name, cursor) of the nodes returned.
    nodes: Vec<(String, String)>,
    start_cursor: Option<String>,
    end_cursor: Option<String>,
}

#[derive(Debug, Clone)]
struct Payload {
    deleted: Vec<String>,
    errors: Vec<String>,
    client_mutation_id: Value,
}

#[derive(Debug, Clone)]
enum Obj {
    Root,
    Repo(u64),
    Page(Page),
    Edge(u64, String, String),
    Tag(u64, String),
    Payload(Payload),
    Type(&'static str),
    Field(&'static str),
    EnumValue(&'static str),
}

enum Out {
    Leaf(Value),
    Obj(Obj),
    List(Vec<Out>),
}

pub(crate) struct Exec<'a> {
    pub schema: &'a Schema,
    pub fragments: &'a Fragments<'a>,
    pub vars: &'a Map<String, Value>,
    pub caller: Caller,
    pub apply: bool,
    pub errors: Vec<Value>,
    /// Every `first` asked of `tags`, as given (before the page-size cap).
    pub firsts: Vec<i64>,
}

type Set = SelectionSet<'static, String>;

impl<'a> Exec<'a> {
    /// Runs the root selection set; the `data` object.
    pub(crate) fn run(&mut self, state: &mut State, root: &'static str, set: &'a Set) -> Value {
        self.object(state, root, &Obj::Root, set, &[])
    }

    /// Fields of `set` in order, fragments flattened (validated already).
    fn fields(&self, type_name: &str, set: &'a Set, out: &mut Vec<&'a Field<'static, String>>) {
        for item in &set.items {
            match item {
                Selection::Field(f) => out.push(f),
                Selection::InlineFragment(fr) => {
                    if condition(fr.type_condition.as_ref()).map_or(true, |c| c == type_name) {
                        self.fields(type_name, &fr.selection_set, out);
                    }
                }
                Selection::FragmentSpread(s) => {
                    if let Some(def) = self.fragments.get(s.fragment_name.as_str()) {
                        self.fields(type_name, &def.selection_set, out);
                    }
                }
            }
        }
    }

    fn object(
        &mut self,
        state: &mut State,
        type_name: &str,
        obj: &Obj,
        set: &'a Set,
        path: &[Value],
    ) -> Value {
        let mut fields = Vec::new();
        self.fields(type_name, set, &mut fields);
        let mut m = Map::new();
        for field in fields {
            let key = field.alias.clone().unwrap_or_else(|| field.name.clone());
            if m.contains_key(&key) {
                continue;
            }
            let mut fpath = path.to_vec();
            fpath.push(json!(key));
            let args: Map<String, Value> = field
                .arguments
                .iter()
                .map(|(k, v)| (k.clone(), ast_to_json(v, self.vars)))
                .filter(|(k, v)| !(v.is_null() && is_unset_variable(field, k, self.vars)))
                .collect();
            let ty = self
                .schema
                .field(type_name, &field.name)
                .map(|fd| TypeRef::parse(fd.ty))
                .unwrap_or(TypeRef::Named("String".into()));
            let value = match self.resolve(state, type_name, obj, &field.name, &args) {
                Ok(Some(out)) => {
                    self.complete(state, out, ty.named(), &field.selection_set, &fpath)
                }
                Ok(None) => Value::Null,
                Err(message) => {
                    self.errors.push(error(
                        &message,
                        Some(field.position),
                        Some(&fpath),
                        Value::Null,
                    ));
                    Value::Null
                }
            };
            m.insert(key, value);
        }
        Value::Object(m)
    }

    fn complete(
        &mut self,
        state: &mut State,
        out: Out,
        type_name: &str,
        set: &'a Set,
        path: &[Value],
    ) -> Value {
        match out {
            Out::Leaf(v) => v,
            Out::Obj(o) => {
                let tn = match &o {
                    Obj::Type(_) => "__Type",
                    _ => type_name,
                };
                self.object(state, tn, &o, set, path)
            }
            Out::List(items) => Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let mut ip = path.to_vec();
                        ip.push(json!(i));
                        self.complete(state, item, type_name, set, &ip)
                    })
                    .collect(),
            ),
        }
    }

    fn resolve(
        &mut self,
        state: &mut State,
        type_name: &str,
        obj: &Obj,
        field: &str,
        args: &Map<String, Value>,
    ) -> Result<Option<Out>, String> {
        let leaf = |v: Value| Ok(Some(Out::Leaf(v)));
        if field == "__typename" {
            return leaf(json!(type_name));
        }
        match (obj, field) {
            (Obj::Root, "containerRepository") => {
                let id = args.get("id").and_then(Value::as_str).unwrap_or_default();
                let found = repository_gid(id)?.filter(|rid| self.can_read(state, *rid));
                Ok(found.map(|rid| Out::Obj(Obj::Repo(rid))))
            }
            (Obj::Root, "__type") => {
                let name = args.get("name").and_then(Value::as_str).unwrap_or_default();
                Ok(self
                    .schema
                    .type_def(name)
                    .map(|t| Out::Obj(Obj::Type(t.name))))
            }
            (Obj::Root, "destroyContainerRepositoryTags") => {
                let input = args.get("input").cloned().unwrap_or(Value::Null);
                self.destroy(state, &input)
                    .map(|p| Some(Out::Obj(Obj::Payload(p))))
            }
            (Obj::Repo(rid), _) => {
                let repo = &state.repos[rid];
                match field {
                    "id" => leaf(json!(format!("gid://gitlab/ContainerRepository/{rid}"))),
                    "name" => leaf(json!(repo.name)),
                    "path" => leaf(json!(repo.path)),
                    "location" => leaf(json!(format!("{}/{}", state.registry_host, repo.path))),
                    "createdAt" => leaf(json!(clock::iso8601(repo.created_ms, "Z"))),
                    "tagsCount" => leaf(json!(repo.tags.len())),
                    "tags" => self
                        .tags_page(state, *rid, args)
                        .map(|p| Some(Out::Obj(Obj::Page(p)))),
                    _ => Ok(None),
                }
            }
            (Obj::Page(p), "nodes") => Ok(Some(Out::List(
                p.nodes
                    .iter()
                    .map(|(n, _)| Out::Obj(Obj::Tag(p.repo, n.clone())))
                    .collect(),
            ))),
            (Obj::Page(p), "edges") => Ok(Some(Out::List(
                p.nodes
                    .iter()
                    .map(|(n, c)| Out::Obj(Obj::Edge(p.repo, n.clone(), c.clone())))
                    .collect(),
            ))),
            (Obj::Page(p), "pageInfo") => Ok(Some(Out::Obj(Obj::Page(p.clone())))),
            (Obj::Page(p), "hasNextPage") => leaf(json!(p.end_cursor.is_some())),
            (Obj::Page(p), "hasPreviousPage") => leaf(json!(p.start_cursor.is_some())),
            (Obj::Page(p), "startCursor") => leaf(json!(p.start_cursor)),
            (Obj::Page(p), "endCursor") => leaf(json!(p.end_cursor)),
            (Obj::Edge(_, _, cursor), "cursor") => leaf(json!(cursor)),
            (Obj::Edge(rid, name, _), "node") => Ok(Some(Out::Obj(Obj::Tag(*rid, name.clone())))),
            (Obj::Tag(rid, name), _) => {
                let repo = &state.repos[rid];
                let tag = repo.tags.get(name);
                leaf(tag_field(
                    &state.registry_host,
                    &repo.path,
                    name,
                    tag,
                    field,
                ))
            }
            (Obj::Payload(p), "deletedTagNames") => leaf(json!(p.deleted)),
            (Obj::Payload(p), "errors") => leaf(json!(p.errors)),
            (Obj::Payload(p), "clientMutationId") => leaf(p.client_mutation_id.clone()),
            (Obj::Type(name), _) => Ok(self.type_field(name, field)),
            (Obj::Field(name) | Obj::EnumValue(name), "name") => leaf(json!(name)),
            (Obj::Field(_) | Obj::EnumValue(_), "isDeprecated") => leaf(json!(false)),
            _ => Ok(None),
        }
    }

    fn type_field(&self, name: &'static str, field: &str) -> Option<Out> {
        let def = self.schema.type_def(name)?;
        let list = |items: Vec<Obj>| Some(Out::List(items.into_iter().map(Out::Obj).collect()));
        match (field, def.kind) {
            ("name", _) => Some(Out::Leaf(json!(def.name))),
            ("kind", k) => Some(Out::Leaf(json!(k.introspection_name()))),
            ("fields", Kind::Object) => {
                list(def.fields.iter().map(|f| Obj::Field(f.name)).collect())
            }
            ("inputFields", Kind::InputObject) => {
                list(def.fields.iter().map(|f| Obj::Field(f.name)).collect())
            }
            ("enumValues", Kind::Enum) => {
                list(def.enum_values.iter().map(|v| Obj::EnumValue(v)).collect())
            }
            _ => None,
        }
    }

    /// `read_container_image` on the repository's project: Reporter in a
    /// private project whose registry is not disabled (app/policies/
    /// project_policy.rb), the same rule as the REST routes.
    fn can_read(&self, state: &State, rid: u64) -> bool {
        let Some(repo) = state.repos.get(&rid) else {
            return false;
        };
        let p = &state.projects[&repo.project_id];
        matches!(self.caller, Caller::User { .. })
            && p.registry != RegistryAccess::Disabled
            && state.project_access(p) >= 20
    }

    /// ContainerRepositoryTagsResolver on a registry with the GitLab API
    /// (the metadata database, as on GitLab.com): the resolver asks the
    /// registry for `page_size = max(first, last)` tags after `last:
    /// <after>` / before `before`, and the cursors are what the registry's
    /// pagination links carry (`parse_pagination_cursor`). graphql-ruby then
    /// caps `first` to the field's max_page_size (20) when it takes the
    /// nodes, but the cursors stay the registry's: asking for more than 20
    /// returns 20 nodes and an `endCursor` past the ones left out.
    fn tags_page(
        &mut self,
        state: &State,
        rid: u64,
        args: &Map<String, Value>,
    ) -> Result<Page, String> {
        let int = |k: &str| args.get(k).and_then(Value::as_i64);
        let (first, last) = (int("first"), int("last"));
        if let Some(f) = first {
            self.firsts.push(f);
        }
        let sort = args
            .get("sort")
            .and_then(Value::as_str)
            .unwrap_or("NAME_ASC");
        let by_published = sort.starts_with("PUBLISHED_AT");
        let desc = sort.ends_with("_DESC");
        let repo = &state.repos[&rid];
        let filter = args.get("name").and_then(Value::as_str);
        let mut items: Vec<(&String, &Tag)> = repo
            .tags
            .names()
            .iter()
            .filter(|n| filter.map_or(true, |f| n.contains(f)))
            .filter_map(|n| Some((n, repo.tags.get(n)?)))
            .collect();
        if by_published {
            // Stable: equal times stay in name order.
            items.sort_by_key(|(_, t)| t.published_ms);
        }
        if desc {
            items.reverse();
        }
        let key = |(n, t): &(&String, &Tag)| {
            (if by_published { t.published_ms } else { 0 }, (*n).clone())
        };
        let cursor_of = |item: &(&String, &Tag)| {
            if by_published {
                base64_encode(&format!(
                    "{}|{}",
                    clock::rfc3339_z(item.1.published_ms),
                    item.0
                ))
            } else {
                item.0.clone()
            }
        };
        // Whether `item` comes after the cursor's position in this order.
        let after_pos = |item: &(&String, &Tag), pos: &(i64, String)| {
            if desc {
                key(item) < *pos
            } else {
                key(item) > *pos
            }
        };
        let decode =
            |c: &str| cursor_position(c, by_published).ok_or("Please provide a valid cursor");
        let start = match args.get("after").and_then(Value::as_str) {
            Some(c) => {
                let pos = decode(c)?;
                items.partition_point(|it| !after_pos(it, &pos))
            }
            None => 0,
        };
        let before = args.get("before").and_then(Value::as_str);
        let end = match before {
            Some(c) => {
                let pos = decode(c)?;
                let before_pos = |it: &(&String, &Tag)| {
                    if desc {
                        key(it) > pos
                    } else {
                        key(it) < pos
                    }
                };
                items.partition_point(before_pos).max(start)
            }
            None => items.len(),
        };
        let mut size = first.unwrap_or(0).max(last.unwrap_or(0));
        if size <= 0 {
            size = REGISTRY_DEFAULT_PAGE_SIZE;
        }
        let size = size.min(REGISTRY_MAX_PAGE_SIZE) as usize;
        let (lo, hi) = if before.is_some() && args.get("after").is_none() {
            (end.saturating_sub(size).max(start), end)
        } else {
            (start, (start + size).min(end))
        };
        let start_cursor = (lo > 0 && lo < hi).then(|| cursor_of(&items[lo]));
        let end_cursor = (hi < items.len() && lo < hi).then(|| cursor_of(&items[hi - 1]));
        let mut nodes: Vec<(String, String)> = items[lo..hi]
            .iter()
            .map(|it| (it.0.clone(), cursor_of(it)))
            .collect();
        // GraphQL::Pagination::Connection#first / #last: clamped to
        // max_page_size; neither given means max_page_size.
        let cap = |n: i64| n.clamp(0, TAGS_MAX_PAGE_SIZE) as usize;
        match (first, last) {
            (None, None) => nodes.truncate(cap(TAGS_MAX_PAGE_SIZE)),
            _ => {
                if let Some(f) = first {
                    nodes.truncate(cap(f));
                }
                if let Some(l) = last {
                    let keep = cap(l);
                    if nodes.len() > keep {
                        nodes.drain(..nodes.len() - keep);
                    }
                }
            }
        }
        Ok(Page {
            repo: rid,
            nodes,
            start_cursor,
            end_cursor,
        })
    }

    /// Mutations::ContainerRepositories::DestroyTags
    /// (app/graphql/mutations/container_repositories/destroy_tags.rb): the
    /// `prepare` of `tag_names` refuses more than 20 before anything else,
    /// then `authorized_find!` (`destroy_container_image`: Developer), then
    /// Projects::ContainerRepository::Gitlab::DeleteTagsService
    /// (app/services/projects/container_repository/gitlab/
    /// delete_tags_service.rb): protected tags are filtered out, the rest
    /// deleted one by one, `errors` is the service's message.
    fn destroy(&mut self, state: &mut State, input: &Value) -> Result<Payload, String> {
        let names: Vec<String> = input["tagNames"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if names.len() > DESTROY_LIMIT {
            return Err(format!("Number of tags is greater than {DESTROY_LIMIT}"));
        }
        let denied = || RESOURCE_ACCESS_ERROR.to_string();
        if self.caller != (Caller::User { write: true }) {
            return Err(denied());
        }
        let rid = repository_gid(input["id"].as_str().unwrap_or_default())?.ok_or_else(denied)?;
        let repo = state.repos.get(&rid).ok_or_else(denied)?;
        let project = &state.projects[&repo.project_id];
        if project.registry == RegistryAccess::Disabled || state.project_access(project) < 30 {
            return Err(denied());
        }
        let client_mutation_id = input
            .get("clientMutationId")
            .cloned()
            .unwrap_or(Value::Null);
        let payload = |deleted: Vec<String>, errors: Vec<String>| Payload {
            deleted,
            errors,
            client_mutation_id: client_mutation_id.clone(),
        };
        // Projects::ContainerRepository::DeleteTagsService#execute.
        if names.is_empty() {
            return Ok(payload(Vec::new(), vec!["not tags specified".into()]));
        }
        let candidates: Vec<String> = names
            .into_iter()
            .filter(|n| !repo.tags.get(n).is_some_and(|t| t.protected))
            .collect();
        if candidates.is_empty() {
            return Ok(payload(
                Vec::new(),
                vec!["cannot delete protected tag(s)".into()],
            ));
        }
        let missing_ok = state.delete_missing_tag_status == 200;
        let mut deleted = Vec::new();
        for name in &candidates {
            let repo = &state.repos[&rid];
            let ok = match repo.tags.get(name) {
                // The registry's 404 counts as deleted only where GitLab's
                // client treats it so (the REST DELETE's status says which).
                None => missing_ok,
                // The same tag REST cannot delete (`undeletable`).
                Some(t) => !(t.broken && t.undeletable),
            };
            if !ok {
                continue;
            }
            if self.apply && repo.tags.get(name).is_some() {
                if let Some(r) = state.repos.get_mut(&rid) {
                    r.tags.remove(name);
                }
            }
            deleted.push(name.clone());
        }
        if deleted.is_empty() {
            let message = truncate(
                &format!("could not delete tags: {}", candidates.join(", ")),
                1000,
            );
            return Ok(payload(Vec::new(), vec![message]));
        }
        Ok(payload(deleted, Vec::new()))
    }
}

/// An argument given as a variable the request did not set counts as not
/// given (graphql-ruby leaves it out of the resolver's arguments).
fn is_unset_variable(field: &Field<'static, String>, arg: &str, vars: &Map<String, Value>) -> bool {
    field.arguments.iter().any(|(k, v)| {
        k == arg && matches!(v, graphql_parser::query::Value::Variable(n) if !vars.contains_key(n))
    })
}

/// One field of a ContainerRepositoryTag. `tag` is `None` for a tag
/// deleted since the page was read; a broken tag (no readable manifest)
/// has nulls wherever GitLab would read the manifest.
fn tag_field(host: &str, repo_path: &str, name: &str, tag: Option<&Tag>, field: &str) -> Value {
    let readable = tag.filter(|t| !t.broken);
    match field {
        "name" => json!(name),
        "path" => json!(format!("{repo_path}:{name}")),
        "location" => json!(format!("{host}/{repo_path}:{name}")),
        "digest" => json!(readable.map(|t| &t.digest)),
        // An image index has no config, hence no `created` date: that is
        // what marks cache and index manifests in this fake.
        "mediaType" => json!(readable.map(|t| if t.created_ms.is_none() {
            "application/vnd.oci.image.index.v1+json"
        } else {
            "application/vnd.docker.distribution.manifest.v2+json"
        })),
        "revision" => json!(readable.and_then(|t| t.revision.clone())),
        "shortRevision" => {
            json!(readable.and_then(|t| t.revision.as_ref().map(|r| r[..9].to_string())))
        }
        // GraphQL::Types::BigInt serializes as a string.
        "totalSize" => json!(readable.and_then(|t| t.size).map(|s| s.to_string())),
        // Types::TimeType: `value.iso8601`; the registry's dates are parsed
        // as DateTime, which prints a numeric offset.
        "createdAt" => json!(readable
            .and_then(|t| t.created_ms)
            .map(|ms| clock::iso8601(ms, "+00:00"))),
        "publishedAt" => json!(readable.map(|t| clock::iso8601(t.published_ms, "+00:00"))),
        _ => Value::Null,
    }
}

/// A cursor's position in the order: a tag name for name sorts (the
/// registry's `last`/`before` are tag names); `base64(time|name)` for
/// publish-date sorts. `None` when it cannot be one.
fn cursor_position(c: &str, by_published: bool) -> Option<(i64, String)> {
    if by_published {
        let decoded = base64_decode(c)?;
        let (time, name) = decoded.split_once('|')?;
        return Some((clock::parse_rfc3339_utc(time)?, name.to_string()));
    }
    // The registry's tag name grammar (distribution's reference.TagRegexp).
    let valid = c.len() <= 128
        && c.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    valid.then(|| (0, c.to_string()))
}

/// Rails' String#truncate: at most `max` characters including `...`.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 3).collect();
    out.push_str("...");
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(s: &str) -> String {
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Option<String> {
    let s = s.trim_end_matches('=');
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = B64.iter().position(|&b| b == c)? as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for s in ["", "a", "ab", "abc", "2024-01-01T00:00:00.000Z|v1.0"] {
            assert_eq!(base64_decode(&base64_encode(s)).as_deref(), Some(s));
        }
        assert_eq!(base64_encode("ab"), "YWI=");
        assert!(base64_decode("***").is_none());
    }

    #[test]
    fn truncates_like_rails() {
        assert_eq!(truncate("abcdef", 5), "ab...");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
