"""The benchmark's world on a real registry (issue 12): what inspection costs, in requests.

`generate(total)` builds a fixture of about `total` tags on a real `docker-registry` without
GitLab's metadata database (`registry: legacy`, most self-managed instances): projects with an
`app` repository holding every kind of tag GitLab cannot show (multi-arch indexes, buildx
images with provenance attestations, a Docker manifest list, a truly missing manifest, an index
whose platform manifest is gone), cosign signatures of kept and of untagged images and an
attestation of an old image, and an `app.cache` repository of BuildKit caches in both forms,
with and without their image tag.

`floor(fixture, cfg, api)` is this benchmark's reading of design §3, §6 and §9, written from
the design and the fixture's kinds, not from registry-gc's code: the GitLab requests a run must
make, the registry requests inspection may make (§9: one manifest read per tag GitLab cannot
show, its platform manifests where a missing one would make it `broken`, a config blob where an
age rule needs an index's age, one digest read per other tag of a repository that holds
referrers, tokens for up to 10 repositories a request), and the tags it deletes.

Standard library only.
"""

import math

GROUP = "bench"
TOKEN = "glpat-bench-token"
SCOPES_PER_TOKEN = 10

# What each tag of a project is, with what the rules make of it. `gitlab`: what GitLab's tag
# details show without its metadata database (`found`: a date and a size; `undated`: a size,
# no date; `404`). `reads`: registry requests when inspected under default rules (manifest +
# platform manifests), `age_reads`: extra ones when an age rule needs its age (a config blob).
APP = [
    # name, fixture keys, gitlab, reads, age_reads
    ("main", {"kind": "image", "age": "1d"}, "found", 0, 0),
    ("v1.{p}.0", {"kind": "image", "format": "oci", "age": "100d"}, "found", 0, 0),
    ("feature-a", {"kind": "index", "format": "oci", "age": "2d"}, "404", 1 + 2, 1),
    # What `docker buildx build --push` makes for one platform: its image and an attestation
    # (not a platform: not read).
    ("feature-b", {"kind": "attested", "platforms": ["linux/amd64"], "age": "3d"}, "404",
     1 + 1, 1),
    ("feature-old", {"kind": "attested", "platforms": ["linux/amd64"], "age": "60d"}, "404",
     1 + 1, 1),
    ("mr-{p}", {"kind": "image", "age": "45d"}, "found", 0, 0),
    ("fix-x", {"kind": "image", "age": "5d"}, "found", 0, 0),
    # GitLab shows a Docker manifest list's linux/amd64 image: not inspected.
    ("multi-docker", {"kind": "index", "format": "docker", "age": "10d"}, "found", 0, 0),
    ("broken-gone", {"kind": "missing", "age": "20d"}, "404", 1, 0),
    # The first platform manifest is missing: one read shows it, the rest are not needed.
    ("broken-child", {"kind": "index-missing-child", "format": "oci", "age": "20d"}, "404",
     1 + 1, 0),
    ("chart-1.0", {"kind": "helm"}, "undated", 0, 0),
    (None, {"kind": "signature", "signs": "main"}, "undated", 0, 0),
    (None, {"kind": "signature", "signs": "v1.{p}.0"}, "undated", 0, 0),
    (None, {"kind": "signature", "signs": "sha256:" + "5e" * 32}, "undated", 0, 0),
    (None, {"kind": "attestation", "signs": "feature-old"}, "undated", 0, 0),
]
CACHE = [
    ("main", {"kind": "cache-index"}, "404", 1, 0),
    ("feature-a", {"kind": "cache-index"}, "404", 1, 0),
    ("feature-gone", {"kind": "cache-index"}, "404", 1, 0),
    ("feature-old", {"kind": "cache-index"}, "404", 1, 0),
    # An image-manifest cache: GitLab shows it with no date, which marks a cache there.
    ("feature-b", {"kind": "cache-image"}, "undated", 0, 0),
    ("fix-gone", {"kind": "cache-image"}, "undated", 0, 0),
]
PER_PROJECT = len(APP) + len(CACHE)

CONFIGS = {
    "defaults": {},
    "age": {"GC_OLDER_THAN": "30d", "GC_DELETE_REGEX": "(feature|fix|mr)-.*"},
}


def generate(total):
    projects = []
    for p in range(max(1, math.ceil(total / PER_PROJECT))):
        def tags(table):
            out = []
            for name, keys, _, _, _ in table:
                tag = {k: (v.format(p=p) if isinstance(v, str) else v) for k, v in keys.items()}
                if name is not None:
                    tag["name"] = name.format(p=p)
                out.append(tag)
            return out

        pid = p + 1
        projects.append({
            "id": pid, "path": f"{GROUP}/p{p:03d}", "access_level": 40,
            "repositories": [
                {"id": 1000 + 2 * pid, "name": "app", "tags": tags(APP)},
                {"id": 1001 + 2 * pid, "name": "app.cache", "tags": tags(CACHE)},
            ],
        })
    return {
        "registry": "legacy",
        "tokens": [{"token": TOKEN, "scopes": ["api"]}],
        "groups": [{"id": 1, "path": GROUP, "access_level": 40}],
        "delete_missing_tag_status": 200,
        "projects": projects,
    }


def count_tags(fixture):
    return sum(len(r["tags"]) for p in fixture["projects"] for r in p["repositories"])


def _deleted(cfg):
    """(app names, cache names) a run deletes, by the rules of design §3 on this world."""
    age = "GC_OLDER_THAN" in cfg
    # broken: only what the registry lacks; the untagged signature's subject is gone.
    app = {"broken-gone", "broken-child", "sig:orphan"}
    cache = {"feature-gone", "fix-gone"}  # orphan-cache: no `app` tag of that name
    if age:
        # Older than 30d and named by GC_DELETE_REGEX; the attestation of feature-old goes with
        # it (orphan-referrer), and so does its cache (orphan-cache), in the same run.
        app |= {"mr-{p}", "feature-old", "att:feature-old"}
        cache |= {"feature-old"}
    return app, cache


def floor(fixture, cfg, api="rest"):
    """The requests a run must make on this world, and the (repository path, tag) it deletes."""
    age = "GC_OLDER_THAN" in cfg
    projects = fixture["projects"]
    n = len(projects)
    app_deleted, cache_deleted = _deleted(cfg)
    keep = {"main", "v1.{p}.0"}
    # A cosign tag is named after its subject: the orphan's is known, the attestation's
    # subject digest only to the registry, so it is named by its suffix (the only `.att`).
    names = {"sig:orphan": "sha256-" + "5e" * 32 + ".sig", "att:feature-old": "*.att"}
    gone = set()
    for p, project in enumerate(projects):
        path = project["path"] + "/app"
        gone |= {(path, names.get(d, d).format(p=p)) for d in app_deleted}
        gone |= {(path + ".cache", d) for d in cache_deleted}
    deletes = len(gone)

    repos = 2 * n
    f = {"repository_pages": math.ceil(repos / 100)}
    if api == "rest":
        # Every tag's details but GC_KEEP_REGEX's (GC_DELETE_BROKEN), the project's protection
        # rules once, one DELETE per deleted tag.
        f["tag_pages"] = repos
        f["protection_rules"] = n
        f["details"] = n * (len(APP) - len(keep) + len(CACHE) - 1)
        f["deletes"] = deletes
    else:
        # GraphQL lists 20 tags a page with digests and permissions: no REST details (a tag
        # without a digest is read in the registry), no protection rules. One delete call per
        # repository and round: the cache of a tag this run deletes, and the attestation of an
        # image it deletes, wait for that deletion (the second round).
        f["probe"] = 1
        f["tag_pages"] = n * (math.ceil(len(APP) / 20) + math.ceil(len(CACHE) / 20))
        f["delete_calls"] = n * (2 + (2 if age else 0))
        f["deletes"] = 0
    inspected = [r for r in APP + CACHE if r[2] == "404" and r[0] not in keep]
    reads = n * sum(r[3] + (r[4] if age else 0) for r in inspected)
    # The digest of every other tag of `app` (it holds signatures): those not read above.
    digests = n * sum(1 for r in APP if r[0] is not None and r[2] != "404")
    # GET /v2/ (the challenge), a token proving the login, GET /v2/ with it; then tokens for
    # the repositories with a tag to read (both of every project), 10 a request; the digest
    # reads are of `app`, which holds a token by then.
    tokens = 1 + math.ceil(repos / SCOPES_PER_TOKEN)
    f["registry"] = {"base": 2, "tokens": tokens, "manifests": reads, "digests": digests}
    f["registry_total"] = 2 + tokens + reads + digests
    f["gitlab_total"] = sum(v for k, v in f.items()
                            if k not in ("registry", "registry_total"))
    return f, gone
