//! Which GitLab API reads tags and deletes them, chosen once at start.
//!
//! REST works on every GitLab from 15.0 on but costs one details request per tag. GraphQL
//! lists tags with their dates 20 at a time and deletes 20 per call, about ten times fewer
//! requests, and knows push times; but it needs a personal (not job) token and a GitLab whose
//! schema has the fields we read. `GC_API=auto` asks the schema once (one small introspection
//! request) and falls back to REST, saying why; `GC_API=graphql` makes an unusable GraphQL a
//! configuration error, before anything is decided or deleted.

use reqwest::Url;

use crate::config::{AgeFrom, ApiChoice, Auth, Config};
use crate::gitlab::graphql::Probe;
use crate::gitlab::{ApiError, Client};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    Rest,
    Graphql {
        url: Url,
        /// The schema has `publishedAt` (GitLab 16.x and later).
        published_at: bool,
        /// The schema has each tag's `userPermissions` and `protection`.
        permissions: bool,
    },
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Rest => "rest",
            Backend::Graphql { .. } => "graphql",
        }
    }
}

/// The backend and the reason it was chosen, for gc.log and the reports.
#[derive(Clone, Debug)]
pub struct Choice {
    pub backend: Backend,
    pub why: String,
}

/// Why the run cannot start; shown as one line, exit code 2.
#[derive(Debug)]
pub enum ChoiceError {
    Config {
        variable: &'static str,
        message: String,
    },
    Interrupted,
}

pub fn choose(client: &Client, config: &Config) -> Result<Choice, ChoiceError> {
    let rest = |why: String| {
        Ok(Choice {
            backend: Backend::Rest,
            why,
        })
    };
    match config.api {
        ApiChoice::Rest => return rest("GC_API=rest".into()),
        ApiChoice::Auto if matches!(config.auth, Auth::Job(_)) => {
            return rest(
                "GC_API=auto with CI_JOB_TOKEN: GitLab's GraphQL API does not accept job tokens"
                    .into(),
            )
        }
        _ => {}
    }
    let Some(url) = config.graphql_url.clone() else {
        // Config refuses GC_API=graphql without a GraphQL URL.
        return rest(
            "GC_API=auto, but CI_API_GRAPHQL_URL is unset and CI_API_V4_URL does not end in /api/v4"
                .into(),
        );
    };
    let unusable = match client.probe_graphql(&url) {
        Ok(Probe::Usable {
            published_at,
            permissions,
        }) => {
            let why = format!(
                "GC_API={}: GraphQL at {} has the tag fields and batch delete{}",
                if config.api == ApiChoice::Auto {
                    "auto"
                } else {
                    "graphql"
                },
                url.path(),
                if published_at {
                    ", and push times"
                } else {
                    " (no push times: publishedAt is missing)"
                }
            );
            return Ok(Choice {
                backend: Backend::Graphql {
                    url,
                    published_at,
                    permissions,
                },
                why,
            });
        }
        Ok(Probe::Unusable(why)) => why,
        Err(ApiError::Interrupted) => return Err(ChoiceError::Interrupted),
        Err(e) => format!("the GraphQL probe failed: {e}"),
    };
    match config.api {
        ApiChoice::Graphql => Err(ChoiceError::Config {
            variable: "GC_API",
            message: format!("graphql cannot be used: {unusable}"),
        }),
        _ => rest(format!("GC_API=auto fell back to REST: {unusable}")),
    }
}

/// The timestamp the age rules judge: `GC_AGE_FROM`, or push times where the backend has them.
pub fn age_from(config: &Config, choice: &Choice) -> Result<AgeFrom, ChoiceError> {
    let has_published = matches!(
        choice.backend,
        Backend::Graphql {
            published_at: true,
            ..
        }
    );
    match config.age_from {
        Some(AgeFrom::Published) if !has_published => Err(ChoiceError::Config {
            variable: "GC_AGE_FROM",
            message: format!(
                "published needs GitLab's push times, which this run cannot read ({})",
                choice.why
            ),
        }),
        Some(from) => Ok(from),
        None if has_published => Ok(AgeFrom::Published),
        None => Ok(AgeFrom::Created),
    }
}
