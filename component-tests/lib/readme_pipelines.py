#!/usr/bin/env python3
"""Turns the README's marked examples into pipelines, so the component tests run them as written.

usage: readme_pipelines.py README OUTDIR

Every YAML block right after a line `<!-- component-test: NAME -->` becomes OUTDIR/readme-NAME.yml.
Only the component's address changes: users include `$CI_SERVER_FQDN/registry-gc/registry-gc/
registry-gc@<version>` from the CI/CD Catalog; the tests include this checkout's template the way
gitlab-ci-local resolves a component of the project itself. Every other byte is the README's, so
the examples cannot drift from what is tested. Exits 1 if a marker has no YAML block after it or a
block includes no component by that address.
"""

import re
import sys

CATALOG = re.compile(r"\$CI_SERVER_FQDN/registry-gc/registry-gc/registry-gc@[0-9][0-9.]*")
LOCAL = "$CI_SERVER_FQDN/$CI_PROJECT_PATH/registry-gc@$CI_COMMIT_SHA"
MARKED = re.compile(r"^<!-- component-test: ([a-z0-9-]+) -->\n```ya?ml\n(.*?)^```", re.M | re.S)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    readme, outdir = sys.argv[1:]
    text = open(readme, encoding="utf-8").read()
    markers = re.findall(r"^<!-- component-test: ([a-z0-9-]+) -->", text, flags=re.M)
    blocks = MARKED.findall(text)
    problems = []
    if len(blocks) != len(markers):
        problems.append(f"{len(markers)} markers but {len(blocks)} YAML blocks right after one")
    for name, block in blocks:
        if not CATALOG.search(block):
            problems.append(f"{name}: the block includes no component from the catalog address")
            continue
        with open(f"{outdir}/readme-{name}.yml", "w", encoding="utf-8") as out:
            out.write(f"# Generated from {readme} (<!-- component-test: {name} -->) by readme_pipelines.py.\n")
            out.write(CATALOG.sub(lambda _: LOCAL, block))
        print(f"readme-{name}.yml")
    for p in problems:
        print(f"FAIL {p}", file=sys.stderr)
    if not blocks:
        print("FAIL no marked examples", file=sys.stderr)
    return 1 if problems or not blocks else 0


if __name__ == "__main__":
    sys.exit(main())
