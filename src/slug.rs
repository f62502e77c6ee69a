//! A branch's slug, exactly as GitLab computes `CI_COMMIT_REF_SLUG`.
//!
//! Pipelines tag images with `$CI_COMMIT_REF_SLUG`, so the `stale-ref` rule can only tell a live
//! branch's tag from a dead one's if it slugs branch names the way GitLab does, to the byte.
//! GitLab sets `CI_COMMIT_REF_SLUG` to `pipeline.source_ref_slug`
//! (lib/gitlab/ci/variables/builder/pipeline.rb), which is `Gitlab::Utils.slugify(source_ref)`
//! (app/models/ci/pipeline.rb; `source_ref` is the source branch in merge request pipelines), and
//! `slugify` is, in lib/gitlab/utils.rb:
//!
//! ```ruby
//! str.downcase.gsub(/[^a-z0-9]/, '-')[0..62].gsub(/(\A-+|-+\z)/, '')
//! ```
//!
//! The order matters: truncating to 63 characters comes before stripping the hyphens, so a name
//! whose 63rd character is a hyphen loses it and is shorter than 63; hyphens are not collapsed;
//! and the result may be empty.

/// `CI_COMMIT_REF_SLUG` of the branch `name`.
pub fn slugify(name: &str) -> String {
    // Ruby's `downcase` is Unicode's full case mapping, as `char::to_lowercase` (one character
    // may become several, e.g. `İ` → `i̇`, and the Kelvin sign `K` becomes ASCII `k`). Every
    // character outside `[a-z0-9]` then becomes one `-`, so the result is ASCII and Ruby's
    // `[0..62]` (characters) is the first 63 bytes.
    let mapped: String = name
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'a'..='z' | '0'..='9' => c,
            _ => '-',
        })
        .take(63)
        .collect();
    mapped.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::slugify;

    /// GitLab's own examples: spec/lib/gitlab/utils_spec.rb (`.slugify`) and
    /// spec/models/ci/build_spec.rb (`#ref_slug`).
    #[test]
    fn gitlabs_own_examples() {
        let a = |n: usize| "a".repeat(n);
        let cases: Vec<(String, String)> = vec![
            // spec/lib/gitlab/utils_spec.rb
            ("TEST".into(), "test".into()),
            (
                "project_with_underscores".into(),
                "project-with-underscores".into(),
            ),
            ("namespace/project".into(), "namespace-project".into()),
            (a(70), a(63)),
            ("test_trailing_".into(), "test-trailing".into()),
            // spec/models/ci/build_spec.rb
            ("master".into(), "master".into()),
            ("1-foo".into(), "1-foo".into()),
            ("fix/1-foo".into(), "fix-1-foo".into()),
            ("fix-1-foo".into(), "fix-1-foo".into()),
            (a(63), a(63)),
            (a(64), a(63)),
            ("FOO".into(), "foo".into()),
            (format!("-{}-", a(61)), a(61)),
            (format!("-{}-", a(62)), a(62)),
            (format!("-{}-", a(63)), a(62)),
            (format!("{} ", a(62)), a(62)),
        ];
        for (name, slug) in cases {
            assert_eq!(slugify(&name), slug, "{name:?}");
        }
    }

    /// Checked against Ruby 3.1's `slugify` (the code above) on these very strings.
    #[test]
    fn non_ascii_names_slug_as_ruby_does() {
        // Each character, however many bytes it takes, becomes one `-`.
        assert_eq!(slugify("feature/ümlaut-ß"), "feature--mlaut");
        assert_eq!(slugify("日本語"), "");
        assert_eq!(slugify("fix/日本-1"), "fix----1");
        assert_eq!(slugify("emoji-🚀-x"), "emoji---x");
        // Downcasing first: full case mapping, which can produce ASCII from non-ASCII.
        assert_eq!(slugify("\u{212A}elvin"), "kelvin"); // KELVIN SIGN → k
        assert_eq!(slugify("İstanbul"), "i-stanbul"); // İ → i + combining dot above
        assert_eq!(slugify("ÀB"), "b");
        assert_eq!(slugify("ΣΑΣ-Σ"), "");
        assert_eq!(slugify("ﬃ-x"), "x"); // already lower case: one character, one `-`
    }

    #[test]
    fn truncation_counts_characters_after_mapping_and_comes_before_the_strip() {
        // 62 letters then a non-ASCII character (two bytes, one `-`) then more: the 63rd
        // character is the `-`, which the strip then removes.
        let name = format!("{}é{}", "a".repeat(62), "b".repeat(10));
        assert_eq!(slugify(&name), "a".repeat(62));
        // Over 63 bytes but under 63 characters before mapping: 40 two-byte characters.
        let name = format!("x{}y", "é".repeat(40));
        assert_eq!(slugify(&name), format!("x{}y", "-".repeat(40)));
        // Leading hyphens count towards the 63 before they are stripped.
        let name = format!("{}{}", "/".repeat(10), "c".repeat(60));
        assert_eq!(slugify(&name), "c".repeat(53));
        // Hyphens in the middle are never collapsed.
        assert_eq!(slugify("a//b"), "a--b");
        assert_eq!(slugify("---"), "");
        assert_eq!(slugify(""), "");
    }
}
