//! What the rules know of a tag and of its repository: GitLab's details, a cache's
//! counterpart, the ref a tag is named after. Compact, since a plan holds one per tag.

use std::collections::HashSet;
use std::fmt;
use std::num::NonZeroU32;

use jiff::Timestamp;
use serde::Serialize;

use crate::config::AgeFrom;

/// What the tag's details request told us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Details {
    /// Not requested: no rule needs it (see [`needs_details`]).
    NotFetched,
    /// 404: GitLab could not read the manifest, which proves nothing by itself (gitlab-api.md
    /// §12–§13: every OCI index answers so without the metadata database, and GitLab's own
    /// partial-name lookup can miss an existing tag with it).
    Missing,
    Found(TagInfo),
    /// A 5xx that persisted after the retries (GitLab 19.0.2–19.1 answer 500 for every
    /// multi-arch tag): unknown, never evidence.
    Unavailable(String),
    /// The request failed; nothing may be concluded.
    Failed(String),
}

/// What makes a tag `broken` in this run: where the registry is read, only what it holds;
/// where it is not, GitLab's 404 if that is all there is (design §3, §9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    Inspected,
    /// The registry is not read (why), and nothing says it has GitLab's metadata database:
    /// a 404 on details is broken, as the seed's rule had it.
    DetailsOnly(std::sync::Arc<str>),
    /// The registry is not read (why), and it has GitLab's metadata database, where a 404 on
    /// details proves nothing: such tags are kept.
    Nothing(std::sync::Arc<str>),
}

impl Default for Evidence {
    fn default() -> Evidence {
        Evidence::DetailsOnly("not inspected".into())
    }
}

/// What the registry said of a tag GitLab could not show (design §9).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Inspected {
    /// Not read: GitLab's facts suffice, or inspection is off.
    #[default]
    No,
    /// Only the digest it serves for the tag (a repository with referrers needs every
    /// tag's, to find their subjects). Boxed: every tag holds an `Inspected`, few a digest.
    Digest(Box<Digest>),
    Read(Box<Inspection>),
    /// The registry could not be read for it: nothing is concluded, the tag is kept. (A thin
    /// box, for the same reason.)
    Failed(Box<String>),
}

/// A manifest as the registry serves it, reduced to what the rules and reports use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    pub kind: crate::registry::Kind,
    pub media_type: Box<str>,
    pub digest: Digest,
    /// An index's platform manifests and buildx attestations.
    pub platforms: u16,
    pub attestations: u16,
    /// What a referrer describes.
    pub subject: Option<Digest>,
    /// An index's age (its `org.opencontainers.image.created`, else the config `created` of
    /// its first platform), when an age rule needed it.
    pub created: Option<Time>,
    /// Why a `missing` tag is missing.
    pub missing: Option<Box<str>>,
}

impl Inspected {
    pub fn read(&self) -> Option<&Inspection> {
        match self {
            Inspected::Read(i) => Some(i),
            _ => None,
        }
    }

    /// The digest the registry serves for the tag, if it was asked.
    pub fn digest(&self) -> Option<&Digest> {
        match self {
            Inspected::Digest(d) => Some(&**d),
            Inspected::Read(i) if i.kind != crate::registry::Kind::Missing => Some(&i.digest),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TagInfo {
    /// The image config's build time; null for manifests without one (indexes, caches).
    pub created_at: Option<Time>,
    /// The push time: GraphQL on registries with GitLab's metadata database only.
    pub published_at: Option<Time>,
    pub digest: Option<Digest>,
    pub size: Option<u64>,
}

impl TagInfo {
    /// The timestamp the age rules judge, and which one it is.
    pub fn age(&self, from: AgeFrom) -> Option<(Timestamp, AgeFrom)> {
        match (from, self.published_at, self.created_at) {
            (AgeFrom::Published, Some(published), _) => {
                Some((published.into(), AgeFrom::Published))
            }
            (_, _, Some(created)) => Some((created.into(), AgeFrom::Created)),
            _ => None,
        }
    }
}

/// A point in time in 12 bytes, `Option` included (a `Timestamp` takes 16, its `Option` 24): a
/// plan keeps two per tag. Converts to and from `Timestamp` exactly.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Time {
    /// The seconds since the epoch, as two halves: 4-byte alignment keeps the struct at 12.
    low: u32,
    high: i32,
    /// `subsec_nanosecond` (negative before the epoch) plus 10⁹: never zero, which is what
    /// `None` is then.
    nanos: NonZeroU32,
}

const NANOS: i32 = 1_000_000_000;

impl From<Timestamp> for Time {
    fn from(t: Timestamp) -> Time {
        let second = t.as_second();
        let nanos = (t.subsec_nanosecond() + NANOS) as u32;
        Time {
            low: second as u32,
            high: (second >> 32) as i32,
            nanos: NonZeroU32::new(nanos).expect("|subsec_nanosecond| < 10⁹"),
        }
    }
}

impl From<Time> for Timestamp {
    fn from(t: Time) -> Timestamp {
        let second = (i64::from(t.high) << 32) | i64::from(t.low);
        let nanos = t.nanos.get() as i32 - NANOS;
        Timestamp::new(second, nanos).expect("made from a valid Timestamp")
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Timestamp::from(*self).fmt(f)
    }
}

impl fmt::Debug for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Timestamp::from(*self).fmt(f)
    }
}

/// A manifest digest as GitLab wrote it. Nearly always `sha256:` and 64 lowercase hex digits:
/// those are kept as the 32 bytes they spell (a plan holds one per tag, and 71 characters on
/// the heap each add up), and written back identically; anything else is kept as it came.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Digest {
    Sha256([u8; 32]),
    Other(Box<str>),
}

impl Digest {
    fn sha256(text: &str) -> Option<[u8; 32]> {
        let hex = text.strip_prefix("sha256:")?.as_bytes();
        if hex.len() != 64 {
            return None;
        }
        // Lowercase only: uppercase digits would not be written back as they came.
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut bytes = [0; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
            *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
        }
        Some(bytes)
    }
}

impl From<String> for Digest {
    fn from(text: String) -> Digest {
        match Digest::sha256(&text) {
            Some(bytes) => Digest::Sha256(bytes),
            None => Digest::Other(text.into_boxed_str()),
        }
    }
}

impl From<&str> for Digest {
    fn from(text: &str) -> Digest {
        match Digest::sha256(text) {
            Some(bytes) => Digest::Sha256(bytes),
            None => Digest::Other(text.into()),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Digest::Sha256(bytes) => {
                f.write_str("sha256:")?;
                bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
            Digest::Other(text) => f.write_str(text),
        }
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Details {
    pub fn info(&self) -> Option<&TagInfo> {
        match self {
            Details::Found(info) => Some(info),
            _ => None,
        }
    }
}

/// What is known of a cache repository's counterpart (`app.cache` → `app`).
#[derive(Clone, Debug)]
pub enum Counterpart<'a> {
    /// Not a cache repository, or the orphan-cache rule is off.
    NotApplicable,
    /// The counterpart would live outside this project, where this run does not look.
    Outside { path: String },
    /// Its state is unknown (its tag list failed, or it is being deleted): decide nothing on it.
    Unknown { path: String, why: String },
    /// The project has no repository at that path.
    Missing { path: String },
    /// The counterpart exists: the tags it has now, and those this run deletes from it.
    Present {
        path: String,
        tags: &'a HashSet<&'a str>,
        deleted: &'a HashSet<&'a str>,
    },
}

/// What is known of a counterpart before any details are fetched, to skip needless requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterpartHint {
    /// The orphan-cache rule cannot delete this tag whatever its details say.
    CannotOrphan,
    /// It might: the details (`created_at`) are needed.
    MayOrphan,
}

/// What is known of the ref a tag is named after, before its details are fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefHint {
    /// The rule is off, or the tag names no ref.
    NotNamed,
    /// Its branch or open merge request exists: `stale-ref` cannot delete it.
    Live,
    /// It is gone: `stale-ref` deletes it if it is old enough, so its age is needed.
    Gone,
    /// The refs could not be listed: the tag is kept (`error`) whatever its age.
    Unknown,
}

/// One tag as the rules see it.
#[derive(Clone, Debug)]
pub struct TagFacts {
    /// Never grows: a boxed `str` is a word smaller than a `String` (BENCHMARKS.md: memory).
    pub name: Box<str>,
    pub details: Details,
    pub inspected: Inspected,
    /// Why GitLab will refuse to delete it, where that is known before asking: a tag
    /// protection or immutability rule, or the listing's `userPermissions`.
    pub protected: Option<std::sync::Arc<str>>,
}

impl TagFacts {
    pub fn new(name: String, details: Details) -> TagFacts {
        TagFacts {
            name: name.into_boxed_str(),
            details,
            inspected: Inspected::No,
            protected: None,
        }
    }
}
