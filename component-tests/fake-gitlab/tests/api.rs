//! The GitLab endpoints over real HTTP against the demo fixture.

mod common;

use common::*;
use fake_gitlab::{FakeGitlab, Fixture};
use serde_json::json;

const APP_TAGS: &str = "/projects/1/registry/repositories/101/tags";

#[test]
fn tags_are_sorted_and_paginated_with_gitlab_headers() {
    let f = FakeGitlab::start(Fixture::memory());
    let r = get(&f, &format!("{APP_TAGS}?per_page=5"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.names(),
        [
            "feature-cart",
            "feature-login",
            "fix-typo",
            "latest",
            "main"
        ]
    );
    assert_eq!(r.json()[0]["path"], "demo/shop/app:feature-cart");
    assert_eq!(
        r.json()[0]["location"],
        "registry.example.com/demo/shop/app:feature-cart"
    );
    assert_eq!(r.header("x-total"), Some("13"));
    assert_eq!(r.header("x-total-pages"), Some("3"));
    assert_eq!(r.header("x-page"), Some("1"));
    assert_eq!(r.header("x-per-page"), Some("5"));
    assert_eq!(r.header("x-next-page"), Some("2"));
    assert_eq!(r.header("x-prev-page"), Some(""));
    let link = r.header("link").unwrap();
    let base = "http://fake.test/api/v4/projects/1/registry/repositories/101/tags";
    assert_eq!(
        link,
        format!(
            "<{base}?id=1&page=2&per_page=5&repository_id=101>; rel=\"next\", \
             <{base}?id=1&page=1&per_page=5&repository_id=101>; rel=\"first\", \
             <{base}?id=1&page=3&per_page=5&repository_id=101>; rel=\"last\""
        )
    );

    let r = get(&f, &format!("{APP_TAGS}?per_page=5&page=3"));
    assert_eq!(r.names(), ["v1.0.0", "v1.1.0", "v1.2.0"]);
    assert_eq!(r.header("x-next-page"), Some(""));
    assert_eq!(r.header("x-prev-page"), Some("2"));
    assert!(r.header("link").unwrap().contains("rel=\"prev\""));

    // Past the end: an empty page, no next or prev.
    let r = get(&f, &format!("{APP_TAGS}?per_page=5&page=4"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!([]));
    assert_eq!(r.header("x-prev-page"), Some(""));

    // Default page size 20; extra params are kept in links.
    let r = get(
        &f,
        "/projects/1/registry/repositories?tags_count=true&per_page=2",
    );
    assert_eq!(r.ids(), [101, 102]);
    assert_eq!(r.json()[0]["tags_count"], 13);
    assert!(r
        .header("link")
        .unwrap()
        .contains("?id=1&page=2&per_page=2&tags_count=true>"));

    assert_eq!(
        get(&f, &format!("{APP_TAGS}?page=x")).json(),
        json!({"error": "page is invalid"})
    );
}

#[test]
fn per_page_is_capped_and_big_lists_drop_counts() {
    let f = FakeGitlab::start(Fixture::synthetic(2, 10_000));
    let tags = "/projects/1/registry/repositories/1000/tags";
    let r = send(
        &f,
        "GET",
        &format!("/api/v4{tags}?per_page=500"),
        &[("PRIVATE-TOKEN", "glpat-fake-token")],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json().as_array().unwrap().len(), 100);
    assert_eq!(r.header("x-per-page"), Some("100"));
    // 10,000 tags: GitLab stops counting.
    assert_eq!(r.header("x-total"), None);
    assert_eq!(r.header("x-total-pages"), None);
    assert_eq!(r.header("x-next-page"), Some("2"));
    assert!(!r.header("link").unwrap().contains("rel=\"last\""));
    assert!(r.header("link").unwrap().contains("per_page=500"));

    let r = send(
        &f,
        "GET",
        &format!("/api/v4{tags}?per_page=100&page=100"),
        &[("PRIVATE-TOKEN", "glpat-fake-token")],
        None,
    );
    assert_eq!(r.json().as_array().unwrap().len(), 100);
    assert_eq!(r.header("x-next-page"), Some(""));
}

#[test]
fn tag_details_and_broken_tags() {
    let f = FakeGitlab::start(Fixture::memory());
    let r = get(&f, &format!("{APP_TAGS}/v1.0.0"));
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["name"], "v1.0.0");
    assert_eq!(v["digest"].as_str().unwrap().len(), 71);
    assert_eq!(v["revision"].as_str().unwrap().len(), 64);
    assert_eq!(
        v["short_revision"].as_str().unwrap(),
        &v["revision"].as_str().unwrap()[..9]
    );
    assert!(v["created_at"].as_str().unwrap().ends_with("+00:00"));
    assert!(v["total_size"].as_u64().unwrap() > 10 * 1024 * 1024);

    let latest = get(&f, &format!("{APP_TAGS}/latest")).json();
    let main = get(&f, &format!("{APP_TAGS}/main")).json();
    assert_eq!(latest["digest"], main["digest"]);
    assert_eq!(latest["total_size"], main["total_size"]);

    // A cache tag: listed, details answer, created_at null.
    let cache = get(&f, "/projects/1/registry/repositories/102/tags/main").json();
    assert_eq!(cache["created_at"], json!(null));

    for broken in [
        "sha256-0f3c9a1e5b7d.att",
        "multiarch-20240101",
        "stable-2023",
        "old-index",
        "nope",
    ] {
        let r = get(&f, &format!("{APP_TAGS}/{broken}"));
        assert_eq!(r.status, 404, "{broken}");
        assert_eq!(r.json(), json!({"message": "404 Tag Not Found"}));
    }
    let r = get(&f, "/projects/1/registry/repositories/201/tags");
    assert_eq!(r.json(), json!({"message": "404 Not found"}));
    let r = get(&f, "/projects/1/registry/repositories/abc/tags");
    assert_eq!(r.json(), json!({"error": "repository_id is invalid"}));
}

#[test]
fn delete_changes_state_and_refuses_as_gitlab() {
    let f = FakeGitlab::start(Fixture::memory());
    assert!(f.tags("demo/shop/app").contains(&"v1.0.0".to_string()));
    let r = delete(&f, &format!("{APP_TAGS}/v1.0.0"));
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "200");
    assert!(!f.tags("demo/shop/app").contains(&"v1.0.0".to_string()));
    assert_eq!(get(&f, &format!("{APP_TAGS}/v1.0.0")).status, 404);
    assert_eq!(get(&f, APP_TAGS).header("x-total"), Some("12"));

    // Broken tags delete like newest GitLab...
    assert_eq!(
        delete(&f, &format!("{APP_TAGS}/sha256-0f3c9a1e5b7d.att")).status,
        200
    );
    // ...unless undeletable (older GitLab validates first).
    let r = delete(&f, &format!("{APP_TAGS}/old-index"));
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"message": "404 Tag Not Found"}))
    );
    // Protection rules win over brokenness: the tag policy's plain 403 (gitlab-api.md §13).
    let r = delete(&f, &format!("{APP_TAGS}/stable-2023"));
    assert_eq!(
        (r.status, r.json()),
        (403, json!({"message": "403 Forbidden"}))
    );
    assert_eq!(delete(&f, &format!("{APP_TAGS}/v1.0.0")).status, 404);
    assert!(f.tags("demo/shop/app").contains(&"stable-2023".to_string()));
    assert!(f.tags("demo/shop/app").contains(&"old-index".to_string()));
    assert_eq!(f.tags("demo/shop/app").len(), 11);
    assert!(f.tags("no/such/repo").is_empty());

    // Developer may delete tags; cannot change settings.
    assert_eq!(
        delete(&f, "/projects/4/registry/repositories/401/tags/tmp-build").status,
        200
    );
    assert_eq!(f.tags("other/tools/cli"), ["latest"]);
    let r = put_json(
        &f,
        "/projects/4",
        TOKEN,
        &json!({"container_expiration_policy_attributes": {"enabled": true}}),
    );
    assert_eq!(
        (r.status, r.json()),
        (403, json!({"message": "403 Forbidden"}))
    );
}

#[test]
fn missing_tag_delete_status_is_configurable() {
    let mut fx = Fixture::memory();
    fx.delete_missing_tag_status = Some(200);
    let f = FakeGitlab::start(fx);
    let r = delete(&f, &format!("{APP_TAGS}/never-existed"));
    assert_eq!((r.status, r.text()), (200, "200".to_string()));
}

#[test]
fn authentication_and_scopes() {
    let f = FakeGitlab::start(Fixture::memory());
    let unauthorized = json!({"message": "401 Unauthorized"});
    let r = get_as(&f, "/projects/1", ("PRIVATE-TOKEN", "glpat-wrong"));
    assert_eq!((r.status, r.json()), (401, unauthorized.clone()));
    let r = get_as(&f, "/projects/1", ("Authorization", "Bearer glpat-wrong"));
    assert_eq!(r.status, 401);
    assert_eq!(
        get_as(
            &f,
            "/projects/1",
            ("Authorization", "Bearer glpat-demo-token")
        )
        .status,
        200
    );
    assert_eq!(
        get(&f, "/projects/1?private_token=glpat-demo-token").status,
        200
    );

    // No token: anonymous, and private projects do not exist for anonymous
    // callers (gitlab#36367); writes need authentication.
    let r = send(&f, "GET", "/api/v4/projects/1", &[], None);
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"message": "404 Project Not Found"}))
    );
    let r = send(&f, "GET", "/api/v4/projects", &[], None);
    assert_eq!(r.json(), json!([]));
    let r = send(
        &f,
        "PUT",
        "/api/v4/projects/1",
        &[],
        Some(("application/json", "{\"name\":\"x\"}")),
    );
    assert_eq!((r.status, r.json()), (401, unauthorized));

    // read_api reads, cannot write.
    assert_eq!(get_as(&f, APP_TAGS, READONLY).status, 200);
    let r = send(
        &f,
        "DELETE",
        &format!("/api/v4{APP_TAGS}/latest"),
        &[READONLY],
        None,
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"error": "insufficient_scope",
               "error_description": "The request requires higher privileges than provided by the access token.",
               "scope": "api read_api"})
    );
    assert!(f.tags("demo/shop/app").contains(&"latest".to_string()));

    // Job token: its own project's registry only.
    assert_eq!(get_as(&f, APP_TAGS, JOB).status, 200);
    assert_eq!(
        get_as(&f, "/projects/demo%2Fshop/registry/repositories", JOB).status,
        200
    );
    let r = send(
        &f,
        "DELETE",
        &format!("/api/v4{APP_TAGS}/fix-typo"),
        &[JOB],
        None,
    );
    assert_eq!(r.status, 200);
    let r = get_as(&f, "/projects/2/registry/repositories", JOB);
    assert_eq!(
        (r.status, r.json()),
        (
            403,
            json!({"message": "403 Forbidden - This project's CI/CD job token cannot be used to authenticate with the container registry of a different project."})
        )
    );
    // Elsewhere the job token is ignored: the caller is anonymous.
    assert_eq!(get_as(&f, "/projects/1", JOB).status, 404);
    assert_eq!(
        get_as(&f, "/groups/10/registry/repositories", JOB).json(),
        json!({"message": "404 Group Not Found"})
    );
    let r = send(
        &f,
        "PUT",
        "/api/v4/projects/1",
        &[JOB],
        Some(("application/json", "{\"name\":\"x\"}")),
    );
    assert_eq!(r.status, 401);
    let r = get_as(&f, APP_TAGS, ("JOB-TOKEN", "bogus"));
    assert_eq!(r.status, 401);
}

#[test]
fn projects_and_registry_visibility() {
    let f = FakeGitlab::start(Fixture::memory());
    let r = get(&f, "/projects/demo%2Fshop");
    assert_eq!(r.status, 200);
    let p = r.json();
    assert_eq!(p["id"], 1);
    assert_eq!(p["path_with_namespace"], "demo/shop");
    assert_eq!(
        p["namespace"],
        json!({"id": 10, "name": "Demo", "path": "demo", "kind": "group", "full_path": "demo",
        "parent_id": null, "avatar_url": null, "web_url": "http://fake.test/groups/demo"})
    );
    assert_eq!(p["container_registry_enabled"], true);
    assert_eq!(p["container_registry_access_level"], "enabled");
    assert_eq!(p["permissions"]["project_access"]["access_level"], 40);
    let policy = &p["container_expiration_policy"];
    assert_eq!(policy["cadence"], "1d");
    assert_eq!(policy["enabled"], false);
    assert_eq!(policy["keep_n"], 10);
    assert_eq!(policy["older_than"], "90d");
    assert_eq!(policy["name_regex"], ".*");
    assert_eq!(policy["name_regex_keep"], json!(null));
    assert!(policy["next_run_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(f.policy(1), *policy);
    assert_eq!(f.policy(99), json!(null));

    assert_eq!(
        get(&f, "/projects/99").json(),
        json!({"message": "404 Project Not Found"})
    );
    assert_eq!(get(&f, "/projects/shop").status, 404);
    assert_eq!(
        get(&f, "/projects/demo/shop").json(),
        json!({"error": "404 Not Found"})
    );

    let legacy = get(&f, "/projects/3").json();
    assert_eq!(legacy["container_registry_enabled"], false);
    assert_eq!(legacy["container_registry_access_level"], "disabled");
    let r = get(&f, "/projects/3/registry/repositories");
    assert_eq!(
        (r.status, r.json()),
        (403, json!({"message": "403 Forbidden"}))
    );

    // Default order: created_at (id) descending.
    assert_eq!(get(&f, "/projects").ids(), [4, 3, 2, 1]);
    assert_eq!(
        get(&f, "/projects?min_access_level=40&order_by=id&sort=asc").ids(),
        [1, 2, 3]
    );
    assert_eq!(
        get(&f, "/projects?min_access_level=7").json(),
        json!({"error": "min_access_level does not have a valid value"})
    );
    let simple = get(
        &f,
        "/projects?simple=true&membership=true&archived=false&per_page=1",
    );
    assert_eq!(simple.header("x-total"), Some("4"));
    assert!(simple.json()[0]
        .get("container_expiration_policy")
        .is_none());

    let repos = get(&f, "/projects/1/registry/repositories?tags=true").json();
    assert_eq!(repos[0]["name"], "app");
    assert_eq!(repos[0]["path"], "demo/shop/app");
    assert_eq!(repos[0]["tags"].as_array().unwrap().len(), 13);
    assert_eq!(
        repos[0]["delete_api_path"],
        "http://fake.test/api/v4/projects/1/registry/repositories/101"
    );
    // A root image: name "", path = project path.
    let root = FakeGitlab::start(
        Fixture::from_json(r#"{"projects":[{"id":7,"path":"g/p","repositories":[{"id":70,"name":"","tags":[{"name":"t"}]}]}]}"#)
            .unwrap(),
    );
    let repo = &send(
        &root,
        "GET",
        "/api/v4/projects/g%2Fp/registry/repositories",
        &[("PRIVATE-TOKEN", "glpat-fake-token")],
        None,
    )
    .json()[0];
    assert_eq!(
        (repo["name"].as_str(), repo["path"].as_str()),
        (Some(""), Some("g/p"))
    );
    assert_eq!(repo["location"], "registry.example.com/g/p");
    assert!(get(&f, "/projects/4/registry/repositories").json()[0]
        .get("delete_api_path")
        .is_none());
}

#[test]
fn groups_include_subgroups() {
    let f = FakeGitlab::start(Fixture::memory());
    let r = get(&f, "/groups/10/registry/repositories");
    assert_eq!(r.ids(), [101, 102, 103, 104, 201, 202]);
    assert_eq!(r.header("x-total"), Some("6"));
    assert_eq!(
        get(&f, "/groups/demo%2Fplatform/registry/repositories").ids(),
        [201, 202]
    );
    assert_eq!(
        get(&f, "/groups/demo/registry/repositories?per_page=4&page=2").ids(),
        [201, 202]
    );

    assert_eq!(get(&f, "/groups/10/projects").ids(), [3, 1]);
    assert_eq!(
        get(&f, "/groups/10/projects?include_subgroups=true").ids(),
        [3, 2, 1]
    );
    assert_eq!(
        get(
            &f,
            "/groups/demo/projects?include_subgroups=true&min_access_level=50"
        )
        .ids(),
        Vec::<u64>::new()
    );
    assert_eq!(get(&f, "/groups/11/projects").ids(), [2]);

    // Member of a project in "other" but not of the group.
    let r = get(&f, "/groups/other/registry/repositories");
    assert_eq!(
        (r.status, r.json()),
        (403, json!({"message": "403 Forbidden"}))
    );
    assert_eq!(get(&f, "/groups/other/projects").ids(), [4]);
    assert_eq!(
        get(&f, "/groups/nope/projects").json(),
        json!({"message": "404 Group Not Found"})
    );
}

#[test]
fn policy_update_validates_and_reschedules() {
    let f = FakeGitlab::start(Fixture::memory());
    let before = f.policy(1);

    let r = put_json(
        &f,
        "/projects/1",
        TOKEN,
        &json!({"container_expiration_policy_attributes": {"cadence": "2d", "keep_n": 7, "older_than": "45d"}}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"message": {
            "container_expiration_policy.cadence": ["is not included in the list"],
            "container_expiration_policy.keep_n": ["is not included in the list"],
            "container_expiration_policy.older_than": ["is not included in the list"]}})
    );
    let r = put_json(
        &f,
        "/projects/1",
        TOKEN,
        &json!({"container_expiration_policy_attributes": {"enabled": true, "name_regex": "", "name_regex_keep": "(unclosed"}}),
    );
    assert_eq!(r.status, 400);
    let m = &r.json()["message"];
    assert_eq!(
        m["container_expiration_policy.name_regex"],
        json!(["can't be blank"])
    );
    assert!(m["container_expiration_policy.name_regex_keep"][0]
        .as_str()
        .unwrap()
        .starts_with("not valid RE2 syntax"));
    let r = put_json(
        &f,
        "/projects/1",
        TOKEN,
        &json!({"container_expiration_policy_attributes": {"keep_n": "many"}}),
    );
    assert_eq!(
        r.json(),
        json!({"error": "container_expiration_policy_attributes[keep_n] is invalid"})
    );
    let r = put_json(&f, "/projects/1", TOKEN, &json!({}));
    assert_eq!(r.status, 400);
    assert_eq!(f.policy(1), before);

    // JSON body; name_regex_delete is not a declared attribute and is dropped.
    let r = put_json(
        &f,
        "/projects/demo%2Fshop",
        TOKEN,
        &json!({"container_expiration_policy_attributes": {"cadence": "7d", "enabled": true, "keep_n": 5,
                "older_than": "14d", "name_regex": ".*", "name_regex_keep": "^v.*", "name_regex_delete": "x"}}),
    );
    assert_eq!(r.status, 200);
    let policy = r.json()["container_expiration_policy"].clone();
    assert_eq!(policy["cadence"], "7d");
    assert_eq!(policy["keep_n"], 5);
    assert_eq!(policy["name_regex_keep"], "^v.*");
    assert!(policy.get("name_regex_delete").is_none());
    assert_ne!(policy["next_run_at"], before["next_run_at"]);
    assert_eq!(f.policy(1), policy);

    // Form-encoded, as curl --data sends it; an unchanged save keeps the schedule.
    let r = send(
        &f,
        "PUT",
        "/api/v4/projects/1",
        &[TOKEN],
        Some((
            "application/x-www-form-urlencoded",
            "container_expiration_policy_attributes%5Bcadence%5D=7d&container_expiration_policy_attributes[keep_n]=5",
        )),
    );
    assert_eq!(r.status, 200);
    assert_eq!(f.policy(1)["next_run_at"], policy["next_run_at"]);
    // An empty form value is an empty string, which the model refuses;
    // JSON null clears.
    let r = send(
        &f,
        "PUT",
        "/api/v4/projects/1",
        &[TOKEN],
        Some((
            "application/x-www-form-urlencoded",
            "container_expiration_policy_attributes[older_than]=",
        )),
    );
    assert_eq!(
        r.json(),
        json!({"message": {"container_expiration_policy.older_than": ["is not included in the list"]}})
    );
    let r = put_json(
        &f,
        "/projects/1",
        TOKEN,
        &json!({"container_expiration_policy_attributes": {"keep_n": "25", "older_than": null}}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(f.policy(1)["keep_n"], 25);
    assert_eq!(f.policy(1)["older_than"], json!(null));
}

#[test]
fn policy_next_run_at_is_now_plus_cadence() {
    let f = FakeGitlab::start(Fixture::memory());
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    put_json(
        &f,
        "/projects/2",
        TOKEN,
        &json!({"container_expiration_policy_attributes": {"cadence": "14d"}}),
    );
    let t1 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let next = f.policy(2)["next_run_at"].as_str().unwrap().to_string();
    let parsed = parse_rfc3339_ms(&next);
    assert!(
        t0 + 14 * 86_400_000 <= parsed && parsed <= t1 + 14 * 86_400_000,
        "{next}"
    );
}

/// Minimal parser for the fake's `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn parse_rfc3339_ms(s: &str) -> i64 {
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().unwrap();
    let (y, mo, d) = (n(0, 4), n(5, 7), n(8, 10));
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * ((mo + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    ((days * 86_400 + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19)) * 1000) + n(20, 23)
}

#[test]
fn stats_count_requests_by_endpoint_and_status() {
    let f = FakeGitlab::start(Fixture::memory());
    get(&f, "/projects/1");
    get(&f, APP_TAGS);
    get(&f, &format!("{APP_TAGS}?page=2"));
    get(&f, &format!("{APP_TAGS}/nope"));
    delete(&f, &format!("{APP_TAGS}/mr-17"));
    get(&f, "/nowhere");
    send(&f, "GET", "/__fake/stats", &[], None);
    let s = f.stats();
    assert_eq!(s.total, 6);
    assert_eq!(s.endpoint("GET /projects/:id"), 1);
    assert_eq!(
        s.endpoint("GET /projects/:id/registry/repositories/:repository_id/tags"),
        2
    );
    assert_eq!(
        s.endpoint("GET /projects/:id/registry/repositories/:repository_id/tags/:tag_name"),
        1
    );
    assert_eq!(
        s.endpoint("DELETE /projects/:id/registry/repositories/:repository_id/tags/:tag_name"),
        1
    );
    assert_eq!(s.endpoint("GET (unknown)"), 1);
    assert_eq!(s.status(200), 4);
    assert_eq!(s.status(404), 2);
    assert!(s.faults.is_empty());

    let over_http = send(&f, "GET", "/__fake/stats", &[], None).json();
    assert_eq!(over_http["total"], 6);
    assert_eq!(over_http["by_status"]["404"], 2);
    assert_eq!(over_http["by_endpoint"]["GET /projects/:id"], 1);

    assert_eq!(
        send(&f, "POST", "/__fake/stats/reset", &[], None).status,
        204
    );
    assert_eq!(f.stats().total, 0);
    get(&f, "/projects");
    f.reset_stats();
    assert_eq!(f.stats(), fake_gitlab::Stats::default());
}

#[test]
fn state_endpoint_shows_tags_and_policies() {
    let f = FakeGitlab::start(Fixture::memory());
    delete(&f, &format!("{APP_TAGS}/mr-17"));
    let s = send(&f, "GET", "/__fake/state", &[], None).json();
    let app = s["projects"]["demo/shop"]["repositories"]["demo/shop/app"]
        .as_array()
        .unwrap();
    assert_eq!(app.len(), 12);
    assert!(!app.contains(&json!("mr-17")));
    assert_eq!(
        s["projects"]["demo/shop"]["container_expiration_policy"],
        f.policy(1)
    );
    assert_eq!(s["projects"]["demo/legacy"]["repositories"], json!({}));
    assert_eq!(s, f.state());
}
