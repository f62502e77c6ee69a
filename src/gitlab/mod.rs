//! GitLab's REST API v4, as registry-gc needs it.
//!
//! [`client`] is the transport (auth, retries, rate limits, pagination, accounting); [`api`] the
//! typed endpoints; [`types`] the response shapes, limited to the fields we read. Nothing here
//! knows a rule: this layer answers questions, the planner decides.

pub mod api;
pub mod client;
pub mod ratelimit;
pub mod stats;
pub mod types;

pub use client::{ApiError, Client};
pub use stats::Counts;
