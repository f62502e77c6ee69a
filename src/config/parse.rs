//! Parsers of single values: each takes the variable's name, so every error names it.

use std::fmt;

use super::FullRegex;

/// A configuration problem, shown to the user as one line naming the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.message)
    }
}

impl std::error::Error for ConfigError {}

pub(super) fn err(variable: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: variable.to_string(),
        message: message.into(),
    }
}

pub fn parse_bool(variable: &str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(err(
            variable,
            format!("`{value}` is not a boolean (expected true, false, 1, 0, yes or no)"),
        )),
    }
}

pub(super) fn parse_count(
    variable: &str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<usize, ConfigError> {
    let n: usize = value
        .parse()
        .map_err(|_| err(variable, format!("`{value}` is not a whole number")))?;
    if n < min || n > max {
        return Err(err(
            variable,
            format!("{n} is out of range (expected {min} to {max})"),
        ));
    }
    Ok(n)
}

pub(super) fn parse_regex(variable: &str, value: &str) -> Result<FullRegex, ConfigError> {
    FullRegex::new(value).map_err(|e| {
        // The regex crate's messages span several lines; the first names the problem.
        let detail = e.to_string();
        let last = detail
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("invalid")
            .trim()
            .to_string();
        err(
            variable,
            format!(
                "`{value}` is not a valid regex: {}",
                last.trim_start_matches("error: ")
            ),
        )
    })
}

/// One of a few words, in any case: `expected a, b or c` otherwise.
pub(super) fn parse_choice<T: Copy>(
    variable: &str,
    value: &str,
    choices: &[(&str, T)],
) -> Result<T, ConfigError> {
    let lower = value.to_ascii_lowercase();
    if let Some((_, choice)) = choices.iter().find(|(name, _)| *name == lower) {
        return Ok(*choice);
    }
    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
    let expected = match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    Err(err(
        variable,
        format!("`{value}` is not allowed (expected {expected})"),
    ))
}

pub(super) fn one_of(variable: &str, value: &str, allowed: &[&str]) -> Result<String, ConfigError> {
    if allowed.contains(&value) {
        Ok(value.to_string())
    } else {
        Err(err(
            variable,
            format!(
                "`{value}` is not allowed (GitLab accepts: {})",
                allowed.join(", ")
            ),
        ))
    }
}

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

pub(super) fn parse_api_url(variable: &str, value: &str) -> Result<reqwest::Url, ConfigError> {
    let mut url = reqwest::Url::parse(value)
        .map_err(|e| err(variable, format!("`{value}` is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(err(variable, format!("`{value}` is not an http(s) URL")));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err(err(
            variable,
            "must not contain credentials or a query string",
        ));
    }
    // A trailing slash would double up when paths are appended.
    let trimmed = url.path().trim_end_matches('/').to_string();
    url.set_path(&trimmed);
    Ok(url)
}

/// GitLab serves GraphQL beside REST: `…/api/v4` becomes `…/api/graphql` (relative URL roots
/// included), as CI_API_GRAPHQL_URL is built (lib/gitlab/ci/variables/builder.rb).
pub(super) fn derive_graphql_url(api_url: &reqwest::Url) -> Option<reqwest::Url> {
    let root = api_url.path().strip_suffix("/api/v4")?;
    let mut url = api_url.clone();
    url.set_path(&format!("{root}/api/graphql"));
    Some(url)
}

pub(super) fn parse_id(variable: &str, value: &str) -> Result<String, ConfigError> {
    match value.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id.to_string()),
        _ => Err(err(variable, format!("`{value}` is not a numeric id"))),
    }
}

/// A group is a numeric id or a full path such as `acme/platform`.
pub(super) fn parse_group(variable: &str, value: &str) -> Result<String, ConfigError> {
    let path_ok = value.split('/').all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    });
    if value.parse::<u64>().is_ok_and(|id| id > 0) || path_ok {
        Ok(value.to_string())
    } else {
        Err(err(
            variable,
            format!("`{value}` is neither a numeric group id nor a group path like acme/platform"),
        ))
    }
}
