//! `POST /api/graphql` over real sockets: the same state as REST, GitLab's
//! errors, the fixture's `graphql` modes and faults.

mod common;

use common::*;
use fake_gitlab::{FakeGitlab, FaultKind, Faults, Fixture, RateLimit};
use serde_json::{json, Value};

const APP: &str = "gid://gitlab/ContainerRepository/101";
const DEFAULT: (&str, &str) = ("PRIVATE-TOKEN", "glpat-fake-token");

fn gql(f: &FakeGitlab, auth: Option<(&str, &str)>, query: &str, variables: Value) -> Resp {
    let body = json!({"query": query, "variables": variables}).to_string();
    let headers: Vec<(&str, &str)> = auth.into_iter().collect();
    send(
        f,
        "POST",
        "/api/graphql",
        &headers,
        Some(("application/json", &body)),
    )
}

const PAGE: &str = "query page($id: ContainerRepositoryID!, $after: String, $first: Int) {
  containerRepository(id: $id) { tagsCount
    tags(first: $first, after: $after) { nodes { name } pageInfo { hasNextPage endCursor } } } }";

/// Every tag name through GraphQL, `first` at a time.
fn all_names(f: &FakeGitlab, auth: (&str, &str), id: &str, first: i64) -> Vec<String> {
    let mut names = Vec::new();
    let mut after = Value::Null;
    loop {
        let r = gql(
            f,
            Some(auth),
            PAGE,
            json!({"id": id, "after": after, "first": first}),
        );
        assert_eq!(r.status, 200);
        let tags = &r.json()["data"]["containerRepository"]["tags"];
        for n in tags["nodes"].as_array().unwrap() {
            names.push(n["name"].as_str().unwrap().to_string());
        }
        if !tags["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return names;
        }
        after = tags["pageInfo"]["endCursor"].clone();
    }
}

fn rest_names(f: &FakeGitlab, auth: (&str, &str), project: u64, repo: u64) -> Vec<String> {
    let mut names = Vec::new();
    for page in 1.. {
        let r = get_as(
            f,
            &format!(
                "/projects/{project}/registry/repositories/{repo}/tags?per_page=100&page={page}"
            ),
            auth,
        );
        let batch = r.names();
        if batch.is_empty() {
            return names;
        }
        names.extend(batch);
    }
    unreachable!()
}

#[test]
fn pages_of_20_return_exactly_the_rest_list() {
    let f = FakeGitlab::start(Fixture::synthetic(1, 87));
    let gid = "gid://gitlab/ContainerRepository/1000";
    let names = all_names(&f, DEFAULT, gid, 20);
    assert_eq!(names.len(), 87);
    assert_eq!(names, rest_names(&f, DEFAULT, 1, 1000));
    let stats = f.stats();
    assert_eq!(stats.endpoint("POST /api/graphql (page)"), 5);
    assert_eq!(stats.graphql_first(20), 5);
    assert_eq!(stats.max_graphql_first(), Some(20));
}

#[test]
fn first_above_20_is_capped_but_the_cursor_moves_by_first() {
    let f = FakeGitlab::start(Fixture::synthetic(1, 150));
    let r = gql(
        &f,
        Some(DEFAULT),
        PAGE,
        json!({"id": "gid://gitlab/ContainerRepository/1000", "first": 100}),
    );
    let tags = &r.json()["data"]["containerRepository"]["tags"];
    assert_eq!(tags["nodes"].as_array().unwrap().len(), 20);
    // GitLab asks the registry for 100 and keeps 20: the cursor is the
    // registry's, after the 100th tag.
    assert_eq!(tags["pageInfo"]["endCursor"], "build-000099");
    assert_eq!(f.stats().max_graphql_first(), Some(100));
    // Without `first`: 20 nodes.
    let r = gql(
        &f,
        Some(DEFAULT),
        "{ containerRepository(id: \"gid://gitlab/ContainerRepository/1000\") { tags { nodes { name } } } }",
        Value::Null,
    );
    assert_eq!(
        r.json()["data"]["containerRepository"]["tags"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    assert_eq!(
        f.stats()
            .endpoint("POST /api/graphql (containerRepository)"),
        1
    );
}

#[test]
fn tag_fields_come_from_the_rest_state() {
    let f = FakeGitlab::start(Fixture::memory());
    let q = "query($id: ContainerRepositoryID!) { containerRepository(id: $id) { id name path tagsCount
      tags(first: 20) { nodes { name path location digest mediaType createdAt publishedAt totalSize revision shortRevision } } } }";
    let r = gql(&f, Some(TOKEN), q, json!({"id": APP}));
    let v = r.json();
    assert!(v.get("errors").is_none(), "{v}");
    let repo = &v["data"]["containerRepository"];
    assert_eq!(repo["id"], APP);
    assert_eq!(repo["path"], "demo/shop/app");
    assert_eq!(repo["tagsCount"], 13);
    let nodes = repo["tags"]["nodes"].as_array().unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, rest_names(&f, TOKEN, 1, 101));
    let tag = |name: &str| nodes.iter().find(|n| n["name"] == name).unwrap().clone();
    let latest = tag("latest");
    let details = get(&f, "/projects/1/registry/repositories/101/tags/latest").json();
    assert_eq!(latest["totalSize"], json!("55697984"));
    assert_eq!(latest["digest"], details["digest"]);
    assert_eq!(latest["revision"], details["revision"]);
    assert_eq!(latest["shortRevision"], details["short_revision"]);
    assert_eq!(
        latest["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let created = latest["createdAt"].as_str().unwrap();
    assert_eq!(
        created.len(),
        "2024-01-01T00:00:00+00:00".len(),
        "{created}"
    );
    assert!(details["created_at"]
        .as_str()
        .unwrap()
        .starts_with(&created[..19]));
    assert_eq!(latest["publishedAt"], latest["createdAt"]);
    let broken = tag("sha256-0f3c9a1e5b7d.att");
    for k in [
        "digest",
        "createdAt",
        "publishedAt",
        "totalSize",
        "mediaType",
        "revision",
    ] {
        assert_eq!(broken[k], Value::Null, "{k}");
    }
    assert_eq!(broken["path"], "demo/shop/app:sha256-0f3c9a1e5b7d.att");

    // A cache manifest: an index, no createdAt, but a push time.
    let r = gql(
        &f,
        Some(TOKEN),
        "{ containerRepository(id: \"gid://gitlab/ContainerRepository/103\") { tags { nodes { name mediaType createdAt publishedAt } } } }",
        Value::Null,
    );
    let node = &r.json()["data"]["containerRepository"]["tags"]["nodes"][0];
    assert_eq!(node["mediaType"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(node["createdAt"], Value::Null);
    assert!(node["publishedAt"].is_string());
}

#[test]
fn published_age_in_the_fixture() {
    let f = FakeGitlab::start(
        Fixture::from_json(
            r#"{"projects":[{"id":1,"path":"a/b","repositories":[{"id":5,"tags":[
              {"name":"old","age":"30d","published":"2d"},{"name":"new","age":"1d"}]}]}]}"#,
        )
        .unwrap(),
    );
    let r = gql(
        &f,
        Some(DEFAULT),
        "{ containerRepository(id: \"gid://gitlab/ContainerRepository/5\") { tags(sort: PUBLISHED_AT_DESC) { nodes { name createdAt publishedAt } } } }",
        Value::Null,
    );
    let nodes = r.json()["data"]["containerRepository"]["tags"]["nodes"].clone();
    assert_eq!(nodes[0]["name"], "new");
    assert_eq!(nodes[1]["name"], "old");
    assert!(nodes[1]["publishedAt"].as_str() > nodes[1]["createdAt"].as_str());
}

#[test]
fn validation_errors_read_like_graphql_ruby() {
    let f = FakeGitlab::start(Fixture::memory());
    let r = gql(
        &f,
        Some(TOKEN),
        "query {\n  containerRepository(id: \"gid://gitlab/ContainerRepository/101\") {\n    tags { nodes { foo } } } }",
        Value::Null,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"errors": [{
            "message": "Field 'foo' doesn't exist on type 'ContainerRepositoryTag'",
            "locations": [{"line": 3, "column": 20}],
            "path": ["query", "containerRepository", "tags", "nodes", "foo"],
            "extensions": {"code": "undefinedField", "typeName": "ContainerRepositoryTag", "fieldName": "foo"}
        }]})
    );
    let msg = |q: &str, vars: Value| {
        gql(&f, Some(TOKEN), q, vars).json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        msg(
            "{ containerRepository(id: \"gid://gitlab/ContainerRepository/101\") { tags(pageSize: 3) { nodes { name } } } }",
            Value::Null
        ),
        "Field 'tags' doesn't accept argument 'pageSize'"
    );
    assert_eq!(
        msg(PAGE, json!({})),
        "Variable $id of type ContainerRepositoryID! was provided invalid value"
    );
    assert_eq!(
        msg(PAGE, json!({"id": APP, "first": "20"})),
        "Variable $first of type Int was provided invalid value"
    );
    assert_eq!(
        msg(
            "query($f: String) { containerRepository(id: \"gid://gitlab/ContainerRepository/101\") { tags(first: $f) { nodes { name } } } }",
            json!({})
        ),
        "Type mismatch on variable $f and argument first (String / Int)"
    );
    assert_eq!(
        msg(PAGE, json!({"id": "101"})),
        "Variable $id of type ContainerRepositoryID! was provided invalid value"
    );
    let r = gql(
        &f,
        Some(TOKEN),
        PAGE,
        json!({"id": "gid://gitlab/Project/1"}),
    );
    assert_eq!(
        r.json()["errors"][0]["extensions"]["problems"][0]["explanation"],
        "\"gid://gitlab/Project/1\" does not represent an instance of ContainerRepository"
    );
    assert_eq!(
        msg("{ containerRepository(id: \"101\") { name } }", Value::Null),
        "\"101\" is not a valid Global ID"
    );
    assert!(msg(
        "query { containerRepository(id: \"x\") { name }",
        Value::Null
    )
    .starts_with("Unexpected end of document"));
    assert!(msg("query { { name } }", Value::Null).starts_with("Parse error on \"{\""));
}

#[test]
fn probe_introspection_and_aliases() {
    let probe =
        "query registryGcProbe { tag: __type(name: \"ContainerRepositoryTag\") { fields { name } }
      destroy: __type(name: \"DestroyContainerRepositoryTagsPayload\") { fields { name } }
      none: __type(name: \"Nope\") { name } }";
    let fields = |f: &FakeGitlab| {
        let v = gql(f, Some(DEFAULT), probe, Value::Null).json();
        assert_eq!(v["data"]["none"], Value::Null);
        let names = |k: &str| -> Vec<String> {
            v["data"][k]["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            names("destroy"),
            ["clientMutationId", "deletedTagNames", "errors"]
        );
        names("tag")
    };
    let full = FakeGitlab::start(Fixture::synthetic(1, 1));
    assert!(fields(&full).contains(&"publishedAt".to_string()));
    assert_eq!(
        full.stats().endpoint("POST /api/graphql (registryGcProbe)"),
        1
    );

    let mut fx = Fixture::synthetic(1, 1);
    fx.graphql = Some("no_published_at".into());
    let old = FakeGitlab::start(fx);
    let tag_fields = fields(&old);
    assert!(tag_fields.contains(&"createdAt".to_string()));
    assert!(!tag_fields.contains(&"publishedAt".to_string()));
    let r = gql(
        &old,
        Some(DEFAULT),
        "{ containerRepository(id: \"gid://gitlab/ContainerRepository/1000\") { tags { nodes { publishedAt } } } }",
        Value::Null,
    );
    assert_eq!(
        r.json()["errors"][0]["extensions"]["code"],
        "undefinedField"
    );
}

#[test]
fn absent_graphql_is_an_unknown_route() {
    let mut fx = Fixture::synthetic(1, 1);
    fx.graphql = Some("absent".into());
    let f = FakeGitlab::start(fx);
    let r = gql(&f, Some(DEFAULT), "{ __typename }", Value::Null);
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"error": "404 Not Found"}))
    );
    assert_eq!(f.stats().endpoint("POST (unknown)"), 1);
    assert!(Fixture::from_json(r#"{"graphql":"maybe"}"#).is_err());
}

#[test]
fn tokens_as_graphql_controller_sees_them() {
    let f = FakeGitlab::start(Fixture::memory());
    let q = "{ containerRepository(id: \"gid://gitlab/ContainerRepository/101\") { name } }";
    let r = gql(&f, Some(("PRIVATE-TOKEN", "glpat-nope")), q, Value::Null);
    assert_eq!(
        (r.status, r.json()),
        (401, json!({"errors": [{"message": "Invalid token"}]}))
    );
    let r = gql(
        &f,
        Some(("Authorization", "Bearer glpat-demo-token")),
        q,
        Value::Null,
    );
    assert_eq!(r.json()["data"]["containerRepository"]["name"], "app");
    // Not visible without a token: null, no error.
    let r = gql(&f, None, q, Value::Null);
    assert_eq!(r.json(), json!({"data": {"containerRepository": null}}));
    // A job token finds no user for GraphQL, and a token was present: 401.
    let r = gql(&f, Some(JOB), q, Value::Null);
    assert_eq!(r.status, 401);
    // Well-formed id of no repository: null.
    let r = gql(
        &f,
        Some(TOKEN),
        "{ containerRepository(id: \"gid://gitlab/ContainerRepository/999\") { name } }",
        Value::Null,
    );
    assert_eq!(r.json(), json!({"data": {"containerRepository": null}}));
}

const DESTROY: &str = "mutation del($id: ContainerRepositoryID!, $names: [String!]!) {
  destroyContainerRepositoryTags(input: {id: $id, tagNames: $names, clientMutationId: \"m1\"}) {
    deletedTagNames errors clientMutationId } }";

fn destroy(f: &FakeGitlab, auth: (&str, &str), names: &[&str]) -> Value {
    gql(f, Some(auth), DESTROY, json!({"id": APP, "names": names})).json()
}

#[test]
fn destroy_follows_delete_tags_service() {
    let f = FakeGitlab::start(Fixture::memory());
    let before = f.tags("demo/shop/app");
    let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let v = destroy(&f, TOKEN, &refs);
    assert_eq!(v["data"], json!({"destroyContainerRepositoryTags": null}));
    assert_eq!(
        v["errors"][0]["message"],
        "Number of tags is greater than 20"
    );

    let v = destroy(&f, TOKEN, &["stable-2023"]);
    assert_eq!(
        v["data"]["destroyContainerRepositoryTags"],
        json!({"deletedTagNames": [], "errors": ["cannot delete protected tag(s)"], "clientMutationId": "m1"})
    );
    let v = destroy(&f, TOKEN, &["old-index", "nope", "stable-2023"]);
    assert_eq!(
        v["data"]["destroyContainerRepositoryTags"]["errors"],
        json!(["could not delete tags: old-index, nope"])
    );
    assert_eq!(f.tags("demo/shop/app"), before, "nothing deleted so far");

    // Read-only token: not allowed to write.
    let v = destroy(&f, READONLY, &["mr-17"]);
    assert!(v["errors"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("The resource that you are attempting to access does not exist"));

    let v = destroy(
        &f,
        TOKEN,
        &["mr-17", "stable-2023", "sha256-0f3c9a1e5b7d.att", "nope"],
    );
    assert_eq!(
        v["data"]["destroyContainerRepositoryTags"],
        json!({"deletedTagNames": ["mr-17", "sha256-0f3c9a1e5b7d.att"], "errors": [], "clientMutationId": "m1"})
    );
    // Visible to REST at once.
    assert_eq!(
        get(&f, "/projects/1/registry/repositories/101/tags/mr-17").status,
        404
    );
    assert!(!rest_names(&f, TOKEN, 1, 101).contains(&"mr-17".to_string()));
    // And REST deletions are visible to GraphQL.
    assert_eq!(
        delete(&f, "/projects/1/registry/repositories/101/tags/fix-typo").status,
        200
    );
    let names = all_names(&f, TOKEN, APP, 20);
    assert_eq!(names, f.tags("demo/shop/app"));
    assert!(!names.contains(&"fix-typo".to_string()));
    assert_eq!(f.stats().endpoint("POST /api/graphql (del)"), 5);
}

#[test]
fn missing_tags_count_as_deleted_where_gitlab_says_so() {
    let mut fx = Fixture::memory();
    fx.delete_missing_tag_status = Some(200);
    let f = FakeGitlab::start(fx);
    let v = destroy(&f, TOKEN, &["nope"]);
    assert_eq!(
        v["data"]["destroyContainerRepositoryTags"]["deletedTagNames"],
        json!(["nope"])
    );
}

#[test]
fn faults_apply_to_graphql() {
    let f = FakeGitlab::start(Fixture::memory());
    let q = "{ containerRepository(id: \"gid://gitlab/ContainerRepository/101\") { name } }";
    f.set_faults(script("POST", "/api/graphql", FaultKind::GraphqlError));
    let r = gql(&f, Some(TOKEN), q, Value::Null);
    assert_eq!(
        (r.status, r.json()),
        (
            200,
            json!({"data": null, "errors": [{"message": "Query has complexity of 300, which exceeds max complexity of 250"}]})
        )
    );
    assert_eq!(
        gql(&f, Some(TOKEN), q, Value::Null).json()["data"]["containerRepository"]["name"],
        "app"
    );

    f.set_faults(script(
        "POST",
        "/api/graphql (del)",
        FaultKind::GraphqlPartial,
    ));
    let v = destroy(&f, TOKEN, &["mr-17"]);
    assert_eq!(v["data"], json!({"destroyContainerRepositoryTags": null}));
    assert_eq!(v["errors"][0]["message"], "Internal server error");
    assert!(
        f.tags("demo/shop/app").contains(&"mr-17".to_string()),
        "not applied"
    );

    f.set_faults(script(
        "POST",
        "/api/graphql (del)",
        FaultKind::ServiceUnavailable,
    ));
    assert_eq!(
        gql(
            &f,
            Some(TOKEN),
            DESTROY,
            json!({"id": APP, "names": ["mr-17"]})
        )
        .status,
        503
    );
    f.set_faults(script("POST", "/api/graphql (del)", FaultKind::DropAfter));
    assert!(
        !gql(
            &f,
            Some(TOKEN),
            DESTROY,
            json!({"id": APP, "names": ["mr-17"]})
        )
        .received
    );
    assert!(
        !f.tags("demo/shop/app").contains(&"mr-17".to_string()),
        "applied"
    );

    f.set_faults(Faults {
        rate_limit: Some(RateLimit {
            limit: 1,
            period_secs: 3600,
            retry_after: true,
        }),
        ..Faults::default()
    });
    assert_eq!(gql(&f, Some(TOKEN), q, Value::Null).status, 200);
    let r = gql(&f, Some(TOKEN), q, Value::Null);
    assert_eq!(r.status, 429);
    assert!(r.header("Retry-After").is_some());

    // Random GraphQL faults never hit REST.
    f.set_faults(Faults {
        graphql_partial_rate: 1.0,
        ..Faults::default()
    });
    assert_eq!(get(&f, "/projects/1").status, 200);
    let v = gql(&f, Some(TOKEN), q, Value::Null).json();
    assert_eq!(v["data"], json!({"containerRepository": null}));
    assert_eq!(
        f.stats().fault("graphql_partial"),
        2,
        "scripted, then drawn"
    );
}
