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
use crate::protection;
use crate::registry::TagView;
use crate::state::{RegistryAccess, State};
use graphql_parser::query::{Field, Selection, SelectionSet};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

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
    /// `tags(referrers: true)`: the nodes' `referrers` are filled in.
    referrers: bool,
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
    Edge(u64, String, String, bool),
    /// Repository, tag name, whether its referrers were asked for.
    Tag(u64, String, bool),
    /// `protection`: (minimum level for push, for delete).
    Protection(Option<u8>, Option<u8>),
    /// `userPermissions { destroyContainerRepositoryTag }`.
    TagPermissions(bool),
    /// `(artifactType, digest)`.
    Referrer(String, String),
    Project(u64),
    /// `containerProtectionTagRules` of a project.
    Rules(u64),
    Rule(u64, usize),
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
    /// Each tag's view, read once per request however many fields ask for it.
    pub views: HashMap<(u64, String, bool), Result<Option<TagView>, String>>,
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
                    "tagsCount" => leaf(json!(state.tag_names(*rid)?.len())),
                    "tags" => self
                        .tags_page(state, *rid, args)
                        .map(|p| Some(Out::Obj(Obj::Page(p)))),
                    _ => Ok(None),
                }
            }
            (Obj::Page(p), "nodes") => Ok(Some(Out::List(
                p.nodes
                    .iter()
                    .map(|(n, _)| Out::Obj(Obj::Tag(p.repo, n.clone(), p.referrers)))
                    .collect(),
            ))),
            (Obj::Page(p), "edges") => Ok(Some(Out::List(
                p.nodes
                    .iter()
                    .map(|(n, c)| Out::Obj(Obj::Edge(p.repo, n.clone(), c.clone(), p.referrers)))
                    .collect(),
            ))),
            (Obj::Page(p), "pageInfo") => Ok(Some(Out::Obj(Obj::Page(p.clone())))),
            (Obj::Page(p), "hasNextPage") => leaf(json!(p.end_cursor.is_some())),
            (Obj::Page(p), "hasPreviousPage") => leaf(json!(p.start_cursor.is_some())),
            (Obj::Page(p), "startCursor") => leaf(json!(p.start_cursor)),
            (Obj::Page(p), "endCursor") => leaf(json!(p.end_cursor)),
            (Obj::Edge(_, _, cursor, _), "cursor") => leaf(json!(cursor)),
            (Obj::Edge(rid, name, _, referrers), "node") => {
                Ok(Some(Out::Obj(Obj::Tag(*rid, name.clone(), *referrers))))
            }
            (Obj::Tag(rid, name, referrers), _) => {
                self.tag_field(state, *rid, name, *referrers, field)
            }
            (Obj::Protection(push, _), "minimumAccessLevelForPush") => {
                leaf(protection::graphql_level(*push))
            }
            (Obj::Protection(_, delete), "minimumAccessLevelForDelete") => {
                leaf(protection::graphql_level(*delete))
            }
            (Obj::TagPermissions(destroy), "destroyContainerRepositoryTag") => leaf(json!(destroy)),
            (Obj::Referrer(artifact_type, _), "artifactType") => leaf(json!(artifact_type)),
            (Obj::Referrer(_, digest), "digest") => leaf(json!(digest)),
            (Obj::Root, "project") => {
                let path = args
                    .get("fullPath")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let found = state
                    .find_project(path)
                    .filter(|pid| self.can_read_project(state, *pid));
                Ok(found.map(|pid| Out::Obj(Obj::Project(pid))))
            }
            (Obj::Project(pid), "id") => leaf(json!(format!("gid://gitlab/Project/{pid}"))),
            (Obj::Project(pid), "fullPath") => leaf(json!(state.projects[pid].full_path)),
            (Obj::Project(pid), "containerProtectionTagRules") => {
                Ok(Some(Out::Obj(Obj::Rules(*pid))))
            }
            (Obj::Rules(pid), "nodes") => Ok(Some(Out::List(
                (0..state.projects[pid].protection_rules.len())
                    .map(|i| Out::Obj(Obj::Rule(*pid, i)))
                    .collect(),
            ))),
            (Obj::Rules(_), "pageInfo") => Ok(Some(Out::Obj(Obj::Page(Page {
                repo: 0,
                referrers: false,
                nodes: Vec::new(),
                start_cursor: None,
                end_cursor: None,
            })))),
            (Obj::Rule(pid, i), _) => {
                leaf(state.projects[pid].protection_rules[*i].graphql_field(*pid, field))
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
        let filter = args.get("name").and_then(Value::as_str);
        let names = state.tag_names(rid)?;
        let mut items: Vec<(String, i64)> = names
            .iter()
            .filter(|n| filter.map_or(true, |f| n.contains(f)))
            .map(|n| {
                let published = if by_published {
                    state.published_ms(rid, n)
                } else {
                    0
                };
                (n.clone(), published)
            })
            .collect();
        if by_published {
            // Stable: equal times stay in name order.
            items.sort_by_key(|(_, published)| *published);
        }
        if desc {
            items.reverse();
        }
        let key = |(n, published): &(String, i64)| (*published, n.clone());
        let cursor_of = |item: &(String, i64)| {
            if by_published {
                base64_encode(&format!("{}|{}", clock::rfc3339_z(item.1), item.0))
            } else {
                item.0.clone()
            }
        };
        // Whether `item` comes after the cursor's position in this order.
        let after_pos = |item: &(String, i64), pos: &(i64, String)| {
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
                let before_pos = |it: &(String, i64)| {
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
            referrers: args
                .get("referrers")
                .and_then(Value::as_bool)
                .unwrap_or(false),
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
        let role = state.project_access(project);
        let done = state.destroy_tags(rid, names, role, self.apply);
        Ok(payload(done.deleted, done.errors))
    }
}

/// An argument given as a variable the request did not set counts as not
/// given (graphql-ruby leaves it out of the resolver's arguments).
fn is_unset_variable(field: &Field<'static, String>, arg: &str, vars: &Map<String, Value>) -> bool {
    field.arguments.iter().any(|(k, v)| {
        k == arg && matches!(v, graphql_parser::query::Value::Variable(n) if !vars.contains_key(n))
    })
}

impl Exec<'_> {
    /// One field of a ContainerRepositoryTag. A tag deleted since the page was read has
    /// only its name, path and location; so has one whose manifest GitLab cannot read
    /// (its view is all nulls).
    fn tag_field(
        &mut self,
        state: &State,
        rid: u64,
        name: &str,
        referrers: bool,
        field: &str,
    ) -> Result<Option<Out>, String> {
        let leaf = |v: Value| Ok(Some(Out::Leaf(v)));
        let repo = &state.repos[&rid];
        match field {
            "name" => return leaf(json!(name)),
            "path" => return leaf(json!(format!("{}:{name}", repo.path))),
            "location" => {
                return leaf(json!(format!(
                    "{}/{}:{name}",
                    state.registry_host, repo.path
                )))
            }
            "userPermissions" => {
                let role = state.project_access(&state.projects[&repo.project_id]);
                let can = role >= 30 && !state.delete_protected(repo.project_id, name, role);
                return Ok(Some(Out::Obj(Obj::TagPermissions(can))));
            }
            "protection" => {
                let rules = &state.projects[&repo.project_id].protection_rules;
                return Ok(protection::protection_of(rules.iter(), name)
                    .map(|(push, delete)| Out::Obj(Obj::Protection(push, delete))));
            }
            _ => {}
        }
        let key = (rid, name.to_string(), referrers);
        let view = self
            .views
            .entry(key)
            .or_insert_with(|| state.graphql_view(rid, name, referrers))
            .clone()?;
        let Some(view) = view else {
            return Ok(None);
        };
        leaf(match field {
            "digest" => json!(view.digest),
            "mediaType" => json!(view.media_type),
            "revision" => json!(view.revision),
            "shortRevision" => json!(view
                .revision
                .as_ref()
                .map(|r| r.chars().take(9).collect::<String>())),
            // GraphQL::Types::BigInt serializes as a string.
            "totalSize" => json!(view.total_size.map(|s| s.to_string())),
            // Types::TimeType: `value.iso8601`; the registry's dates are parsed as
            // DateTime, which prints a numeric offset.
            "createdAt" => json!(view.created_ms.map(|ms| clock::iso8601(ms, "+00:00"))),
            "publishedAt" => json!(view.published_ms.map(|ms| clock::iso8601(ms, "+00:00"))),
            "referrers" => {
                if view.media_type.is_none() {
                    // A legacy registry has no referrers data: the field is null.
                    return Ok(None);
                }
                return Ok(Some(Out::List(
                    view.referrers
                        .iter()
                        .map(|(t, d)| Out::Obj(Obj::Referrer(t.clone(), d.clone())))
                        .collect(),
                )));
            }
            _ => Value::Null,
        })
    }

    /// `read_project` on a private project: a member.
    fn can_read_project(&self, state: &State, pid: u64) -> bool {
        matches!(self.caller, Caller::User { .. })
            && state
                .projects
                .get(&pid)
                .is_some_and(|p| state.project_access(p) >= 10)
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
}
