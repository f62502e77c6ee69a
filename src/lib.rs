//! registry-gc: a garbage collector for GitLab container registries.
//!
//! The flow is one way, and the modules follow it: [`config`] reads the environment; [`scope`]
//! lists the repositories in scope; [`backend`] picks REST or GraphQL for tags; [`facts`] gathers tag lists and details (and, for
//! the `stale-ref` rule, branches and merge requests: [`refs`], slugged by [`slug`]) through the
//! [`gitlab`] client; [`rules`] decides each tag (pure) and [`plan`] applies the rules across
//! repositories; [`delete`] acts; [`policy`] applies GitLab's built-in cleanup policy; [`report`]
//! writes `gc.log`, JUnit and JSON. [`run`] ties them together.

pub mod backend;
pub mod config;
pub mod delete;
pub mod duration;
pub mod facts;
pub mod gitlab;
pub mod http;
pub mod inspect;
pub mod plan;
pub mod policy;
pub mod pool;
pub mod progress;
pub mod protection;
pub mod refs;
pub mod registry;
pub mod report;
pub mod rules;
pub mod run;
pub mod scope;
pub mod signals;
pub mod slug;
