//! `container_expiration_policy`: GitLab's defaults, its model validation
//! and its schedule reset, so a client's PUT is accepted or refused exactly
//! where GitLab would accept or refuse it.
//!
//! Sources:
//! - validations and option lists: app/models/container_expiration_policy.rb
//!   (`validates :cadence, presence, inclusion`, `older_than`/`keep_n`
//!   inclusion with `allow_nil`, `name_regex` presence and `untrusted_regexp`
//!   when enabled, `name_regex_keep` `untrusted_regexp` when enabled);
//! - the RE2 error text: app/validators/untrusted_regexp_validator.rb
//!   ("not valid RE2 syntax: ...");
//! - defaults for a new project: migrations UpdateContainerExpirationPoliciesDefaults
//!   (cadence 1d, keep_n 10, older_than 90d) and
//!   SetRegexDefaultsOnContainerExpirationPolicies (name_regex `.*`,
//!   enabled false), matching the doc/api/projects.md example response;
//! - the schedule: app/models/concerns/schedulable.rb runs `set_next_run_at`
//!   (now + ChronicDuration(cadence)) before every save, and Rails saves the
//!   nested record only when an attribute changed.

use crate::clock;
use serde_json::{json, Map, Value};

/// `cadence_options` of the model.
pub(crate) const CADENCES: [&str; 5] = ["1d", "7d", "14d", "1month", "3month"];
/// `keep_n_options` of the model.
pub(crate) const KEEP_N: [i64; 6] = [1, 5, 10, 25, 50, 100];
/// `older_than_options`. `60d` is not in the model copies indexed by the
/// search tool, but GitLab added it in Sep 2021 (commit c7be549c "Add option
/// of 60 days", gitlab#353047 lists 7/14/30/60/90), so it is accepted here.
pub(crate) const OLDER_THAN: [&str; 5] = ["7d", "14d", "30d", "60d", "90d"];

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Policy {
    pub cadence: String,
    pub enabled: bool,
    pub keep_n: Option<i64>,
    pub older_than: Option<String>,
    pub name_regex: Option<String>,
    pub name_regex_keep: Option<String>,
    pub next_run_at_ms: Option<i64>,
}

/// ChronicDuration's reading of a cadence, with 30-day months.
pub(crate) fn cadence_ms(cadence: &str) -> Option<i64> {
    let day = 86_400_000;
    Some(match cadence {
        "1d" => day,
        "7d" => 7 * day,
        "14d" => 14 * day,
        "1month" => 30 * day,
        "3month" => 90 * day,
        _ => return None,
    })
}

/// The model's `enabled` is a boolean column; `nil` fails its inclusion
/// validation, hence the tri-state while validating.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attrs {
    pub cadence: Option<Option<String>>,
    pub enabled: Option<Option<bool>>,
    pub keep_n: Option<Option<i64>>,
    pub older_than: Option<Option<String>>,
    pub name_regex: Option<Option<String>>,
    pub name_regex_keep: Option<Option<String>>,
}

impl Policy {
    /// GitLab's policy for a project created at `created_ms`.
    pub(crate) fn new_project_default(created_ms: i64) -> Policy {
        Policy {
            cadence: "1d".to_string(),
            enabled: false,
            keep_n: Some(10),
            older_than: Some("90d".to_string()),
            name_regex: Some(".*".to_string()),
            name_regex_keep: None,
            next_run_at_ms: Some(created_ms + 86_400_000),
        }
    }

    /// Overlays a fixture's attributes on the defaults. Fixtures are not
    /// validated against the model: a fixture may describe a policy saved by
    /// an older GitLab.
    pub(crate) fn from_fixture(created_ms: i64, m: &Map<String, Value>) -> Result<Policy, String> {
        let mut p = Policy::new_project_default(created_ms);
        let opt_str = |k: &str, v: &Value| -> Result<Option<String>, String> {
            match v {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s.clone())),
                _ => Err(format!(
                    "container_expiration_policy.{k} must be a string or null"
                )),
            }
        };
        let mut next_run_given = None;
        for (k, v) in m {
            match k.as_str() {
                "cadence" => {
                    p.cadence = opt_str(k, v)?
                        .ok_or("container_expiration_policy.cadence cannot be null")?
                }
                "enabled" => {
                    p.enabled = v
                        .as_bool()
                        .ok_or("container_expiration_policy.enabled must be a boolean")?
                }
                "keep_n" => {
                    p.keep_n = match v {
                        Value::Null => None,
                        _ => Some(v.as_i64().ok_or(
                            "container_expiration_policy.keep_n must be an integer or null",
                        )?),
                    }
                }
                "older_than" => p.older_than = opt_str(k, v)?,
                "name_regex" => p.name_regex = opt_str(k, v)?,
                "name_regex_keep" => p.name_regex_keep = opt_str(k, v)?,
                "next_run_at" => {
                    next_run_given = Some(match v {
                        Value::Null => None,
                        Value::String(s) => Some(clock::parse_rfc3339_utc(s).ok_or_else(|| {
                            format!("container_expiration_policy.next_run_at: bad time {s:?}")
                        })?),
                        _ => {
                            return Err(
                                "container_expiration_policy.next_run_at must be a string or null"
                                    .into(),
                            )
                        }
                    })
                }
                other => {
                    return Err(format!(
                        "container_expiration_policy: unknown attribute {other:?}"
                    ))
                }
            }
        }
        p.next_run_at_ms = match next_run_given {
            Some(given) => given,
            None => cadence_ms(&p.cadence).map(|c| created_ms + c),
        };
        Ok(p)
    }

    /// As lib/api/entities/container_expiration_policy.rb exposes it.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "cadence": self.cadence,
            "enabled": self.enabled,
            "keep_n": self.keep_n,
            "older_than": self.older_than,
            "name_regex": self.name_regex,
            "name_regex_keep": self.name_regex_keep,
            "next_run_at": self.next_run_at_ms.map(clock::rfc3339_z),
        })
    }

    /// Applies `attrs` as Rails would: assign, validate the whole record,
    /// save only if something changed. Returns the new policy, or the errors
    /// keyed as the autosaved association reports them
    /// (`container_expiration_policy.cadence`).
    pub(crate) fn updated(&self, attrs: &Attrs, now_ms: i64) -> Result<Policy, Map<String, Value>> {
        let mut cadence = Some(self.cadence.clone());
        let mut enabled = Some(self.enabled);
        let mut next = self.clone();
        if let Some(v) = &attrs.cadence {
            cadence = v.clone();
        }
        if let Some(v) = attrs.enabled {
            enabled = v;
        }
        if let Some(v) = attrs.keep_n {
            next.keep_n = v;
        }
        if let Some(v) = &attrs.older_than {
            next.older_than = v.clone();
        }
        if let Some(v) = &attrs.name_regex {
            next.name_regex = v.clone();
        }
        if let Some(v) = &attrs.name_regex_keep {
            next.name_regex_keep = v.clone();
        }

        let mut errors: Vec<(&str, String)> = Vec::new();
        if enabled.is_none() {
            errors.push(("enabled", "is not included in the list".into()));
        }
        match cadence.as_deref() {
            None | Some("") => {
                errors.push(("cadence", "can't be blank".into()));
                errors.push(("cadence", "is not included in the list".into()));
            }
            Some(c) if !CADENCES.contains(&c) => {
                errors.push(("cadence", "is not included in the list".into()))
            }
            _ => {}
        }
        if let Some(o) = &next.older_than {
            if !OLDER_THAN.contains(&o.as_str()) {
                errors.push(("older_than", "is not included in the list".into()));
            }
        }
        if let Some(k) = next.keep_n {
            if !KEEP_N.contains(&k) {
                errors.push(("keep_n", "is not included in the list".into()));
            }
        }
        if enabled == Some(true) {
            if !matches!(next.name_regex.as_deref(), Some(r) if !r.trim().is_empty()) {
                errors.push(("name_regex", "can't be blank".into()));
            }
            for (key, value) in [
                ("name_regex", &next.name_regex),
                ("name_regex_keep", &next.name_regex_keep),
            ] {
                if let Some(re) = value {
                    if let Err(e) = re2_check(re) {
                        errors.push((key, format!("not valid RE2 syntax: {e}")));
                    }
                }
            }
        }
        if !errors.is_empty() {
            let mut m = Map::new();
            for (k, msg) in errors {
                let entry = m
                    .entry(format!("container_expiration_policy.{k}"))
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = entry {
                    a.push(Value::String(msg));
                }
            }
            return Err(m);
        }
        next.cadence = cadence.unwrap_or_default();
        next.enabled = enabled.unwrap_or_default();
        if next != *self {
            next.next_run_at_ms = cadence_ms(&next.cadence).map(|c| now_ms + c);
        }
        Ok(next)
    }
}

/// GitLab compiles these with RE2 (`Gitlab::UntrustedRegexp`). The `regex`
/// crate's syntax is close to RE2's (no backreferences, no lookaround, both
/// reject them); the main known gap is RE2's `\Q...\E`, which this rejects.
/// The error text is the `regex` crate's, not RE2's.
fn re2_check(re: &str) -> Result<(), String> {
    regex::Regex::new(re).map(|_| ()).map_err(|e| match e {
        regex::Error::Syntax(s) => s.lines().last().unwrap_or("invalid").trim().to_string(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_a_new_projects() {
        let p = Policy::new_project_default(0);
        assert_eq!(
            p.to_json(),
            json!({"cadence": "1d", "enabled": false, "keep_n": 10, "older_than": "90d",
                   "name_regex": ".*", "name_regex_keep": null,
                   "next_run_at": "1970-01-02T00:00:00.000Z"})
        );
    }

    #[test]
    fn unchanged_save_keeps_schedule() {
        let p = Policy::new_project_default(0);
        let attrs = Attrs {
            cadence: Some(Some("1d".into())),
            ..Attrs::default()
        };
        assert_eq!(
            p.updated(&attrs, 1_000_000).unwrap().next_run_at_ms,
            p.next_run_at_ms
        );
        let attrs = Attrs {
            cadence: Some(Some("7d".into())),
            ..Attrs::default()
        };
        assert_eq!(
            p.updated(&attrs, 1_000_000).unwrap().next_run_at_ms,
            Some(1_000_000 + 7 * 86_400_000)
        );
    }

    #[test]
    fn errors_are_keyed_by_association() {
        let p = Policy::new_project_default(0);
        let attrs = Attrs {
            cadence: Some(Some("2d".into())),
            enabled: Some(Some(true)),
            name_regex_keep: Some(Some("(".into())),
            ..Attrs::default()
        };
        let e = p.updated(&attrs, 0).unwrap_err();
        assert_eq!(
            e["container_expiration_policy.cadence"],
            json!(["is not included in the list"])
        );
        assert!(e["container_expiration_policy.name_regex_keep"][0]
            .as_str()
            .unwrap()
            .starts_with("not valid RE2 syntax: "));
    }
}
