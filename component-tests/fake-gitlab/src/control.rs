//! `/__fake/...`: control endpoints for tests and scripts that run the fake
//! as a separate process (the demo, benchmarks, shell-driven CI jobs), where
//! the Rust API is out of reach. No authentication, not counted in stats.

use crate::faults::{FaultState, Faults};
use crate::http::{Request, Response};
use crate::state::State;
use crate::Shared;
use serde_json::{json, Map, Value};

pub(crate) fn handle(shared: &Shared, req: &Request) -> Response {
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/__fake/stats") => Response::json(200, &json!(shared.stats())),
        ("POST", "/__fake/stats/reset") => {
            shared.reset_stats();
            Response::new(204, "application/json", "")
        }
        ("GET", "/__fake/faults") => Response::json(200, &json!(shared.faults().config())),
        ("PUT", "/__fake/faults") => match serde_json::from_slice::<Faults>(&req.body) {
            Ok(f) => match f.validate() {
                Ok(()) => {
                    let v = json!(f);
                    *shared.faults() = FaultState::new(f);
                    Response::json(200, &v)
                }
                Err(e) => Response::json(400, &json!({ "error": e })),
            },
            Err(e) => Response::json(400, &json!({ "error": e.to_string() })),
        },
        ("GET", "/__fake/state") => Response::json(200, &state_json(&shared.state())),
        ("GET", "/__fake/registry") => {
            let state = shared.state();
            match state.registry.as_ref() {
                None => Response::json(200, &json!({"mode": "memory"})),
                Some(r) => Response::json(
                    200,
                    &json!({
                        "mode": state.registry_mode().as_str(),
                        "url": r.url(),
                        "config": r.config_path(),
                        "gitlab_version": r.settings.version.to_string(),
                        "disk": r.disk_usage(),
                    }),
                ),
            }
        }
        ("POST", "/__fake/registry/garbage-collect") => {
            let delete_untagged = crate::params::parse_pairs(&req.query)
                .iter()
                .any(|(k, v)| k == "delete_untagged" && v == "true");
            let mut state = shared.state();
            match state.registry.as_mut() {
                None => Response::json(409, &json!({"error": "the registry is in memory"})),
                Some(r) => match r.garbage_collect(delete_untagged) {
                    Ok(gc) => Response::json(200, &json!(gc)),
                    Err(e) => Response::json(500, &json!({ "error": e })),
                },
            }
        }
        ("GET", "/__fake/registry/resolve") => {
            let state = shared.state();
            if state.registry.is_none() {
                return Response::json(409, &json!({"error": "the registry is in memory"}));
            }
            Response::json(200, &json!(state.resolve_all()))
        }
        _ => Response::json(
            404,
            &json!({"error": "unknown control endpoint; see component-tests/fixtures/README.md"}),
        ),
    }
}

/// Projects by path, each with its policy and its repositories' current
/// tag names (sorted).
pub(crate) fn state_json(state: &State) -> Value {
    let mut projects = Map::new();
    for p in state.projects.values() {
        let mut repos = Map::new();
        for rid in &p.repo_ids {
            let r = &state.repos[rid];
            repos.insert(r.path.clone(), json!(state.tags_of_path(&r.path)));
        }
        projects.insert(
            p.full_path.clone(),
            json!({
                "id": p.id,
                "container_registry_access_level": p.registry.as_str(),
                "container_expiration_policy": p.policy.to_json(),
                "repositories": repos,
            }),
        );
    }
    json!({ "projects": projects })
}
