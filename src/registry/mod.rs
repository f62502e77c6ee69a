//! The container registry itself (distribution's `/v2/` API), read where GitLab cannot show a
//! manifest (design §9). It is not GitLab's API: its own client, token flow, errors and request
//! counts. [`kind`] says what a manifest is, from its bytes alone.

pub mod client;
pub mod kind;
pub mod stats;

pub use client::{Fetched, Identity, Registry, RegistryError};
pub use kind::Kind;
