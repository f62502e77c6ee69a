//! Container tag protection rules (GitLab 17.11+, metadata database only), as GitLab
//! matches them: the pattern is RE2 matched **unanchored** (`Gitlab::UntrustedRegexp#match?`
//! is a substring search: `latest` also protects `not-latest`), a rule restricts users
//! below its `minimum_access_level_for_delete` (app/models/container_registry/protection/
//! tag_rule.rb `delete_restricted?`), and an immutable rule (both levels null, EE) blocks
//! everybody, administrators too (gitlab-api.md §5, §13).

use serde_json::{json, Value};

use crate::fixture::ProtectionRuleFixture;

/// GitLab's `ProjectMember` levels as the rules name them.
fn level(text: &str) -> Result<u8, String> {
    match text {
        "maintainer" => Ok(40),
        "owner" => Ok(50),
        "admin" => Ok(60),
        other => Err(format!(
            "access level {other:?} is not maintainer, owner or admin"
        )),
    }
}

fn level_name(level: u8) -> &'static str {
    match level {
        40 => "maintainer",
        50 => "owner",
        _ => "admin",
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TagRule {
    pub id: u64,
    pub pattern: String,
    regex: regex::Regex,
    pub delete_level: Option<u8>,
    pub push_level: Option<u8>,
    pub immutable: bool,
}

impl TagRule {
    pub(crate) fn from_fixture(id: u64, f: &ProtectionRuleFixture) -> Result<TagRule, String> {
        // app/models/container_registry/protection/tag_rule.rb: at most 100 characters,
        // a valid RE2 regex.
        if f.tag_name_pattern.is_empty() || f.tag_name_pattern.chars().count() > 100 {
            return Err(format!(
                "protection rule {:?}: the pattern must have 1 to 100 characters",
                f.tag_name_pattern
            ));
        }
        let regex = regex::Regex::new(&f.tag_name_pattern)
            .map_err(|e| format!("protection rule {:?}: {e}", f.tag_name_pattern))?;
        let parse = |l: &Option<String>| l.as_deref().map(level).transpose();
        let (delete_level, push_level) = if f.immutable {
            if f.minimum_access_level_for_delete.is_some()
                || f.minimum_access_level_for_push.is_some()
            {
                return Err(format!(
                    "protection rule {:?}: an immutable rule has no access levels",
                    f.tag_name_pattern
                ));
            }
            (None, None)
        } else {
            let delete = parse(&f.minimum_access_level_for_delete)?.or(Some(40));
            let push = parse(&f.minimum_access_level_for_push)?.or(Some(40));
            (delete, push)
        };
        Ok(TagRule {
            id,
            pattern: f.tag_name_pattern.clone(),
            regex,
            delete_level,
            push_level,
            immutable: f.immutable,
        })
    }

    /// A rule for exactly one tag name: what an in-memory fixture's `protected` flag means.
    pub(crate) fn exact(id: u64, name: &str) -> TagRule {
        let pattern = format!("^{}$", regex::escape(name));
        TagRule {
            id,
            regex: regex::Regex::new(&pattern).expect("an escaped name is a regex"),
            pattern,
            delete_level: Some(50),
            push_level: Some(50),
            immutable: false,
        }
    }

    pub(crate) fn matches(&self, tag: &str) -> bool {
        self.regex.is_match(tag)
    }

    /// Whether a user with project role `role` may not delete `tag` because of this rule.
    pub(crate) fn blocks_delete(&self, tag: &str, role: u8) -> bool {
        self.matches(tag) && (self.immutable || self.delete_level.is_some_and(|l| role < l))
    }

    /// `GET /projects/:id/registry/protection/tag/rules`
    /// (lib/api/entities/projects/container_registry/protection/tag_rule.rb).
    pub(crate) fn rest_json(&self, project_id: u64) -> Value {
        json!({
            "id": self.id,
            "project_id": project_id,
            "tag_name_pattern": self.pattern,
            "minimum_access_level_for_push": self.push_level.map(level_name),
            "minimum_access_level_for_delete": self.delete_level.map(level_name),
        })
    }

    /// `ContainerProtectionTagRule` in GraphQL (enum values upper-case).
    pub(crate) fn graphql_field(&self, project_gid: u64, field: &str) -> Value {
        let upper = |l: Option<u8>| l.map(|l| level_name(l).to_uppercase());
        match field {
            "id" => json!(format!(
                "gid://gitlab/ContainerRegistry::Protection::TagRule/{}",
                self.id
            )),
            "tagNamePattern" => json!(self.pattern),
            "minimumAccessLevelForPush" => json!(upper(self.push_level)),
            "minimumAccessLevelForDelete" => json!(upper(self.delete_level)),
            "immutable" => json!(self.immutable),
            "projectId" => json!(project_gid),
            _ => Value::Null,
        }
    }
}

/// The strictest protection of a tag among `rules` (GraphQL `protection`): the highest
/// levels of the mutable rules that match; `None` when none does.
pub(crate) fn protection_of<'a>(
    rules: impl Iterator<Item = &'a TagRule>,
    tag: &str,
) -> Option<(Option<u8>, Option<u8>)> {
    let matching: Vec<&TagRule> = rules.filter(|r| r.matches(tag)).collect();
    if matching.is_empty() {
        return None;
    }
    if matching.iter().any(|r| r.immutable) {
        return Some((None, None));
    }
    Some((
        matching.iter().filter_map(|r| r.push_level).max(),
        matching.iter().filter_map(|r| r.delete_level).max(),
    ))
}

pub(crate) fn graphql_level(level: Option<u8>) -> Value {
    json!(level.map(|l| level_name(l).to_uppercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: &str, delete: Option<&str>, immutable: bool) -> TagRule {
        TagRule::from_fixture(
            1,
            &ProtectionRuleFixture {
                tag_name_pattern: pattern.into(),
                minimum_access_level_for_delete: delete.map(String::from),
                minimum_access_level_for_push: None,
                immutable,
            },
        )
        .unwrap()
    }

    #[test]
    fn patterns_match_unanchored_like_gitlab() {
        let r = rule("latest", Some("owner"), false);
        assert!(r.matches("latest") && r.matches("not-latest") && r.matches("latest-2"));
        assert!(
            r.blocks_delete("not-latest", 40),
            "a Maintainer is below owner"
        );
        assert!(!r.blocks_delete("not-latest", 50));
        let i = rule("^v[0-9]", None, true);
        assert!(i.blocks_delete("v1.2.3", 60), "immutable blocks everybody");
        assert!(!i.matches("release-v1"));
    }

    #[test]
    fn the_strictest_rule_wins() {
        let rules = [
            rule("v", Some("maintainer"), false),
            rule("v1", Some("admin"), false),
        ];
        assert_eq!(
            protection_of(rules.iter(), "v1.0"),
            Some((Some(40), Some(60)))
        );
        assert_eq!(protection_of(rules.iter(), "x"), None);
    }
}
