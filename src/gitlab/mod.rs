//! GitLab's REST API v4 and GraphQL API, as registry-gc needs them.
//!
//! [`client`] is the transport (auth, retries, rate limits, pagination, accounting); [`api`] the
//! typed REST endpoints; [`graphql`] the GraphQL operations (tags with dates, batch deletes); [`types`] the response shapes, limited to the fields we read. Nothing here
//! knows a rule: this layer answers questions, the planner decides.

pub mod api;
pub mod client;
pub mod graphql;
pub mod ratelimit;
pub mod stats;
pub mod types;

pub use client::{ApiError, Client};
pub use stats::Counts;
