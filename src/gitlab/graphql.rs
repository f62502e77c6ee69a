//! GitLab's GraphQL API: the fast path for tags.
//!
//! Over REST a tag's dates cost one details request each; GraphQL lists them with the tags, 20
//! per page (`ContainerRepositoryDetails.tags` has `max_page_size: 20`,
//! app/graphql/types/container_registry/container_repository_details_type.rb), and deletes up to
//! 20 tags per call (`Mutations::ContainerRepositories::DestroyTags::LIMIT`,
//! app/graphql/mutations/container_repositories/destroy_tags.rb). It also knows `publishedAt`,
//! the push time, on registries with GitLab's metadata database.
//!
//! GraphQL reports most failures with HTTP 200 and an `errors` array; an answer carrying any
//! error is never taken as a (possibly partial) page, and a missing repository (`null`) is an
//! error, never an empty list. Transport, 429 and 5xx handling is the REST client's.

use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

use super::client::{one_line, ApiError, Client, Reply, Verdict};
use super::stats::Endpoint;

/// What GitLab's tags allow at most, per page and per delete call.
pub const PAGE_SIZE: usize = 20;
pub const DELETE_BATCH: usize = 20;

/// The tag fields registry-gc needs; the probe checks they exist before GraphQL is used.
const REQUIRED_TAG_FIELDS: [&str; 5] = ["name", "digest", "createdAt", "totalSize", "mediaType"];

/// What the probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    Usable {
        /// `ContainerRepositoryTag.publishedAt` exists (GitLab 16.x+).
        published_at: bool,
        /// `userPermissions` and `protection` exist: protected tags are known from the listing.
        permissions: bool,
    },
    /// GraphQL answered, but not with what we need; the reason is logged.
    Unusable(String),
}

/// A tag as GraphQL lists it. Fields are null when GitLab cannot read the manifest (a broken
/// tag) and, for `publishedAt`, on registries without the metadata database.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    pub name: String,
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub published_at: Option<String>,
    #[serde(default, deserialize_with = "big_int")]
    pub total_size: Option<u64>,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub user_permissions: Option<TagPermissions>,
    #[serde(default)]
    pub protection: Option<TagProtection>,
}

/// `userPermissions { destroyContainerRepositoryTag }`: false for a tag this token may not
/// delete (a protection or immutability rule, or a role below Developer).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagPermissions {
    #[serde(default)]
    pub destroy_container_repository_tag: Option<bool>,
}

/// `protection { minimumAccessLevelForDelete }` (an experiment since 17.9): null levels under
/// an immutable rule.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagProtection {
    #[serde(default)]
    pub minimum_access_level_for_delete: Option<String>,
}

/// What one `destroyContainerRepositoryTags` call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchDeletion {
    /// Exactly the tags GitLab says it deleted; any other tag of the batch was not deleted.
    pub deleted: Vec<String>,
    /// The payload's `errors` (e.g. `could not delete tags: …`).
    pub errors: Vec<String>,
}

/// GitLab's `BigInt` scalar is a JSON string (app/graphql/types/big_int_type.rb); accept a
/// number too.
fn big_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s.parse().map(Some).map_err(serde::de::Error::custom),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("totalSize is not a whole number")),
        Some(other) => Err(serde::de::Error::custom(format!(
            "totalSize is {other}, not a BigInt"
        ))),
    }
}

const PROBE: &str = "query registryGcProbe {
  tag: __type(name: \"ContainerRepositoryTag\") { fields { name } }
  destroy: __type(name: \"DestroyContainerRepositoryTagsPayload\") { fields { name } }
}";

const DELETE: &str =
    "mutation registryGcDeleteTags($id: ContainerRepositoryID!, $tagNames: [String!]!) {
  destroyContainerRepositoryTags(input: {id: $id, tagNames: $tagNames}) { deletedTagNames errors }
}";

fn tags_query(published_at: bool, permissions: bool) -> String {
    let published = if published_at { " publishedAt" } else { "" };
    let permissions = if permissions {
        " userPermissions { destroyContainerRepositoryTag } protection { minimumAccessLevelForDelete }"
    } else {
        ""
    };
    format!(
        "query registryGcTags($id: ContainerRepositoryID!, $after: String) {{
  containerRepository(id: $id) {{
    tags(first: {PAGE_SIZE}, after: $after) {{
      nodes {{ name digest createdAt{published} totalSize mediaType{permissions} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}"
    )
}

/// How errors name a GraphQL request: one path, so the operation says what was asked.
fn request_name(url: &Url, operation: &str) -> String {
    format!("POST {} ({operation})", url.path())
}

/// GitLab's global id of a container repository (`GlobalID` of `ContainerRepository`).
fn repository_gid(repository: u64) -> String {
    format!("gid://gitlab/ContainerRepository/{repository}")
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    errors: Option<Vec<GraphqlError>>,
}

#[derive(Deserialize)]
struct GraphqlError {
    #[serde(default)]
    message: Option<String>,
}

/// The messages of a GraphQL `errors` array, one line.
fn messages(errors: &[GraphqlError]) -> String {
    let all: Vec<&str> = errors
        .iter()
        .map(|e| e.message.as_deref().unwrap_or("(no message)"))
        .collect();
    one_line(&all.join("; "))
}

/// Errors worth another attempt: GitLab's own failures, not the query's (a validation or
/// complexity error answers the same every time).
fn transient(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("internal server error") || m.contains("timeout") || m.contains("timed out")
}

impl Client {
    /// Sends one GraphQL operation; `extract` reads what it needs from `data`. Any `errors`
    /// entry fails the whole answer, even with `data`: a partial answer is not an answer.
    fn graphql<T>(
        &self,
        url: &Url,
        endpoint: Endpoint,
        operation: &str,
        body: &Value,
        extract: impl Fn(Value) -> Result<T, String>,
    ) -> Result<T, ApiError> {
        let request = request_name(url, operation);
        self.call_named(&request, endpoint, Method::POST, url, Some(body), |reply| {
            judge(&request, reply, &extract)
        })
    }

    /// Whether this GitLab's GraphQL has the tag fields and the delete mutation we use: one
    /// small introspection request.
    pub fn probe_graphql(&self, url: &Url) -> Result<Probe, ApiError> {
        let body = json!({"query": PROBE, "operationName": "registryGcProbe"});
        self.graphql(
            url,
            Endpoint::GraphqlProbe,
            "registryGcProbe",
            &body,
            |data| {
                let fields = |alias: &str| -> Option<Vec<String>> {
                    let list = data.get(alias)?.get("fields")?.as_array()?;
                    Some(
                        list.iter()
                            .filter_map(|f| f.get("name")?.as_str().map(str::to_string))
                            .collect(),
                    )
                };
                let Some(tag) = fields("tag") else {
                    return Ok(Probe::Unusable(
                        "GraphQL has no ContainerRepositoryTag type".into(),
                    ));
                };
                if let Some(missing) = REQUIRED_TAG_FIELDS
                    .iter()
                    .find(|f| !tag.iter().any(|t| t == *f))
                {
                    return Ok(Probe::Unusable(format!(
                        "GraphQL's ContainerRepositoryTag has no {missing} field"
                    )));
                }
                let has = |field: &str| tag.iter().any(|t| t == field);
                match fields("destroy") {
                    Some(d) if d.iter().any(|f| f == "deletedTagNames") => Ok(Probe::Usable {
                        published_at: has("publishedAt"),
                        permissions: has("userPermissions") && has("protection"),
                    }),
                    _ => Ok(Probe::Unusable(
                        "GraphQL has no destroyContainerRepositoryTags mutation".into(),
                    )),
                }
            },
        )
    }

    /// Lists a repository's tags with their details, 20 per page, calling `each` per page.
    pub fn graphql_tags(
        &self,
        url: &Url,
        repository: u64,
        published_at: bool,
        permissions: bool,
        mut each: impl FnMut(Vec<Tag>),
    ) -> Result<(), ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Connection {
            nodes: Vec<Tag>,
            page_info: PageInfo,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct PageInfo {
            has_next_page: bool,
            #[serde(default)]
            end_cursor: Option<String>,
        }

        let query = tags_query(published_at, permissions);
        let id = repository_gid(repository);
        let mut after: Option<String> = None;
        let mut seen_cursors = std::collections::HashSet::new();
        loop {
            let body = json!({
                "query": query,
                "operationName": "registryGcTags",
                "variables": {"id": id, "after": after},
            });
            let page: Connection =
                self.graphql(url, Endpoint::GraphqlTags, "registryGcTags", &body, |data| {
                    let repo = data
                        .get("containerRepository")
                        .filter(|r| !r.is_null())
                        .ok_or_else(|| {
                            format!("containerRepository {id} is null: not found, or not visible to this token")
                        })?;
                    let tags = repo
                        .get("tags")
                        .filter(|t| !t.is_null())
                        .ok_or("tags is null")?;
                    typed(tags.clone())
                })?;
            let next = match (page.page_info.has_next_page, page.page_info.end_cursor) {
                (false, _) => None,
                (true, Some(cursor)) if seen_cursors.insert(cursor.clone()) => Some(cursor),
                (true, cursor) => {
                    return Err(ApiError::Decode {
                        request: request_name(url, "registryGcTags"),
                        detail: format!(
                            "hasNextPage is true but endCursor is {}",
                            if cursor.is_some() { "repeated" } else { "null" }
                        ),
                    })
                }
            };
            each(page.nodes);
            match next {
                Some(cursor) => after = Some(cursor),
                None => return Ok(()),
            }
        }
    }

    /// Deletes up to 20 tags of one repository in one call.
    pub fn graphql_delete_tags(
        &self,
        url: &Url,
        repository: u64,
        names: &[&str],
    ) -> Result<BatchDeletion, ApiError> {
        assert!(names.len() <= DELETE_BATCH, "GitLab refuses more than 20");
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Payload {
            #[serde(default)]
            deleted_tag_names: Option<Vec<String>>,
            #[serde(default)]
            errors: Option<Vec<String>>,
        }
        let body = json!({
            "query": DELETE,
            "operationName": "registryGcDeleteTags",
            "variables": {"id": repository_gid(repository), "tagNames": names},
        });
        let payload: Payload = self.graphql(
            url,
            Endpoint::GraphqlDeleteTags,
            "registryGcDeleteTags",
            &body,
            |data| {
                let payload = data
                    .get("destroyContainerRepositoryTags")
                    .filter(|p| !p.is_null())
                    .ok_or("destroyContainerRepositoryTags is null")?;
                typed(payload.clone())
            },
        )?;
        // Only names we asked for count: anything else in the answer is not ours to report.
        let deleted = payload
            .deleted_tag_names
            .unwrap_or_default()
            .into_iter()
            .filter(|d| names.contains(&d.as_str()))
            .collect();
        Ok(BatchDeletion {
            deleted,
            errors: payload.errors.unwrap_or_default(),
        })
    }
}

fn typed<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// Turns a GraphQL answer into a verdict: errors fail (or retry when GitLab itself failed), a
/// body that is not JSON is retried like REST's truncated answers.
fn judge<T>(
    request: &str,
    reply: Reply,
    extract: &impl Fn(Value) -> Result<T, String>,
) -> Verdict<T> {
    let envelope = serde_json::from_slice::<Envelope>(&reply.body);
    if !reply.status.is_success() {
        // GitLab's GraphQL puts even a 401's reason in `errors`.
        let message = match &envelope {
            Ok(Envelope {
                errors: Some(errors),
                ..
            }) if !errors.is_empty() => messages(errors),
            _ => reply.message(),
        };
        return Verdict::Fail(ApiError::Status {
            request: request.to_string(),
            status: reply.status.as_u16(),
            message,
        });
    }
    let envelope = match envelope {
        Ok(e) => e,
        Err(e) => {
            let detail = if reply.body.first() == Some(&b'<') {
                "HTML instead of JSON".to_string()
            } else {
                e.to_string()
            };
            return Verdict::Retry(ApiError::Decode {
                request: request.to_string(),
                detail,
            });
        }
    };
    if let Some(errors) = envelope.errors.filter(|e| !e.is_empty()) {
        let message = messages(&errors);
        let error = ApiError::Graphql {
            request: request.to_string(),
            message: message.clone(),
        };
        return if transient(&message) {
            Verdict::Retry(error)
        } else {
            Verdict::Fail(error)
        };
    }
    match envelope.data.filter(|d| !d.is_null()) {
        None => Verdict::Retry(ApiError::Decode {
            request: request.to_string(),
            detail: "neither data nor errors".into(),
        }),
        Some(data) => match extract(data) {
            Ok(value) => Verdict::Done(value),
            Err(detail) => Verdict::Fail(ApiError::Decode {
                request: request.to_string(),
                detail,
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_int_is_read_from_a_string_or_a_number() {
        let tag: Tag =
            serde_json::from_str(r#"{"name":"a","totalSize":"55697984","digest":null}"#).unwrap();
        assert_eq!(tag.total_size, Some(55_697_984));
        let tag: Tag = serde_json::from_str(r#"{"name":"a","totalSize":12}"#).unwrap();
        assert_eq!(tag.total_size, Some(12));
        let tag: Tag = serde_json::from_str(r#"{"name":"a","totalSize":null}"#).unwrap();
        assert_eq!(tag.total_size, None);
        assert!(serde_json::from_str::<Tag>(r#"{"name":"a","totalSize":"-1"}"#).is_err());
    }

    #[test]
    fn the_tags_query_asks_pages_of_twenty_and_published_at_only_when_it_exists() {
        assert!(tags_query(true, false).contains("tags(first: 20, after: $after)"));
        assert!(tags_query(true, false).contains("publishedAt"));
        assert!(!tags_query(false, false).contains("publishedAt"));
    }

    #[test]
    fn only_gitlab_side_failures_are_retried() {
        assert!(transient("Internal server error"));
        assert!(transient("Request timed out"));
        assert!(!transient(
            "Query has complexity of 300, which exceeds max complexity of 250"
        ));
        assert!(!transient("Number of tags is greater than 20"));
    }
}
