#!/usr/bin/env python3
"""Static checks of the CI/CD component template, emulating GitLab's input interpolation.

GitLab interpolates `$[[ inputs.x ]]` in one of two ways, depending on the instance's version and
the `ci_text_interpolation` feature flag [gitlab lib/gitlab/ci/config/yaml/loader.rb]:
  * node mode (interpolation/template.rb): the YAML is parsed first; a string that is exactly one
    block becomes the input's typed value (a boolean stays a boolean), a block inside a longer
    string is replaced by `value.to_s`;
  * text mode (interpolation/text_template.rb): the blocks are replaced in the raw text, strings
    as they are, other values as JSON, and the result is parsed as YAML.
gitlab-ci-local implements neither exactly, so this checks, for several sets of inputs (defaults,
every input changed, hostile regexes), that both modes give a valid job whose variables are all
strings (GitLab rejects a boolean variable value) and give the same GC_* environment, equal to
what the inputs mean. It also validates the spec header and the interpolated job against
GitLab's CI JSON schema when a schema file is given (check-jsonschema's vendored gitlab-ci.json).

It also checks that the default `image` points at the release series of Cargo.toml's version
(`MAJOR` from 1.0 on, `0.MINOR` before), the tag the release pipeline moves with each release.

usage: check_template.py TEMPLATE [--schema gitlab-ci.json] [--cargo-toml Cargo.toml]
Prints one line per check and exits non-zero when one fails.
"""

import argparse
import json
import re
import sys

import yaml

BLOCK = re.compile(r"\$\[\[\s*(\S.*?\S)\s*\]\]")

# input name -> variable it must reach, for every input that maps onto a GC_* variable.
INPUT_TO_VARIABLE = {
    "dry_run": "GC_DRY_RUN",
    "scope": "GC_SCOPE",
    "group": "GC_GROUP",
    "keep_regex": "GC_KEEP_REGEX",
    "delete_regex": "GC_DELETE_REGEX",
    "keep_n": "GC_KEEP_N",
    "older_than": "GC_OLDER_THAN",
    "delete_broken": "GC_DELETE_BROKEN",
    "delete_orphan_cache": "GC_DELETE_ORPHAN_CACHE",
    "delete_orphan_referrers": "GC_DELETE_ORPHAN_REFERRERS",
    "inspect": "GC_INSPECT",
    "registry_url": "GC_REGISTRY_URL",
    "cache_suffix": "GC_CACHE_SUFFIX",
    "stale_ref_regex": "GC_STALE_REF_REGEX",
    "stale_ref_min_age": "GC_STALE_REF_MIN_AGE",
    "repository_regex": "GC_REPOSITORY_REGEX",
    "repository_exclude_regex": "GC_REPOSITORY_EXCLUDE_REGEX",
    "api": "GC_API",
    "age_from": "GC_AGE_FROM",
    "concurrency": "GC_CONCURRENCY",
    "max_deletions": "GC_MAX_DELETIONS",
    "policy_apply": "GC_POLICY_APPLY",
    "policy_enabled": "GC_POLICY_ENABLED",
    "policy_cadence": "GC_POLICY_CADENCE",
    "policy_keep_n": "GC_POLICY_KEEP_N",
    "policy_older_than": "GC_POLICY_OLDER_THAN",
    "policy_name_regex": "GC_POLICY_NAME_REGEX",
    "policy_name_regex_keep": "GC_POLICY_NAME_REGEX_KEEP",
}
# Inputs that shape the job rather than registry-gc's environment.
JOB_INPUTS = {"stage", "job_prefix", "image", "artifacts_expire_in", "timeout"}

HOSTILE = r"""^(v\d+\.\d+\.\d+|"quoted"|it's: #not-a-comment|$HOME|\$\{x\}|[a-z]{2,}-\\d)$"""

INPUT_SETS = {
    "defaults": {},
    "every input changed": {
        "stage": "cleanup",
        "job_prefix": "nightly-",
        "image": "registry.example.com/tools/registry-gc/ci:1.2.3",
        "dry_run": "true",
        "scope": "group",
        "group": "acme/platform",
        "keep_regex": r"release-.*|v\d+\.\d+\.\d+",
        "delete_regex": r"(feature|mr)-.*",
        "keep_n": "5",
        "older_than": "14d",
        "delete_broken": False,
        "delete_orphan_cache": False,
        "delete_orphan_referrers": False,
        "inspect": "true",
        "registry_url": "https://registry.example.com:5050",
        "cache_suffix": "-cache",
        "stale_ref_regex": r"mr-(?P<mr>[0-9]+)|(?P<slug>.+)-[0-9a-f]{8}",
        "stale_ref_min_age": "12h",
        "repository_regex": r"acme/.*",
        "repository_exclude_regex": r".*\.cache",
        "api": "rest",
        "age_from": "created",
        "concurrency": 3,
        "max_deletions": "500",
        "policy_apply": True,
        "policy_enabled": False,
        "policy_cadence": "7d",
        "policy_keep_n": "25",
        "policy_older_than": "30d",
        "policy_name_regex": r"(feature|mr)-.*",
        "policy_name_regex_keep": r"main|release-.*",
        "artifacts_expire_in": "1 week",
        "timeout": "2h 30m",
    },
    "hostile regexes": {
        "keep_regex": HOSTILE,
        "delete_regex": HOSTILE,
        "policy_name_regex": HOSTILE,
        "policy_name_regex_keep": HOSTILE,
        "stale_ref_regex": HOSTILE,
        "repository_regex": HOSTILE,
        "repository_exclude_regex": HOSTILE,
    },
}

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail and not ok else ""))
    return ok


def split_documents(text):
    parts = re.split(r"^---[ \t]*$", text, maxsplit=1, flags=re.M)
    if len(parts) != 2:
        raise SystemExit("template has no `---` between the spec header and the content")
    return parts[0], parts[1]


def validate_inputs(spec, given):
    """GitLab's input validation (interpolation/inputs/*.rb), returning the effective values."""
    values, errors = {}, []
    for name in given:
        if name not in spec:
            errors.append(f"unknown input {name}")
    for name, s in spec.items():
        s = s or {}
        kind = s.get("type", "string")
        value = given.get(name, s.get("default"))
        if value is None:
            errors.append(f"`{name}` input: required value has not been provided")
            continue
        ok_type = {
            "string": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "number": isinstance(value, (int, float)) and not isinstance(value, bool),
            "array": isinstance(value, list),
        }[kind]
        if not ok_type:
            errors.append(f"`{name}` input: provided value is not a {kind}")
        if "options" in s and value not in s["options"]:
            errors.append(f"`{name}` input: `{value}` cannot be used because it is not in the list of allowed options")
        if "regex" in s and not re.search(s["regex"], value):
            errors.append(f"`{name}` input: {value} does not match required regex: {s['regex']}")
        values[name] = value
    return values, errors


def lookup(expr, values):
    expr = expr.strip()
    if "|" in expr:
        raise ValueError(f"interpolation functions are not used here: {expr}")
    if not expr.startswith("inputs."):
        raise ValueError(f"unknown interpolation key: {expr}")
    return values[expr[len("inputs."):]]


def ruby_to_s(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def node_mode(content, values):
    data = yaml.safe_load(content)

    def walk(node):
        if isinstance(node, dict):
            return {walk(k): walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str) and "$[[" in node:
            m = BLOCK.search(node)
            if m and m.group(0) == node:
                return lookup(m.group(1), values)
            return BLOCK.sub(lambda m: ruby_to_s(lookup(m.group(1), values)), node)
        return node

    return walk(data)


def text_mode(content, values):
    def render(m):
        v = lookup(m.group(1), values)
        return v if isinstance(v, str) else json.dumps(v)

    return yaml.safe_load(BLOCK.sub(render, content))


def variable_problems(job):
    """GitLab's Entry::Variable: a string/symbol/integer, or a hash whose `value` is one."""
    problems = []
    for key, value in (job.get("variables") or {}).items():
        if isinstance(value, dict):
            value = value.get("value")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            problems.append(f"{key}={value!r} ({type(value).__name__})")
    return problems


def normalized(config):
    """The configuration as GitLab stores it: variable values become strings (`value.to_s`)."""
    config = json.loads(json.dumps(config))
    for job in config.values():
        if isinstance(job, dict):
            for key, value in (job.get("variables") or {}).items():
                if isinstance(value, dict) and "value" in value:
                    value["value"] = ruby_to_s(value["value"])
                else:
                    job["variables"][key] = ruby_to_s(value)
    return config


def environment(job):
    """The GC_* environment the job's script sees, after the export line of the script."""
    env = {}
    for key, value in (job.get("variables") or {}).items():
        if isinstance(value, dict):
            value = value.get("value")
        env[key] = str(value)
    for line in job.get("script", []):
        if line.startswith("export "):
            for assignment in line[len("export "):].split():
                key, _, value = assignment.partition("=")
                env[key] = value
    return {k: v for k, v in env.items() if k.startswith("GC_")}


def expose_as_problems(artifacts):
    """GitLab's rules for `artifacts:expose_as` and its paths (lib/gitlab/ci/config/entry/artifacts.rb:
    the name matches EXPOSE_AS_REGEX, at most 100 characters, paths are required and hold no `*`;
    doc/ci/yaml/_index.md: paths with CI/CD variables or a leading `./` are not shown, a
    directory must end in `/`; app/services/ci/find_exposed_artifacts_service.rb: at most 10 per
    merge request)."""
    name, paths, problems = artifacts.get("expose_as"), artifacts.get("paths") or [], []
    if not isinstance(name, str) or not re.fullmatch(r"\w[-\w ]*", name, re.ASCII) or len(name) > 100:
        problems.append(f"expose_as {name!r}: only letters, digits, '-', '_' and spaces, at most 100")
    if not paths:
        problems.append("expose_as needs artifacts:paths")
    for path in paths:
        if "*" in path or "$" in path or path.startswith("./"):
            problems.append(f"path {path!r}: no globs, variables or leading ./ with expose_as")
    return problems


def expected_environment(values):
    env = {}
    for name, variable in INPUT_TO_VARIABLE.items():
        env[variable] = ruby_to_s(values[name])
    env.update({"GC_LOG_FILE": "gc.log", "GC_JUNIT_FILE": "gc-junit.xml", "GC_REPORT_FILE": "gc-report.json",
                "GC_HTML_FILE": "gc-report.html", "GC_DOTENV_FILE": "gc.env"})
    return env


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("template")
    parser.add_argument("--schema", help="GitLab CI JSON schema (gitlab-ci.json)")
    parser.add_argument("--cargo-toml", help="Cargo.toml whose version the default image must follow")
    args = parser.parse_args()

    text = open(args.template, encoding="utf-8").read()
    header_text, content = split_documents(text)
    header = yaml.safe_load(header_text)
    spec = header["spec"]["inputs"]

    validator = None
    if args.schema:
        import jsonschema  # shipped with check-jsonschema

        schema = json.load(open(args.schema, encoding="utf-8"))
        validator = jsonschema.Draft7Validator(schema)
        errors = sorted(e.message for e in validator.iter_errors(header))
        check("spec header is valid against the GitLab CI schema", not errors, "; ".join(errors))

    if args.cargo_toml:
        import tomllib

        version = tomllib.load(open(args.cargo_toml, "rb"))["package"]["version"]
        major, minor = version.split(".")[:2]
        series = major if major != "0" else f"0.{minor}"
        image = spec["image"]["default"]
        check(f"default image follows the release series {series} of version {version}",
              image.endswith(f"/ci:{series}"), image)

    check("every input is described", all((s or {}).get("description") for s in spec.values()),
          ", ".join(n for n, s in spec.items() if not (s or {}).get("description")))
    check("every input has a default (the component works with no inputs)",
          all("default" in (s or {}) for s in spec.values()))
    mapped = set(INPUT_TO_VARIABLE) | JOB_INPUTS
    check("inputs are exactly the documented set", set(spec) == mapped,
          f"extra {sorted(set(spec) - mapped)}, missing {sorted(mapped - set(spec))}")
    used = {m.group(1).strip()[len("inputs."):] for m in BLOCK.finditer(content)}
    check("every input is used by the job", used == set(spec), f"unused {sorted(set(spec) - used)}")

    for label, given in INPUT_SETS.items():
        values, errors = validate_inputs(spec, given)
        if not check(f"[{label}] inputs pass GitLab's validation", not errors, "; ".join(errors)):
            continue
        try:
            by_node = node_mode(content, values)
            by_text = text_mode(content, values)
        except (yaml.YAMLError, ValueError) as e:
            check(f"[{label}] interpolates in both modes", False, str(e))
            continue
        same = normalized(by_node) == normalized(by_text)
        check(f"[{label}] node and text interpolation give the same job", same,
              json.dumps([normalized(by_node), normalized(by_text)], default=str)[:2000])
        job_name = f"{values['job_prefix']}registry-gc"
        for mode, config in (("node", by_node), ("text", by_text)):
            job = config.get(job_name)
            if not check(f"[{label}] {mode} mode: one job named {job_name}", job is not None and len(config) == 1,
                         str(list(config))):
                continue
            problems = variable_problems(job)
            check(f"[{label}] {mode} mode: every variable is a string", not problems, ", ".join(problems))
            env, want = environment(job), expected_environment(values)
            diff = {k: (env.get(k), want.get(k)) for k in set(env) | set(want) if env.get(k) != want.get(k)}
            check(f"[{label}] {mode} mode: GC_* environment matches the inputs", not diff, json.dumps(diff))
            check(f"[{label}] {mode} mode: image, stage, timeout, artifacts follow the inputs",
                  job["image"]["name"] == values["image"] and job["image"]["entrypoint"] == [""]
                  and job["stage"] == values["stage"] and job["timeout"] == values["timeout"]
                  and job["artifacts"]["expire_in"] == values["artifacts_expire_in"]
                  and job["artifacts"]["when"] == "always"
                  and job["artifacts"]["reports"]["junit"] == "gc-junit.xml"
                  and job["artifacts"]["reports"]["dotenv"] == "gc.env"
                  and set(job["artifacts"]["paths"]) == {"gc-report.html", "gc.log", "gc-junit.xml", "gc-report.json"},
                  json.dumps(job, default=str))
            check(f"[{label}] {mode} mode: expose_as follows GitLab's rules for its name and paths",
                  not expose_as_problems(job["artifacts"]), "; ".join(expose_as_problems(job["artifacts"])))
            check(f"[{label}] {mode} mode: interruptible, resource_group, rules",
                  job.get("interruptible") is True and bool(job.get("resource_group")) and bool(job.get("rules")))
            if validator is not None:
                wrapped = {"stages": [values["stage"]], **config}
                errors = sorted(f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(wrapped))
                check(f"[{label}] {mode} mode: job is valid against the GitLab CI schema", not errors,
                      "; ".join(errors)[:2000])

    # The invalid input the component tests also run through gitlab-ci-local.
    _, errors = validate_inputs(spec, {"dry_run": "maybe"})
    check("dry_run: maybe is rejected", errors == [
        "`dry_run` input: `maybe` cannot be used because it is not in the list of allowed options"], str(errors))

    failed = results.count(False)
    print(f"check_template: {failed} of {len(results)} checks failed" if failed else f"check_template: all {len(results)} checks ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
