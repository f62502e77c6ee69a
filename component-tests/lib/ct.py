#!/usr/bin/env python3
"""Small helpers for run-component-tests.sh (python3 stdlib only).

  ct.py snapshot URL TOKEN PROJECT_ID...   tags of the projects' repositories, as JSON
                                           {"project/repo": ["tag", ...]}, read through the API
  ct.py policy URL TOKEN PROJECT_ID        the project's container_expiration_policy, as JSON
  ct.py junit FILE                         counts of a JUnit file: suites, cases, skipped,
                                           failures, errors, passed (JSON); fails on bad XML
  ct.py report FILE                        dry_run, summary and settings of gc-report.json (JSON)
  ct.py get FILE KEY.PATH                  one value of a JSON file (dotted path), printed raw
  ct.py dotenv FILE                        the variables of a dotenv report (JSON), after GitLab's
                                           checks of one (see dotenv()); fails when one fails
"""

import json
import re
import sys
import urllib.request
import xml.etree.ElementTree as ET


def get(url, token):
    req = urllib.request.Request(url, headers={"PRIVATE-TOKEN": token})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp), resp.headers


def paged(url, token):
    page = "1"
    while page:
        sep = "&" if "?" in url else "?"
        items, headers = get(f"{url}{sep}per_page=100&page={page}", token)
        yield from items
        page = headers.get("X-Next-Page") or ""


def snapshot(base, token, projects):
    tags = {}
    for pid in projects:
        for repo in paged(f"{base}/projects/{pid}/registry/repositories", token):
            names = [t["name"] for t in paged(f"{base}/projects/{pid}/registry/repositories/{repo['id']}/tags", token)]
            tags[repo["path"]] = sorted(names)
    return tags


def junit(path):
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall(".//testsuite")
    counts = {"suites": len(suites), "cases": 0, "skipped": 0, "failures": 0, "errors": 0, "passed": 0,
              "skipped_messages": []}
    for case in root.iter("testcase"):
        counts["cases"] += 1
        if case.find("skipped") is not None:
            counts["skipped"] += 1
            counts["skipped_messages"].append(case.find("skipped").get("message", ""))
        elif case.find("failure") is not None:
            counts["failures"] += 1
        elif case.find("error") is not None:
            counts["errors"] += 1
        else:
            counts["passed"] += 1
    counts["skipped_messages"] = counts["skipped_messages"][:3]
    return counts


def dotenv(path):
    """GitLab's checks of a dotenv report: app/services/ci/parse_dotenv_artifact_service.rb
    (smaller than dotenv_size, 5 KB by default; every line matches /^(.*?)=(.*)$/, both sides
    stripped; at most dotenv_variables, 20 by default on self-managed), the key format of
    app/models/concerns/ci/has_variable.rb, and doc/ci/yaml/artifacts_reports.md (no empty
    lines or comments, no spaces or quotes in values, UTF-8)."""
    data = open(path, "rb").read()
    if len(data) >= 5 * 1024:
        raise SystemExit(f"{path}: {len(data)} bytes, not under GitLab's 5 KB dotenv_size")
    variables = {}
    for line in data.decode("utf-8").splitlines():
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not re.fullmatch(r"[a-zA-Z0-9_]{1,255}", key):
            raise SystemExit(f"{path}: not a KEY=VALUE line GitLab accepts: {line!r}")
        if re.search(r"[\s'\"]", value):
            raise SystemExit(f"{path}: {key}: GitLab keeps spaces and quotes literally: {value!r}")
        variables[key] = value
    if len(variables) > 20:
        raise SystemExit(f"{path}: {len(variables)} variables, more than GitLab's default limit of 20")
    return variables


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "snapshot":
        out = snapshot(args[0], args[1], args[2:])
    elif cmd == "policy":
        project, _ = get(f"{args[0]}/projects/{args[2]}", args[1])
        out = project.get("container_expiration_policy")
    elif cmd == "junit":
        out = junit(args[0])
    elif cmd == "dotenv":
        out = dotenv(args[0])
    elif cmd == "report":
        report = json.load(open(args[0], encoding="utf-8"))
        out = {k: report.get(k) for k in ("dry_run", "mode_reason", "scope", "summary", "settings", "stopped",
                                          "policies", "errors")}
    elif cmd == "get":
        value = json.load(open(args[0], encoding="utf-8"))
        for key in args[1].split("."):
            value = value[int(key)] if isinstance(value, list) else value[key]
        print(value if isinstance(value, str) else json.dumps(value))
        return 0
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
