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
            repos.insert(r.path.clone(), json!(r.tags.names()));
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
