//! Registry requests, counted apart from GitLab's API requests: the summary shows both.

/// The registry endpoints registry-gc calls (distribution's API, and the token realm).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    Base,
    Token,
    Manifest,
    ManifestHead,
    Blob,
}

impl crate::http::Endpoints for Endpoint {
    const ALL: &'static [Endpoint] = &[
        Endpoint::Base,
        Endpoint::Token,
        Endpoint::Manifest,
        Endpoint::ManifestHead,
        Endpoint::Blob,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn label(self) -> &'static str {
        match self {
            Endpoint::Base => "GET /v2/",
            Endpoint::Token => "GET (realm) registry token",
            Endpoint::Manifest => "GET /v2/<name>/manifests/<reference>",
            Endpoint::ManifestHead => "HEAD /v2/<name>/manifests/<reference>",
            Endpoint::Blob => "GET /v2/<name>/blobs/<digest>",
        }
    }
}

pub type Stats = crate::http::Stats<Endpoint>;
