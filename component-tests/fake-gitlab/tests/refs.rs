//! Branches and merge requests over real HTTP: what GitLab answers, page by page, and to whom.

mod common;

use common::*;
use fake_gitlab::{FakeGitlab, Fixture};
use serde_json::json;

fn fixture(branches: usize) -> Fixture {
    let mut list: Vec<serde_json::Value> = (0..branches)
        .map(|i| json!({"name": format!("feature/b-{i:03}")}))
        .collect();
    list.push(json!({"name": "main", "protected": true}));
    Fixture::from_json(
        &json!({
            "tokens": [{"token": "glpat-demo-token", "scopes": ["api"]},
                       {"token": "glpat-demo-readonly", "scopes": ["read_api"]}],
            "job_tokens": [{"token": "demo-job-token", "project_id": 1}],
            "projects": [
                {"id": 1, "path": "g/p", "branches": list, "merge_requests": [
                    {"iid": 1, "state": "merged", "source_branch": "feature/b-000", "age": "9d"},
                    {"iid": 2, "state": "opened", "source_branch": "feature/b-001", "age": "8d"},
                    {"iid": 3, "state": "closed", "source_branch": "x", "age": "7d"},
                    {"iid": 4, "state": "locked", "source_branch": "y", "age": "6d"},
                    {"iid": 5, "source_branch": "topic", "source_project_id": 9, "age": "5d"}
                ]},
                {"id": 2, "path": "g/guest", "access_level": 10},
                {"id": 3, "path": "g/empty", "branches": []}
            ]
        })
        .to_string(),
    )
    .unwrap()
}

#[test]
fn branches_are_sorted_by_name_paginated_as_an_array_and_mark_the_default() {
    let f = FakeGitlab::start(fixture(149));
    let r = get(&f, "/projects/1/repository/branches?per_page=100");
    assert_eq!(r.status, 200);
    let names = r.names();
    assert_eq!(names.len(), 100);
    assert_eq!(names[0], "feature/b-000");
    assert_eq!(r.header("x-total"), Some("150"));
    assert_eq!(r.header("x-total-pages"), Some("2"));
    assert_eq!(r.header("x-next-page"), Some("2"));
    let page2 = get(&f, "/projects/1/repository/branches?per_page=100&page=2");
    assert_eq!(page2.names().len(), 50);
    assert_eq!(page2.names().last().unwrap(), "main");
    assert_eq!(page2.header("x-next-page"), Some(""));
    let main = &page2.json()[49];
    assert_eq!(main["default"], true);
    assert_eq!(main["protected"], true);
    assert_eq!(main["commit"]["id"].as_str().unwrap().len(), 40);
    assert_eq!(r.json()[0]["default"], false);
    // The project's default_branch matches; a project without branches in the fixture has
    // its default branch alone, an empty repository none.
    assert_eq!(get(&f, "/projects/1").json()["default_branch"], "main");
    assert_eq!(get(&f, "/projects/3/repository/branches").json(), json!([]));
    assert_eq!(
        get(&f, "/projects/3").json()["default_branch"],
        serde_json::Value::Null
    );
    assert_eq!(
        f.stats().endpoint("GET /projects/:id/repository/branches"),
        3
    );
}

#[test]
fn merge_requests_filter_by_state_newest_first() {
    let f = FakeGitlab::start(fixture(2));
    let iids = |path: &str| -> Vec<u64> {
        get(&f, path)
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|mr| mr["iid"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(iids("/projects/1/merge_requests"), [5, 4, 3, 2, 1], "all");
    assert_eq!(
        iids("/projects/1/merge_requests?state=opened"),
        [5, 2],
        "a locked merge request is not opened"
    );
    assert_eq!(iids("/projects/1/merge_requests?state=merged"), [1]);
    assert_eq!(
        iids("/projects/1/merge_requests?state=opened&sort=asc"),
        [2, 5]
    );
    let opened = get(&f, "/projects/1/merge_requests?state=opened").json();
    assert_eq!(opened[0]["source_branch"], "topic");
    assert_eq!(opened[0]["source_project_id"], 9);
    assert_eq!(opened[0]["target_project_id"], 1);
    assert_eq!(opened[0]["target_branch"], "main");
    let simple = get(&f, "/projects/1/merge_requests?view=simple").json();
    assert!(simple[0].get("source_branch").is_none(), "{simple}");
    assert_eq!(simple[0]["iid"], 5);

    let r = get(&f, "/projects/1/merge_requests?state=open");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"error": "state does not have a valid value"})
    );
    let r = get(&f, "/projects/1/merge_requests?per_page=2&state=all");
    assert_eq!(r.header("x-total"), Some("5"));
    assert_eq!(r.header("x-next-page"), Some("2"));
}

#[test]
fn job_tokens_and_guests_cannot_list_branches_or_merge_requests() {
    let f = FakeGitlab::start(fixture(2));
    for path in [
        "/projects/1/repository/branches",
        "/projects/1/merge_requests?state=opened",
    ] {
        // GitLab ignores a job token on these routes: anonymous, and the project is private.
        let r = get_as(&f, path, JOB);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json(), json!({"message": "404 Project Not Found"}));
        assert_eq!(get_as(&f, path, READONLY).status, 200, "read_api reads");
        assert_eq!(
            get_as(&f, path, ("PRIVATE-TOKEN", "glpat-unknown")).status,
            401
        );
    }
    assert_eq!(get(&f, "/projects/2/repository/branches").status, 403);
    assert_eq!(get(&f, "/projects/2/merge_requests").status, 403);
    assert_eq!(get(&f, "/projects/99/repository/branches").status, 404);
}

#[test]
fn bad_git_fixtures_are_refused() {
    for bad in [
        json!({"projects": [{"id": 1, "path": "g/p", "default_branch": "dev", "branches": [{"name": "main"}]}]}),
        json!({"projects": [{"id": 1, "path": "g/p", "branches": [{"name": "main"}, {"name": "main"}]}]}),
        json!({"projects": [{"id": 1, "path": "g/p", "merge_requests": [{"iid": 1, "source_branch": "a", "state": "draft"}]}]}),
        json!({"projects": [{"id": 1, "path": "g/p", "merge_requests": [{"iid": 1, "source_branch": "a"}, {"iid": 1, "source_branch": "b"}]}]}),
        json!({"projects": [{"id": 1, "path": "g/p", "branches": [{"name": "main", "default": true}]}]}),
    ] {
        assert!(Fixture::from_json(&bad.to_string()).is_err(), "{bad}");
    }
}
