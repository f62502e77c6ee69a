"""Deterministic benchmark fixtures and an independent model of the REST floor.

`generate(total)` builds a fake-gitlab fixture (component-tests/fixtures/README.md) with
`total` tags over many projects and repositories in group `bench` and its subgroups, with the
demo fixture's mix: stable tags (latest/main/vX.Y.Z), branch tags of all ages, broken tags
(attestations, OCI indexes, some protected or undeletable), protected release tags, `*.cache`
repositories whose null-`created_at` tags have a counterpart tag or not, cache repositories
without a counterpart repository, and one large repository (more than 10,000 tags at 100k, so
GitLab's pagination drops `X-Total-Pages`).

`floor(fixture, cfg)` is the benchmark's own reading of design §3 and §6, written from the
design, not from registry-gc's code: it says which requests a run *must* make and which tags
it deletes, so the fake's request count can be compared to it exactly.

Standard library only.
"""

import math
import random
import re

GROUP = "bench"
TOKEN = "glpat-bench-token"
DEFAULT_KEEP = r"latest|main|master|v.*\..*\..*"

# Every project's tag protection rules (RE2, matched unanchored as GitLab does): release tags and
# the old stable ones may be deleted by administrators only, so the bench token (Maintainer)
# may not delete them. Per prefix, as GitLab allows 5 rules a project.
PROTECTION = [r"^release-", r"^stable-"]

UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def age_seconds(text):
    return int(text[:-1]) * UNITS[text[-1]]


def _age(rng, young_share):
    """A tag age; never within a day of 30d (the benchmark's GC_OLDER_THAN), so that the few
    seconds between the fake's start and registry-gc's plan never decide."""
    if rng.random() < young_share:
        if rng.random() < 0.3:
            return f"{rng.randint(1, 47)}h"
        return f"{rng.randint(2, 28)}d"
    return f"{rng.randint(32, 400)}d"


def _tag_list(n):
    """An empty tag list, and the function that adds a tag to it: distinct names, at most n."""
    tags = []
    names = set()

    def add(tag):
        if tag["name"] not in names and len(tags) < n:
            names.add(tag["name"])
            tags.append(tag)

    return tags, add


def _image_tags(rng, n, serial):
    """n tags of an image repository: stable, branch, broken, protected, null-age."""
    tags, add = _tag_list(n)

    add({"name": "latest", "age": f"{rng.randint(1, 30)}h"})
    add({"name": "main", "age": f"{rng.randint(1, 30)}h"})
    if rng.random() < 0.2:
        add({"name": "master", "age": f"{rng.randint(40, 300)}d"})
    releases = max(1, n // 12)
    for i in range(releases):
        add({"name": f"v{1 + i // 30}.{i % 30}.{rng.randint(0, 9)}", "age": _age(rng, 0.2)})
    kinds = ["feature", "fix", "mr", "renovate", "release"]
    weights = [40, 20, 25, 12, 3]
    i = 0
    while len(tags) < n:
        i += 1
        roll = rng.random()
        if roll < 0.04:
            add({"name": f"sha256-{rng.getrandbits(48):012x}.att", "broken": True})
        elif roll < 0.06:
            add({"name": f"multiarch-{serial}-{i}", "oci_index": True, "broken": True})
        elif roll < 0.063:
            add({"name": f"stable-{2000 + i}", "broken": True})  # protected (PROTECTION)
        elif roll < 0.066:
            add({"name": f"old-index-{i}", "oci_index": True, "broken": True, "undeletable": True})
        elif roll < 0.08:
            add({"name": f"buildx-{i}", "oci_index": True})  # null created_at, readable
        else:
            kind = rng.choices(kinds, weights)[0]
            add({"name": f"{kind}-{rng.randint(1, 99999)}", "age": _age(rng, 0.45)})
    return tags


def _cache_tags(rng, n, counterpart):
    """n tags of a cache repository: null created_at, half named like a counterpart tag."""
    tags, add = _tag_list(n)

    add({"name": "main"})
    pool = [t["name"] for t in counterpart if not t.get("broken") and t["name"] != "main"]
    rng.shuffle(pool)
    i = 0
    while len(tags) < n:
        i += 1
        roll = rng.random()
        if pool and roll < 0.5:
            add({"name": pool.pop()})  # counterpart tag exists
        elif roll < 0.9:
            add({"name": f"gone-{rng.randint(1, 999999)}"})  # counterpart tag does not
        elif roll < 0.95:
            add({"name": f"inline-{i}", "age": _age(rng, 0.3)})  # an image, not a cache
        else:
            add({"name": f"index-{i}", "oci_index": True, "broken": True})
    return tags


def generate(total, seed=1):
    rng = random.Random(f"registry-gc-bench/{total}/{seed}")
    projects = []
    budget = total
    repo_id = 1000
    # One large repository: > 10,000 tags at 100k (GitLab then omits X-Total-Pages).
    big = min(total // 8, 12_000)
    next_project = 1

    def take(n):
        nonlocal budget
        n = min(n, budget)
        budget -= n
        return n

    def repo(name, tags):
        nonlocal repo_id
        repo_id += 1
        return {"id": repo_id, "name": name, "tags": tags}

    if big >= 100:
        n = take(big)
        tags = _image_tags(rng, n, 0)
        cache = _cache_tags(rng, take(big // 10), tags)
        projects.append({"id": next_project, "path": f"{GROUP}/mono",
                         "repositories": [repo("ci", tags), repo("ci.cache", cache)]})
        next_project += 1
    while budget > 0:
        pid = next_project
        next_project += 1
        team = pid % max(2, total // 2000)
        repos = []
        app = _image_tags(rng, take(rng.randint(30, 150)), pid)
        repos.append(repo("app", app))
        if budget and rng.random() < 0.8:
            repos.append(repo("app.cache", _cache_tags(rng, take(rng.randint(5, 40)), app)))
        if budget and rng.random() < 0.5:
            worker = _image_tags(rng, take(rng.randint(10, 60)), pid + 100000)
            repos.append(repo("worker", worker))
            if budget and rng.random() < 0.5:
                repos.append(repo("worker.cache", _cache_tags(rng, take(rng.randint(3, 20)), worker)))
        if budget and rng.random() < 0.15:
            repos.append(repo("legacy.cache", _cache_tags(rng, take(rng.randint(2, 15)), [])))
        projects.append({"id": pid, "path": f"{GROUP}/team-{team}/svc-{pid}",
                         "repositories": [r for r in repos if r["tags"] or r["name"] == "app"]})
    for project in projects:
        project["protection_rules"] = [{"tag_name_pattern": p,
                                        "minimum_access_level_for_delete": "admin"}
                                       for p in PROTECTION]
    return {
        "tokens": [{"token": TOKEN, "scopes": ["api"]}],
        "groups": [{"id": 10, "path": GROUP, "name": "Bench", "access_level": 40}],
        "projects": projects,
    }


def count_tags(fixture):
    return sum(len(r["tags"]) for p in fixture["projects"] for r in p["repositories"])


def count_repos(fixture):
    return sum(len(p["repositories"]) for p in fixture["projects"])


# ------------------------------------------------------------------------- the floor

class Rules:
    """The rule settings of one benchmark configuration (GC_* variables)."""

    def __init__(self, env):
        self.env = dict(env)
        full = lambda p: re.compile(r"(?:%s)\Z" % p)  # noqa: E731 (re.match anchors the start)
        self.keep = full(env.get("GC_KEEP_REGEX") or DEFAULT_KEEP)
        self.delete = full(env.get("GC_DELETE_REGEX") or ".*")
        self.keep_n = int(env["GC_KEEP_N"]) if env.get("GC_KEEP_N") else None
        self.older_than = age_seconds(env["GC_OLDER_THAN"]) if env.get("GC_OLDER_THAN") else None
        self.delete_broken = env.get("GC_DELETE_BROKEN", "true") == "true"
        self.orphan = env.get("GC_DELETE_ORPHAN_CACHE", "true") == "true"
        self.suffix = env.get("GC_CACHE_SUFFIX") or ".cache"
        self.age_rules = self.keep_n is not None or self.older_than is not None
        self.protection = [re.compile(p) for p in PROTECTION]

    def kept_by_regex(self, name):
        return self.keep.match(name) is not None

    def candidate(self, name):
        return self.delete.match(name) is not None

    def protected(self, name):
        return any(p.search(name) for p in self.protection)


def floor(fixture, env, per_page=100, api="rest"):
    """The fewest requests a run with settings `env` can make on `fixture`, by endpoint, and
    the tags it deletes. Group scope over the whole fixture, no faults.

    `api="graphql"` counts GitLab's GraphQL instead (design §6, gitlab-api.md §4), with the same
    ages (GC_AGE_FROM=created): one probe; the repository list as over REST; tag pages of 20
    that carry each tag's details, media type and permissions, so no REST details at all (a tag
    whose fields are null proves nothing where media types show GitLab's metadata database, and
    no registry is read here: it is kept) and no delete for a protected tag; deletes in calls of
    at most 20 tags of one repository, one round for independent deletions and one for cache
    tags that rely on their counterpart's deletion.

    - one request per page of the group's repository list;
    - one per page of each repository's tag list (an empty list is one page);
    - one details request per tag whose *action* can depend on its details: never for a
      GC_KEEP_REGEX tag; always with GC_DELETE_BROKEN (a 404 deletes it); for a delete
      candidate when an age rule is set; for a tag of a cache repository unless its
      counterpart certainly keeps the same tag (the counterpart has it and needs no details
      for it, so nothing can delete it);
    - one DELETE per tag the rules delete, except a cache tag whose deletion relies on this
      run deleting its counterpart tag when GitLab refuses that (protected, undeletable).
    """
    rules = Rules(env)
    repos = []
    for p in fixture["projects"]:
        for r in p["repositories"]:
            path = p["path"] + ("/" + r["name"].lower() if r["name"] else "")
            repos.append({"project": p["path"], "path": path, "tags": r["tags"]})
    by_path = {r["path"]: r for r in repos}
    pages = lambda n: max(1, math.ceil(n / per_page))  # noqa: E731
    graphql = api == "graphql"
    tag_pages = (lambda n: max(1, math.ceil(n / 20))) if graphql else pages  # noqa: E731

    counts = {"repository_pages": pages(len(repos)), "tag_pages": 0, "details": 0, "deletes": 0}
    if graphql:
        counts.update(probe=1, delete_calls=0)
    else:
        # The project's protection rules, once, for projects with a tag to decide.
        counts["protection_rules"] = len({r["project"] for r in repos if r["tags"]})
    gone = set()  # (repository path, tag) that this run really deletes
    # Shortest path first: a counterpart (`app`) is decided before its cache (`app.cache`).
    for r in sorted(repos, key=lambda r: len(r["path"])):
        counts["tag_pages"] += tag_pages(len(r["tags"]))
        cp = None
        base = r["path"][: -len(rules.suffix)] if r["path"].endswith(rules.suffix) else None
        if rules.orphan and base and (base == r["project"] or base.startswith(r["project"] + "/")):
            cp = by_path.get(base, "missing")
        r["needs"] = {}
        r["decision"] = {}
        r["outcome"] = {}
        candidates = []
        for t in r["tags"]:
            name = t["name"]
            if rules.kept_by_regex(name):
                r["needs"][name] = False
                r["decision"][name] = "keep"
                continue
            # A protected tag is kept whatever its details say, so it needs none: GraphQL's
            # listing says which (`userPermissions`), over REST the project's rules do.
            protected = rules.protected(name)
            may_orphan = cp is not None and (
                cp == "missing" or name not in cp["needs"] or cp["needs"][name])
            needs = (rules.delete_broken or may_orphan
                     or (rules.age_rules and rules.candidate(name))) and not protected
            r["needs"][name] = needs
            if not needs:
                r["decision"][name] = "keep"
                continue
            if not graphql:
                counts["details"] += 1
            if t.get("broken"):
                # Over GraphQL the fake's listing carries media types, as only GitLab's metadata
                # database gives them; there a tag GitLab cannot show proves nothing (details
                # 404 on a partial-name miss too), and no registry is read here: it is kept,
                # without a REST request (it would say no more).
                r["decision"][name] = "delete" if rules.delete_broken and not graphql else "keep"
                continue
            created = t.get("age")
            if created is None and rules.orphan and cp is not None:
                if cp == "missing" or name not in cp["decision"]:
                    r["decision"][name] = "delete"
                    continue
                if cp["decision"][name] == "delete":
                    r["decision"][name] = ("depends", name)
                    continue
            if rules.age_rules and not rules.candidate(name):
                r["decision"][name] = "keep"
            elif created is None or not rules.age_rules:
                r["decision"][name] = "keep"
            else:
                candidates.append((age_seconds(created), name))
                r["decision"][name] = None
        candidates.sort()  # newest first, ties by name
        for rank, (age, name) in enumerate(candidates):
            if rules.keep_n is not None and rank < rules.keep_n:
                r["decision"][name] = "keep"
            elif rules.older_than is not None:
                r["decision"][name] = "delete" if age > rules.older_than else "keep"
            else:
                r["decision"][name] = "delete"
        tags = {t["name"]: t for t in r["tags"]}
        rounds = [0, 0]  # deletions of this repository in each round
        for name, d in r["decision"].items():
            if d == "keep":
                continue
            if isinstance(d, tuple) and (cp["path"], name) not in gone:
                continue  # the counterpart tag stays (protected, undeletable): so does its cache
            rounds[isinstance(d, tuple)] += 1
            t = tags[name]
            refused = t.get("broken") and t.get("undeletable")
            if not graphql or refused:
                counts["deletes"] += 1
            if not refused:
                gone.add((r["path"], name))
        if graphql:
            counts["delete_calls"] += sum(math.ceil(n / 20) for n in rounds)
    counts["total"] = sum(counts.values())
    return counts, gone
