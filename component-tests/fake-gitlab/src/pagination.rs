//! GitLab's offset pagination, header for header.
//!
//! Clients get pagination wrong in the corners (the last page, the 10,000
//! record cut-off, a capped `per_page`), so this mirrors GitLab's code rather
//! than the docs' summary:
//! - params: `page` (default 1), `per_page` (default 20), Grape `Integer`
//!   (lib/api/helpers/pagination.rb `params :pagination`);
//! - `per_page` is capped at 100 by Kaminari's `max_per_page`
//!   (doc/api/rest/_index.md);
//! - headers and links: lib/gitlab/pagination/offset_header_builder.rb —
//!   `X-Next-Page`/`X-Prev-Page` are empty strings when absent, `Link` lists
//!   prev, next, first and last; the link query is *all* request params
//!   (route params such as `id` included) merged with `page` and the
//!   requested `per_page`, sorted by key (Rails `to_query`);
//! - counts: lib/gitlab/pagination/offset_pagination.rb omits `X-Total`,
//!   `X-Total-Pages` and `rel="last"` when a relation has more than 10,000
//!   rows, or an array (the tag list) has 10,000 or more;
//!   `X-Total-Pages` is at least 1.

use crate::http::Response;
use crate::params::cgi_escape;
use serde_json::json;
use std::collections::BTreeMap;
use std::ops::Range;

pub(crate) const MAX_PER_PAGE: usize = 100;
const DEFAULT_PER_PAGE: usize = 20;
/// Kaminari::ActiveRecordRelationMethods::MAX_COUNT_LIMIT in GitLab.
const MAX_COUNT_LIMIT: usize = 10_000;

/// What is being paginated decides when counts are dropped.
#[derive(Clone, Copy)]
pub(crate) enum Source {
    /// A database relation (projects, repositories).
    Relation,
    /// An in-memory array (registry tags, `Kaminari.paginate_array`).
    Array,
}

pub(crate) struct PageRequest {
    page: usize,
    per_page: usize,
    /// `per_page` as the link repeats it: the requested value, uncapped.
    per_page_param: String,
}

/// Reads `page` and `per_page`, answering Grape's 400 for non-integers.
pub(crate) fn parse(params: &BTreeMap<String, String>) -> Result<PageRequest, Response> {
    let mut invalid = Vec::new();
    let mut int = |name: &str| -> Option<i64> {
        let v = params.get(name)?;
        match v.trim().parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) if v.is_empty() => None,
            Err(_) => {
                invalid.push(format!("{name} is invalid"));
                None
            }
        }
    };
    let page = int("page");
    let per_page = int("per_page");
    if !invalid.is_empty() {
        return Err(Response::json(400, &json!({"error": invalid.join(", ")})));
    }
    // Kaminari: `page(n)` below 1 is page 1; a negative `per` is ignored.
    // `per_page=0` would give empty pages in Kaminari; it is read as the
    // default here.
    let per = match per_page {
        Some(n) if n > 0 => (n as usize).min(MAX_PER_PAGE),
        _ => DEFAULT_PER_PAGE,
    };
    Ok(PageRequest {
        page: page.unwrap_or(1).max(1) as usize,
        per_page: per,
        per_page_param: per_page.map_or_else(|| DEFAULT_PER_PAGE.to_string(), |n| n.to_string()),
    })
}

/// The slice of `total` items to return and the headers describing it.
/// `url` is the absolute request URL without query; `params` every request
/// parameter (query and route).
pub(crate) fn paginate(
    total: usize,
    req: &PageRequest,
    source: Source,
    url: &str,
    params: &BTreeMap<String, String>,
) -> (Range<usize>, Vec<(String, String)>) {
    let per = req.per_page;
    let page = req.page;
    let total_pages = total.div_ceil(per);
    let start = (page - 1).saturating_mul(per).min(total);
    let end = start.saturating_add(per).min(total);
    let without_counts = match source {
        Source::Relation => total > MAX_COUNT_LIMIT,
        Source::Array => total >= MAX_COUNT_LIMIT,
    };
    let out_of_range = page > total_pages;
    let next = (!out_of_range && page < total_pages).then_some(page + 1);
    let prev = (page > 1 && !out_of_range).then(|| page - 1);
    let shown_pages = total_pages.max(1);

    let href = |p: usize| {
        let mut q = params.clone();
        q.insert("page".into(), p.to_string());
        q.insert("per_page".into(), req.per_page_param.clone());
        let query: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{}={}", cgi_escape(k), cgi_escape(v)))
            .collect();
        format!("{url}?{}", query.join("&"))
    };
    let mut links = Vec::new();
    if let Some(p) = prev {
        links.push(format!("<{}>; rel=\"prev\"", href(p)));
    }
    if let Some(n) = next {
        links.push(format!("<{}>; rel=\"next\"", href(n)));
    }
    links.push(format!("<{}>; rel=\"first\"", href(1)));
    if !without_counts {
        links.push(format!("<{}>; rel=\"last\"", href(shown_pages)));
    }

    let opt = |o: Option<usize>| o.map(|n| n.to_string()).unwrap_or_default();
    let mut headers = vec![
        ("X-Per-Page".to_string(), per.to_string()),
        ("X-Page".to_string(), page.to_string()),
        ("X-Next-Page".to_string(), opt(next)),
        ("X-Prev-Page".to_string(), opt(prev)),
        ("Link".to_string(), links.join(", ")),
    ];
    if !without_counts {
        headers.push(("X-Total".to_string(), total.to_string()));
        headers.push(("X-Total-Pages".to_string(), shown_pages.to_string()));
    }
    (start..end, headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &[(&str, &str)]) -> BTreeMap<String, String> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn header<'a>(h: &'a [(String, String)], n: &str) -> Option<&'a str> {
        h.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str())
    }

    #[test]
    fn middle_page() {
        let p = params(&[("page", "2"), ("per_page", "3"), ("id", "demo/shop")]);
        let req = parse(&p).unwrap();
        let (r, h) = paginate(8, &req, Source::Relation, "http://h/api/v4/x", &p);
        assert_eq!(r, 3..6);
        assert_eq!(header(&h, "X-Next-Page"), Some("3"));
        assert_eq!(header(&h, "X-Prev-Page"), Some("1"));
        assert_eq!(header(&h, "X-Total"), Some("8"));
        assert_eq!(header(&h, "X-Total-Pages"), Some("3"));
        assert_eq!(
            header(&h, "Link"),
            Some(
                "<http://h/api/v4/x?id=demo%2Fshop&page=1&per_page=3>; rel=\"prev\", \
                 <http://h/api/v4/x?id=demo%2Fshop&page=3&per_page=3>; rel=\"next\", \
                 <http://h/api/v4/x?id=demo%2Fshop&page=1&per_page=3>; rel=\"first\", \
                 <http://h/api/v4/x?id=demo%2Fshop&page=3&per_page=3>; rel=\"last\""
            )
        );
    }

    #[test]
    fn caps_and_edges() {
        let p = params(&[("per_page", "500")]);
        let req = parse(&p).unwrap();
        let (r, h) = paginate(150, &req, Source::Relation, "u", &p);
        assert_eq!(r, 0..100);
        assert_eq!(header(&h, "X-Per-Page"), Some("100"));
        assert!(header(&h, "Link").unwrap().contains("per_page=500"));

        let p = params(&[("page", "9")]);
        let (r, h) = paginate(5, &parse(&p).unwrap(), Source::Relation, "u", &p);
        assert!(r.is_empty());
        assert_eq!(header(&h, "X-Next-Page"), Some(""));
        assert_eq!(header(&h, "X-Prev-Page"), Some(""));

        let (_, h) = paginate(
            0,
            &parse(&params(&[])).unwrap(),
            Source::Relation,
            "u",
            &params(&[]),
        );
        assert_eq!(header(&h, "X-Total-Pages"), Some("1"));

        let (_, h) = paginate(
            10_000,
            &parse(&params(&[])).unwrap(),
            Source::Array,
            "u",
            &params(&[]),
        );
        assert_eq!(header(&h, "X-Total"), None);
        assert!(!header(&h, "Link").unwrap().contains("last"));
        assert_eq!(header(&h, "X-Next-Page"), Some("2"));
        let (_, h) = paginate(
            10_000,
            &parse(&params(&[])).unwrap(),
            Source::Relation,
            "u",
            &params(&[]),
        );
        assert_eq!(header(&h, "X-Total"), Some("10000"));

        assert_eq!(parse(&params(&[("page", "x")])).err().unwrap().status, 400);
    }
}
