//! The fake over a real registry: GitLab's answers derived from what docker-registry holds,
//! in both modes, its token realm, and the registry's own garbage collection.
//!
//! Every test here starts Debian's `docker-registry`; without it they fail, saying so.

use fake_gitlab::{FakeGitlab, Fixture, RegistryMode};
use reqwest::blocking::Client;
use serde_json::{json, Value};

const TOKEN: &str = "glpat-demo-token";
const GITLAB_ACCEPT: &str =
    "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";
const ANY_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

fn http() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn start(fixture: Fixture) -> FakeGitlab {
    FakeGitlab::start_on(fixture, "127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot start the registry-backed fake: {e}"))
}

fn fixture(value: Value) -> Fixture {
    let mut value = value;
    value["tokens"] =
        json!([{"token": TOKEN, "scopes": ["api"]}, {"token": "glpat-ro", "scopes": ["read_api"]}]);
    Fixture::from_json(&value.to_string()).expect("test fixture is valid")
}

struct Reply {
    status: u16,
    body: Vec<u8>,
    headers: reqwest::header::HeaderMap,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

fn send(req: reqwest::blocking::RequestBuilder) -> Reply {
    let r = req.send().unwrap();
    Reply {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.bytes().unwrap().to_vec(),
    }
}

fn api(f: &FakeGitlab, method: reqwest::Method, path: &str) -> Reply {
    send(
        http()
            .request(method, format!("{}{path}", f.api_url()))
            .header("PRIVATE-TOKEN", TOKEN),
    )
}

fn details(f: &FakeGitlab, project: u64, repo: u64, tag: &str) -> Reply {
    api(
        f,
        reqwest::Method::GET,
        &format!("/projects/{project}/registry/repositories/{repo}/tags/{tag}"),
    )
}

fn delete_tag(f: &FakeGitlab, project: u64, repo: u64, tag: &str) -> Reply {
    api(
        f,
        reqwest::Method::DELETE,
        &format!("/projects/{project}/registry/repositories/{repo}/tags/{tag}"),
    )
}

/// A registry token from the fake's realm, as `docker login` gets one.
fn registry_token(f: &FakeGitlab, user: &str, password: &str, scopes: &[&str]) -> Reply {
    let mut req = http()
        .get(f.realm_url())
        .query(&[("service", "container_registry")])
        .basic_auth(user, Some(password));
    for s in scopes {
        req = req.query(&[("scope", s)]);
    }
    send(req)
}

fn token_of(reply: &Reply) -> String {
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["token"].as_str().unwrap().to_string()
}

fn manifest(f: &FakeGitlab, token: &str, repo: &str, reference: &str, accept: &str) -> Reply {
    send(
        http()
            .get(format!(
                "{}/v2/{repo}/manifests/{reference}",
                f.registry_url().unwrap()
            ))
            .bearer_auth(token)
            .header("Accept", accept),
    )
}

fn pull(f: &FakeGitlab, repo: &str) -> String {
    token_of(&registry_token(
        f,
        "anyone",
        TOKEN,
        &[&format!("repository:{repo}:pull")],
    ))
}

#[test]
fn a_multi_arch_index_has_no_details_while_the_registry_serves_it() {
    let f = start(Fixture::demo());
    assert_eq!(f.registry_mode(), RegistryMode::Legacy);
    let d = details(&f, 1, 101, "latest");
    assert_eq!(
        (d.status, d.json()),
        (404, json!({"message": "404 Tag Not Found"}))
    );

    let token = pull(&f, "demo/shop/app");
    let served = manifest(&f, &token, "demo/shop/app", "latest", ANY_ACCEPT);
    assert_eq!(served.status, 200);
    assert_eq!(
        served.headers["content-type"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(
        served.json()["manifests"].as_array().unwrap().len(),
        2,
        "two platforms"
    );
    // What GitLab asks for: distribution refuses it, hence GitLab's 404.
    let narrow = manifest(&f, &token, "demo/shop/app", "latest", GITLAB_ACCEPT);
    assert_eq!(narrow.status, 404);
    assert!(String::from_utf8_lossy(&narrow.body)
        .contains("OCI index found, but accept header does not support OCI indexes"));

    // A single-platform image has details from its config and layers.
    let d = details(&f, 1, 101, "v1.0.0").json();
    assert!(d["created_at"].as_str().unwrap().ends_with("+00:00"));
    assert_eq!(d["total_size"], json!(1_572_864 + 262_144));
    assert_eq!(
        d["digest"],
        json!(f.registry_digest("demo/shop/app", "v1.0.0").unwrap())
    );
}

#[test]
fn gitlab_style_deletion_of_one_tag_leaves_a_sibling_of_the_same_digest() {
    let f = start(Fixture::demo());
    let image = f.registry_digest("demo/shop/app", "latest").unwrap();
    assert_eq!(
        f.registry_digest("demo/shop/app", "main").as_deref(),
        Some(image.as_str())
    );
    let r = delete_tag(&f, 1, 101, "main");
    assert_eq!((r.status, r.json()), (200, json!(200)));
    let tags = f.tags("demo/shop/app");
    assert!(!tags.contains(&"main".to_string()));
    assert!(
        tags.contains(&"latest".to_string()),
        "the sibling tag survives"
    );
    assert_eq!(
        f.registry_digest("demo/shop/app", "latest"),
        Some(image.clone())
    );
    // The image's manifest stays, untagged once its last tag goes.
    delete_tag(&f, 1, 101, "latest");
    let token = pull(&f, "demo/shop/app");
    assert_eq!(
        manifest(&f, &token, "demo/shop/app", &image, ANY_ACCEPT).status,
        200
    );
    // A tag that does not exist: the dummy is pushed and deleted, 200 (newest GitLab).
    assert_eq!(delete_tag(&f, 1, 101, "never-was").status, 200);
    assert!(!f.tags("demo/shop/app").contains(&"never-was".to_string()));
}

#[test]
fn a_docker_manifest_list_is_answered_with_its_amd64_child() {
    let f = start(Fixture::demo());
    let list = f.registry_digest("demo/shop/app", "v1.1.0").unwrap();
    let d = details(&f, 1, 101, "v1.1.0");
    assert_eq!(d.status, 200);
    let child = d.json()["digest"].as_str().unwrap().to_string();
    assert_ne!(child, list, "GitLab describes the linux/amd64 child");
    let token = pull(&f, "demo/shop/app");
    let served = manifest(&f, &token, "demo/shop/app", "v1.1.0", ANY_ACCEPT).json();
    let amd64 = served["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == "amd64")
        .unwrap();
    assert_eq!(amd64["digest"], json!(child));
}

#[test]
fn broken_tags_are_really_broken_and_kinds_answer_as_gitlab_reads_them() {
    let f = start(Fixture::demo());
    // Manifest gone from storage: listed, no details, does not resolve.
    assert!(f
        .tags("demo/shop/app")
        .contains(&"nightly-broken".to_string()));
    assert_eq!(details(&f, 1, 101, "nightly-broken").status, 404);
    // An index whose platform manifest is gone.
    assert_eq!(details(&f, 1, 101, "multiarch-20240101").status, 404);
    let problems: Vec<(String, String)> = f
        .registry_resolve_all()
        .into_iter()
        .filter(|r| r.problem.is_some())
        .map(|r| (r.repository, r.tag))
        .collect();
    assert_eq!(
        problems,
        [
            (
                "demo/shop/app".to_string(),
                "multiarch-20240101".to_string()
            ),
            ("demo/shop/app".to_string(), "nightly-broken".to_string())
        ]
    );
    // A cosign signature: an image whose config says 0001-01-01.
    let sig = f
        .tags("demo/shop/app")
        .into_iter()
        .find(|t| t.ends_with(".sig"))
        .unwrap();
    let d = details(&f, 1, 101, &sig).json();
    assert_eq!(d["created_at"], "0001-01-01T00:00:00.000+00:00");
    // A BuildKit cache as an image manifest: details without a date; as an index: none.
    let d = details(&f, 1, 102, "feature-login");
    assert_eq!(
        (d.status, d.json()["created_at"].clone()),
        (200, Value::Null)
    );
    assert_eq!(details(&f, 1, 102, "main").status, 404);
    // A Helm chart: an OCI manifest with Helm's config, no date.
    let d = details(&f, 1, 105, "1.2.3");
    assert_eq!(
        (d.status, d.json()["created_at"].clone()),
        (200, Value::Null)
    );
}

#[test]
fn index_details_follow_the_gitlab_version() {
    let world = |version: &str| {
        fixture(
            json!({"registry": "legacy", "gitlab_version": version, "projects": [{"id": 1, "path": "g/p", "repositories": [
            {"id": 1, "name": "app", "tags": [{"name": "multi", "kind": "index", "format": "oci", "age": "1d"}, {"name": "one", "age": "1d"}]}]}]}),
        )
    };
    let f = start(world("19.1"));
    assert_eq!(details(&f, 1, 1, "multi").status, 500);
    assert_eq!(details(&f, 1, 1, "one").status, 200);
    drop(f);
    let f = start(world("19.2"));
    let d = details(&f, 1, 1, "multi");
    assert_eq!(d.status, 200);
    let d = d.json();
    assert_eq!(
        (
            d["created_at"].clone(),
            d["total_size"].clone(),
            d["revision"].clone()
        ),
        (Value::Null, Value::Null, Value::Null)
    );
    assert_eq!(
        d["digest"],
        json!(f.registry_digest("g/p/app", "multi").unwrap())
    );
    drop(f);
    // Older GitLab validated the tag before deleting it: an index cannot be deleted.
    let mut old = world("16.0");
    old.delete_validates_tag = true;
    let f = start(old);
    assert_eq!(delete_tag(&f, 1, 1, "multi").status, 404);
    assert_eq!(delete_tag(&f, 1, 1, "one").status, 200);
}

#[test]
fn the_realm_grants_what_the_credentials_and_role_allow() {
    let f = start(Fixture::demo());
    let access = |reply: &Reply| -> Value {
        let token = token_of(reply);
        let claims = token.split('.').nth(1).unwrap();
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()["access"].clone()
    };
    // An access token works with any user name; several scopes in one request.
    let r = registry_token(
        &f,
        "whoever",
        TOKEN,
        &[
            "repository:demo/shop/app:pull",
            "repository:demo/shop/app.cache:pull,delete repository:other/tools/cli:pull,delete",
        ],
    );
    assert_eq!(
        access(&r),
        json!([
            {"type": "repository", "name": "demo/shop/app", "actions": ["pull"]},
            {"type": "repository", "name": "demo/shop/app.cache", "actions": ["pull", "delete"]},
            // Developer in other/tools: pull, no delete.
            {"type": "repository", "name": "other/tools/cli", "actions": ["pull"]}
        ])
    );
    // read_api pulls only.
    let r = registry_token(
        &f,
        "x",
        "glpat-demo-readonly",
        &["repository:demo/shop/app:pull,push,delete"],
    );
    assert_eq!(
        access(&r),
        json!([{"type": "repository", "name": "demo/shop/app", "actions": ["pull"]}])
    );
    // The job token logs in as gitlab-ci-token only.
    let r = registry_token(
        &f,
        "gitlab-ci-token",
        "demo-job-token",
        &["repository:demo/shop/app:pull,delete"],
    );
    assert_eq!(access(&r)[0]["actions"], json!(["pull", "delete"]));
    let r = registry_token(
        &f,
        "someone",
        "demo-job-token",
        &["repository:demo/shop/app:pull"],
    );
    assert_eq!(
        (r.status, r.json()),
        (
            401,
            json!({"errors": [{"code": "UNAUTHORIZED", "message": "HTTP Basic: Access denied"}]})
        )
    );
    // A wrong password: 401; nothing at all: 403.
    assert_eq!(
        registry_token(&f, "x", "glpat-wrong", &["repository:demo/shop/app:pull"]).status,
        401
    );
    let anonymous = send(http().get(f.realm_url()).query(&[
        ("service", "container_registry"),
        ("scope", "repository:demo/shop/app:pull"),
    ]));
    assert_eq!(
        (anonymous.status, anonymous.json()),
        (
            403,
            json!({"errors": [{"code": "DENIED", "message": "access forbidden"}]})
        )
    );
    // The registry points clients at the realm and refuses what the token does not grant.
    let challenge = send(http().get(format!("{}/v2/", f.registry_url().unwrap())));
    assert_eq!(challenge.status, 401);
    let header = challenge.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        header.contains(&f.realm_url()) && header.contains("service=\"container_registry\""),
        "{header}"
    );
    let token = pull(&f, "demo/shop/app");
    let deleted = send(
        http()
            .delete(format!(
                "{}/v2/demo/shop/app/manifests/{}",
                f.registry_url().unwrap(),
                f.registry_digest("demo/shop/app", "v1.0.0").unwrap()
            ))
            .bearer_auth(&token),
    );
    assert_eq!(deleted.status, 401, "a pull token cannot delete");
}

#[test]
fn a_short_lived_registry_token_is_refused_once_it_expires() {
    let mut f = Fixture::demo();
    f.registry_token_ttl = Some("2s".into());
    let f = start(f);
    let token = pull(&f, "demo/shop/app");
    assert_eq!(
        manifest(&f, &token, "demo/shop/app", "v1.0.0", ANY_ACCEPT).status,
        200
    );
    std::thread::sleep(std::time::Duration::from_millis(3500));
    assert_eq!(
        manifest(&f, &token, "demo/shop/app", "v1.0.0", ANY_ACCEPT).status,
        401
    );
    let fresh = pull(&f, "demo/shop/app");
    assert_eq!(
        manifest(&f, &fresh, "demo/shop/app", "v1.0.0", ANY_ACCEPT).status,
        200
    );
}

fn gitlab_world() -> FakeGitlab {
    let mut many: Vec<Value> = (0..100)
        .map(|i| json!({"name": format!("a{i:03}-x"), "age": "1d", "size": 1024}))
        .collect();
    many.push(json!({"name": "x", "age": "1d", "size": 1024}));
    many.push(
        json!({"name": "multi", "kind": "index", "format": "oci", "age": "3d", "published": "2d"}),
    );
    many.push(json!({"name": "v1.0.0", "age": "5d"}));
    many.push(json!({"name": "sbom", "kind": "artifact", "signs": "v1.0.0", "size": 100}));
    many.push(json!({"name": "stable", "age": "5d"}));
    many.push(json!({"name": "release-1", "age": "5d"}));
    start(fixture(
        json!({"registry": "gitlab", "projects": [{"id": 1, "path": "g/p",
        "protection_rules": [
            {"tag_name_pattern": "stable", "minimum_access_level_for_delete": "owner"},
            {"tag_name_pattern": "^release-", "immutable": true}
        ],
        "repositories": [{"id": 1, "name": "app", "tags": many}]}]}),
    ))
}

#[test]
fn with_the_metadata_database_every_tag_has_details_and_protection_applies() {
    let f = gitlab_world();
    let v2 = send(http().get(format!("{}/v2/", f.registry_url().unwrap())));
    assert_eq!(
        v2.headers["gitlab-container-registry-database-enabled"],
        "true"
    );
    assert!(v2.headers["gitlab-container-registry-version"]
        .to_str()
        .unwrap()
        .ends_with("-gitlab"));

    let d = details(&f, 1, 1, "multi");
    assert_eq!(d.status, 200, "an index has details with the database");
    let d = d.json();
    assert_eq!(
        (d["total_size"].clone(), d["revision"].clone()),
        (json!(0), json!(""))
    );
    assert!(d["created_at"].is_string(), "created_at is the push time");
    // GitLab's partial-name lookup: 100 tags containing `x` sort before it.
    assert!(f.tags("g/p/app").contains(&"x".to_string()));
    assert_eq!(details(&f, 1, 1, "x").status, 404, "listed, yet 404");
    assert_eq!(details(&f, 1, 1, "a000-x").status, 200);

    // DELETE: a missing tag and protected or immutable tags meet the plain 403.
    let forbidden = (403, json!({"message": "403 Forbidden"}));
    for tag in ["never-was", "stable", "release-1"] {
        let r = delete_tag(&f, 1, 1, tag);
        assert_eq!((r.status, r.json()), forbidden, "{tag}");
    }
    assert!(f.tags("g/p/app").contains(&"stable".to_string()));
    assert_eq!(delete_tag(&f, 1, 1, "a001-x").status, 200);

    // The REST rules list shows mutable rules only (18.7+).
    let rules = api(
        &f,
        reqwest::Method::GET,
        "/projects/1/registry/protection/tag/rules",
    );
    assert_eq!(rules.status, 200);
    assert_eq!(
        rules.json(),
        json!([{"id": 101, "project_id": 1, "tag_name_pattern": "stable", "minimum_access_level_for_push": "maintainer", "minimum_access_level_for_delete": "owner"}])
    );
}

fn graphql(f: &FakeGitlab, query: &str) -> Value {
    let r = send(
        http()
            .post(format!("{}/api/graphql", f.base_url()))
            .header("PRIVATE-TOKEN", TOKEN)
            .header("Content-Type", "application/json")
            .body(json!({"query": query}).to_string()),
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    assert!(v.get("errors").is_none(), "{v}");
    v["data"].clone()
}

#[test]
fn graphql_shows_media_types_push_times_referrers_and_protection_with_the_database() {
    let f = gitlab_world();
    let data = graphql(
        &f,
        "{ containerRepository(id: \"gid://gitlab/ContainerRepository/1\") { tags(first: 20, name: \"\", referrers: true, after: \"a099-x\") { nodes { name digest mediaType publishedAt totalSize referrers { artifactType digest } protection { minimumAccessLevelForDelete } userPermissions { destroyContainerRepositoryTag } } } } }",
    );
    let nodes = data["containerRepository"]["tags"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    let node = |name: &str| nodes.iter().find(|n| n["name"] == name).unwrap().clone();
    assert_eq!(
        node("multi")["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert!(node("multi")["publishedAt"].is_string());
    let v1 = node("v1.0.0");
    assert_eq!(
        v1["referrers"][0]["digest"],
        json!(f.registry_digest("g/p/app", "sbom").unwrap())
    );
    assert_eq!(
        node("stable")["protection"]["minimumAccessLevelForDelete"],
        "OWNER"
    );
    assert_eq!(
        node("stable")["userPermissions"]["destroyContainerRepositoryTag"],
        false
    );
    assert_eq!(
        node("x")["userPermissions"]["destroyContainerRepositoryTag"],
        true
    );
    assert!(node("x")["protection"].is_null());

    let rules = graphql(&f, "{ project(fullPath: \"g/p\") { containerProtectionTagRules { nodes { tagNamePattern minimumAccessLevelForDelete immutable } } } }");
    assert_eq!(
        rules["project"]["containerProtectionTagRules"]["nodes"],
        json!([
            {"tagNamePattern": "stable", "minimumAccessLevelForDelete": "OWNER", "immutable": false},
            {"tagNamePattern": "^release-", "minimumAccessLevelForDelete": null, "immutable": true}
        ])
    );
    // Protected tags are dropped from a batch silently; missing ones count as deleted.
    let done = graphql(&f, "mutation { destroyContainerRepositoryTags(input: {id: \"gid://gitlab/ContainerRepository/1\", tagNames: [\"stable\", \"a002-x\", \"never-was\"]}) { deletedTagNames errors } }");
    assert_eq!(
        done["destroyContainerRepositoryTags"],
        json!({"deletedTagNames": ["a002-x", "never-was"], "errors": []})
    );
    let done = graphql(&f, "mutation { destroyContainerRepositoryTags(input: {id: \"gid://gitlab/ContainerRepository/1\", tagNames: [\"stable\", \"release-1\"]}) { deletedTagNames errors } }");
    assert_eq!(
        done["destroyContainerRepositoryTags"],
        json!({"deletedTagNames": [], "errors": ["cannot delete protected tag(s)"]})
    );
}

#[test]
fn a_legacy_graphql_knows_no_media_types_push_times_or_index_details() {
    let f = start(Fixture::demo());
    let data = graphql(
        &f,
        "{ containerRepository(id: \"gid://gitlab/ContainerRepository/101\") { tags(first: 20) { nodes { name digest createdAt totalSize mediaType publishedAt referrers { digest } } } } }",
    );
    let nodes = data["containerRepository"]["tags"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    let node = |name: &str| nodes.iter().find(|n| n["name"] == name).unwrap().clone();
    for field in [
        "digest",
        "createdAt",
        "totalSize",
        "mediaType",
        "publishedAt",
        "referrers",
    ] {
        assert!(
            node("feature-login")[field].is_null(),
            "{field} of an index"
        );
    }
    assert!(node("v1.0.0")["digest"].is_string() && node("v1.0.0")["mediaType"].is_null());
    assert!(node("v1.0.0")["publishedAt"].is_null());
}

#[test]
fn garbage_collection_frees_space_only_with_delete_untagged_and_then_breaks_kept_indexes() {
    let f = start(fixture(
        json!({"registry": "legacy", "projects": [{"id": 1, "path": "g/p", "repositories": [{"id": 1, "name": "app", "tags": [
            {"name": "multi", "kind": "index", "format": "oci", "age": "3d", "layers": [{"id": "big", "size": 300_000}]},
            {"name": "old", "age": "30d", "layers": [{"id": "old-layer", "size": 500_000}]},
            {"name": "keep", "age": "1d", "layers": [{"id": "keep-layer", "size": 100_000}]}
        ]}]}]}),
    ));
    assert_eq!(delete_tag(&f, 1, 1, "old").status, 200);
    let plain = f.registry_garbage_collect(false);
    assert!(
        plain.before.bytes - plain.after.bytes < 10_000,
        "an untagged manifest keeps its blobs: {plain:?}"
    );
    assert!(f.registry_resolve_all().iter().all(|r| r.problem.is_none()));
    let untagged = f.registry_garbage_collect(true);
    assert!(
        plain.after.bytes - untagged.after.bytes >= 500_000,
        "{untagged:?}"
    );
    // distribution 2.8 deletes the (untagged) platform manifests of a kept index too.
    let problems: Vec<String> = f
        .registry_resolve_all()
        .into_iter()
        .filter_map(|r| r.problem.map(|p| format!("{}: {p}", r.tag)))
        .collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("multi: "), "{problems:?}");
    assert_eq!(f.tags("g/p/app"), ["keep", "multi"]);
}
