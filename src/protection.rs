//! Protected and immutable tags, known before anything is deleted (gitlab-api.md §5, §13).
//!
//! GitLab refuses to delete a tag that a protection rule guards from this token, or that an
//! immutability rule covers, and says so with a plain `403 Forbidden` that does not tell the
//! two causes (protection, or a role below Developer) apart. So registry-gc learns them first:
//! over GraphQL from each tag's `userPermissions { destroyContainerRepositoryTag }` and
//! `protection` in the listing (no extra request); over REST from the project's rules
//! (`GET /projects/:id/registry/protection/tag/rules`, GitLab 18.7+, Maintainer, mutable rules
//! only), one request per project, read while the tags are gathered (`facts`) and matched as
//! GitLab matches them: RE2, unanchored (`Gitlab::UntrustedRegexp#match?`). A matching tag is
//! `protected` without its details or a DELETE attempt, and a dry run does not list it as
//! would-delete. A 404 (older GitLab) or 403 (below
//! Maintainer) on the rules means "unknown": GitLab's answer to the DELETE decides.

use std::sync::Arc;

use crate::gitlab::graphql::Tag;
use crate::gitlab::types::TagRule as ApiRule;
use crate::gitlab::{ApiError, Client};

/// Why this token may not delete a tag GraphQL listed, from its `userPermissions`.
pub fn from_listing(tag: &Tag) -> Option<Arc<str>> {
    let allowed = tag
        .user_permissions
        .as_ref()?
        .destroy_container_repository_tag?;
    if allowed {
        return None;
    }
    let why = match tag.protection.as_ref() {
        Some(p) => match &p.minimum_access_level_for_delete {
            Some(level) => format!(
                "GitLab says this token may not delete it: a tag protection rule lets only {} and above",
                level.to_ascii_lowercase()
            ),
            None => "GitLab says this token may not delete it: an immutable tag rule".to_string(),
        },
        None => "GitLab says this token may not delete it (userPermissions): a protection or immutability rule, or a role below Developer".to_string(),
    };
    Some(why.into())
}

/// One project's rules, compiled.
#[derive(Debug)]
pub enum Rules {
    Known(Vec<Compiled>),
    /// Not readable (older GitLab, below Maintainer): the DELETE's answer decides.
    Unknown(String),
}

#[derive(Debug)]
pub struct Compiled {
    pattern: String,
    regex: regex::Regex,
    delete_level: Option<String>,
}

impl Compiled {
    /// A rule that keeps this token from deleting `tag`. The rules can only be read by a
    /// Maintainer or above, so a `maintainer` rule does not; `owner` and `admin` rules are
    /// taken to (whether the token is Owner is not known: the safe reading).
    fn blocks(&self, tag: &str) -> bool {
        self.regex.is_match(tag)
            && !self
                .delete_level
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case("maintainer"))
    }
}

pub fn compile(rules: &[ApiRule]) -> Rules {
    let mut compiled = Vec::new();
    for rule in rules {
        match regex::Regex::new(&rule.tag_name_pattern) {
            Ok(regex) => compiled.push(Compiled {
                pattern: rule.tag_name_pattern.clone(),
                regex,
                delete_level: rule.minimum_access_level_for_delete.clone(),
            }),
            // A pattern GitLab accepted but the regex crate does not: it may protect anything.
            Err(e) => {
                return Rules::Unknown(format!(
                    "protection rule `{}` is not a regex registry-gc can match ({e})",
                    rule.tag_name_pattern
                ))
            }
        }
    }
    Rules::Known(compiled)
}

impl Rules {
    /// Why `tag` is protected from this token, if a rule says so.
    pub fn protecting(&self, tag: &str) -> Option<String> {
        let Rules::Known(rules) = self else {
            return None;
        };
        let rule = rules.iter().find(|r| r.blocks(tag))?;
        Some(format!(
            "tag protection rule `{}` matches it (delete: {})",
            rule.pattern,
            rule.delete_level.as_deref().unwrap_or("nobody")
        ))
    }
}

/// A project's rules, compiled; `Unknown` (why) where they cannot be read.
pub fn read(client: &Client, project: u64) -> Rules {
    match client.list_tag_protection_rules(project) {
        Ok(Some(rules)) => compile(&rules),
        Ok(None) => Rules::Unknown(
            "the rules cannot be read here (GitLab before 18.7, or a role below Maintainer)".into(),
        ),
        Err(e) => Rules::Unknown(e.to_string()),
    }
}

impl Client {
    /// `GET /projects/:id/registry/protection/tag/rules`; `None` where GitLab does not have the
    /// endpoint (404, before 18.7) or the token may not read it (403).
    pub fn list_tag_protection_rules(
        &self,
        project: u64,
    ) -> Result<Option<Vec<ApiRule>>, ApiError> {
        let url = self.url(&[
            "projects",
            &project.to_string(),
            "registry",
            "protection",
            "tag",
            "rules",
        ]);
        match self
            .get_json::<Vec<ApiRule>>(crate::gitlab::stats::Endpoint::ListTagProtectionRules, &url)
        {
            Ok(rules) => Ok(Some(rules)),
            Err(ApiError::Status {
                status: 403 | 404, ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: &str, delete: Option<&str>) -> ApiRule {
        ApiRule {
            tag_name_pattern: pattern.into(),
            minimum_access_level_for_delete: delete.map(String::from),
        }
    }

    #[test]
    fn rules_match_unanchored_and_a_maintainer_rule_does_not_block_a_maintainer() {
        let rules = compile(&[
            rule("stable", Some("owner")),
            rule("^v[0-9]", Some("maintainer")),
        ]);
        assert!(
            rules.protecting("not-stable-2").is_some(),
            "unanchored, as GitLab"
        );
        assert!(
            rules.protecting("v1.0").is_none(),
            "readable rules mean Maintainer or above"
        );
        assert!(rules.protecting("latest").is_none());
        let unreadable = compile(&[rule("(?<=x)y", Some("owner"))]);
        assert!(matches!(unreadable, Rules::Unknown(_)));
    }
}
