//! End-to-end on the real registry behind the fake: what registry-gc's deletions do to the
//! images a registry holds, measured on disk after the registry's own garbage collection.

mod common;

use common::*;

/// The demo, cleaned, then the registry's own garbage collection: registry-gc's estimate
/// beside the bytes that left the disk, and every tag it kept still resolves (without
/// `--delete-untagged`; with it, distribution 2.8 also removes the platform manifests of
/// kept indexes, which is measured here, not hidden).
#[test]
fn storage_freed_is_measured_on_disk_and_kept_tags_still_resolve() {
    let fake = demo();
    let resolving_before: Vec<(String, String)> = fake
        .registry_resolve_all()
        .into_iter()
        .filter(|r| r.problem.is_none())
        .map(|r| (r.repository, r.tag))
        .collect();
    let start = fake.registry_disk_usage().unwrap();
    let out = run(&fake, &[("GC_DRY_RUN", "false")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let estimate = out.report["summary"]["bytes_reclaimed"].as_u64().unwrap();
    let deleted = out.with_outcome("deleted");
    assert!(!deleted.is_empty());

    // Deleting tags frees nothing by itself: the images' manifests stay, untagged.
    let after_run = fake.registry_disk_usage().unwrap();
    assert_eq!(after_run.tags, start.tags - deleted.len() as u64);
    assert!(
        after_run.manifests >= start.manifests,
        "{start:?} → {after_run:?}"
    );
    assert!(
        start.bytes.abs_diff(after_run.bytes) < 64 * 1024,
        "only tag links changed: {start:?} → {after_run:?}"
    );

    let plain = fake.registry_garbage_collect(false);
    let kept_resolve = |label: &str| {
        let now: Vec<(String, String)> = fake
            .registry_resolve_all()
            .into_iter()
            .filter(|r| r.problem.is_none())
            .map(|r| (r.repository, r.tag))
            .collect();
        let lost: Vec<&(String, String)> = resolving_before
            .iter()
            .filter(|t| !deleted.contains(&format!("{}:{}", t.0, t.1)) && !now.contains(t))
            .collect();
        (
            label.to_string(),
            lost.into_iter().cloned().collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        kept_resolve("after garbage-collect"),
        ("after garbage-collect".to_string(), Vec::new()),
        "every kept tag that resolved still does"
    );
    let untagged = fake.registry_garbage_collect(true);
    let freed = plain.before.bytes - untagged.after.bytes;
    eprintln!(
        "registry-gc estimate {estimate} B; freed on disk: {} B without --delete-untagged, {freed} B with it; manifests {} → {}",
        plain.before.bytes - plain.after.bytes,
        plain.before.manifests,
        untagged.after.manifests
    );
    assert!(
        freed > 0,
        "deleted images free space once untagged manifests go"
    );
    let (_, lost) = kept_resolve("after garbage-collect --delete-untagged");
    if registry_mode() == RegistryMode::Legacy {
        // distribution 2.8: the kept indexes' platform manifests are untagged, so they go.
        assert!(
            lost.iter().any(|(_, tag)| tag == "latest"),
            "distribution 2.8's --delete-untagged breaks kept multi-arch images: {lost:?}"
        );
    }
}
