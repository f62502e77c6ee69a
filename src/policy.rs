//! Applying GitLab's built-in `container_expiration_policy` to the projects in scope.
//!
//! GitLab has no group-level cleanup policy; applying one setting to every project of a group
//! makes one. The apply is idempotent: the current policy is compared field by field with the
//! desired one and `PUT /projects/:id` is sent only when something differs, so a second run sends
//! no write at all. The diff itself is pure ([`diff`]) and is what dry-run shows.

use std::fmt;

use serde::Serialize;
use serde_json::json;

use crate::config::PolicySettings;
use crate::gitlab::types::{ExpirationPolicy, Project};
use crate::gitlab::Client;

/// One field that differs: `keep_n: 10 → 25`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: &'static str,
    pub from: String,
    pub to: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} → {}", self.field, self.from, self.to)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Status {
    Unchanged,
    WouldChange,
    Changed { next_run_at: Option<String> },
    Failed { error: String },
}

#[derive(Clone, Debug, Serialize)]
pub struct PolicyResult {
    pub project_id: u64,
    pub project_path: String,
    pub changes: Vec<Change>,
    #[serde(flatten)]
    pub status: Status,
}

impl PolicyResult {
    pub fn diff_text(&self) -> String {
        self.changes
            .iter()
            .map(Change::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn show<T: ToString>(value: &Option<T>) -> String {
    value
        .as_ref()
        .map_or_else(|| "null".to_string(), ToString::to_string)
}

/// The fields of `current` that differ from `desired`, in GitLab's attribute names.
pub fn diff(current: &ExpirationPolicy, desired: &PolicySettings) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut check = |field: &'static str, from: String, to: String| {
        if from != to {
            changes.push(Change { field, from, to });
        }
    };
    check(
        "enabled",
        show(&current.enabled),
        desired.enabled.to_string(),
    );
    check("cadence", show(&current.cadence), desired.cadence.clone());
    check("keep_n", show(&current.keep_n), desired.keep_n.to_string());
    check(
        "older_than",
        show(&current.older_than),
        desired.older_than.clone(),
    );
    check(
        "name_regex",
        show(&current.name_regex),
        desired.name_regex.clone(),
    );
    check(
        "name_regex_keep",
        show(&current.name_regex_keep),
        desired.name_regex_keep.clone(),
    );
    changes
}

/// The `PUT /projects/:id` body. GitLab's Grape helper declares `name_regex` (not the
/// documented `name_regex_delete`): lib/api/helpers/projects_helpers.rb.
pub fn body(desired: &PolicySettings) -> serde_json::Value {
    json!({
        "container_expiration_policy_attributes": {
            "enabled": desired.enabled,
            "cadence": desired.cadence,
            "keep_n": desired.keep_n,
            "older_than": desired.older_than,
            "name_regex": desired.name_regex,
            "name_regex_keep": desired.name_regex_keep,
        }
    })
}

/// Compares and, unless `dry_run`, updates one project. `project` may come from a listing; if
/// the listing did not include the policy, it is read with `GET /projects/:id`.
pub fn apply_one(
    client: &Client,
    project: &Project,
    desired: &PolicySettings,
    dry_run: bool,
) -> PolicyResult {
    let result = |changes, status| PolicyResult {
        project_id: project.id,
        project_path: project.path_with_namespace.clone(),
        changes,
        status,
    };
    let current = match &project.container_expiration_policy {
        Some(policy) => policy.clone(),
        None => match client.get_project(&project.id.to_string()) {
            Ok(p) => p.container_expiration_policy.unwrap_or_default(),
            Err(e) => {
                return result(
                    Vec::new(),
                    Status::Failed {
                        error: e.to_string(),
                    },
                )
            }
        },
    };
    let changes = diff(&current, desired);
    if changes.is_empty() {
        return result(changes, Status::Unchanged);
    }
    if dry_run {
        return result(changes, Status::WouldChange);
    }
    match client.update_project(project.id, &body(desired)) {
        Err(e) => result(
            changes,
            Status::Failed {
                error: e.to_string(),
            },
        ),
        Ok(saved) => {
            let saved = saved.container_expiration_policy.unwrap_or_default();
            let left = diff(&saved, desired);
            if left.is_empty() {
                result(
                    changes,
                    Status::Changed {
                        next_run_at: saved.next_run_at,
                    },
                )
            } else {
                let detail = left
                    .iter()
                    .map(Change::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                result(
                    changes,
                    Status::Failed {
                        error: format!(
                            "GitLab accepted the update but saved something else ({detail})"
                        ),
                    },
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> PolicySettings {
        PolicySettings {
            enabled: true,
            cadence: "7d".into(),
            keep_n: 25,
            older_than: "14d".into(),
            name_regex: ".*".into(),
            name_regex_keep: "main|v.*".into(),
        }
    }

    #[test]
    fn diff_lists_each_differing_field_in_gitlab_terms() {
        let current = ExpirationPolicy {
            cadence: Some("1d".into()),
            enabled: Some(false),
            keep_n: Some(10),
            older_than: Some("90d".into()),
            name_regex: Some(".*".into()),
            name_regex_keep: None,
            next_run_at: None,
        };
        let text: Vec<String> = diff(&current, &desired())
            .iter()
            .map(Change::to_string)
            .collect();
        assert_eq!(
            text,
            [
                "enabled: false → true",
                "cadence: 1d → 7d",
                "keep_n: 10 → 25",
                "older_than: 90d → 14d",
                "name_regex_keep: null → main|v.*"
            ]
        );
    }

    #[test]
    fn an_equal_policy_has_no_diff() {
        let d = desired();
        let current = ExpirationPolicy {
            cadence: Some(d.cadence.clone()),
            enabled: Some(true),
            keep_n: Some(25),
            older_than: Some(d.older_than.clone()),
            name_regex: Some(d.name_regex.clone()),
            name_regex_keep: Some(d.name_regex_keep.clone()),
            next_run_at: Some("2026-11-25T00:00:00Z".into()),
        };
        assert!(diff(&current, &d).is_empty());
    }

    #[test]
    fn body_uses_name_regex_not_name_regex_delete() {
        let b = body(&desired()).to_string();
        assert!(b.contains("\"name_regex\"") && !b.contains("name_regex_delete"));
    }
}
