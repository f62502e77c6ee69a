#!/usr/bin/env python3
"""Checks that the inputs table of a Markdown document matches the component's spec:inputs.

usage: check_docs_inputs.py TEMPLATE DOC
  TEMPLATE  the component, e.g. templates/registry-gc.yml
  DOC       the Markdown file with the table, e.g. README.md

The table is the first one whose header row starts with `| Input | Type | Default |`. Each row
names one input in backticks; the check wants the same inputs in the same order, the same type,
the same default (`""` stands for the empty string, `\\|` for `|` as GitHub/GitLab Markdown
tables require), and every allowed option of an input with `options:` written in its row. It also
checks that every `inputs:` example in the document's YAML blocks uses only known inputs with
values GitLab would accept. Exits 1 and names each mismatch otherwise.
"""

import re
import sys

import yaml


def load_spec(path):
    text = open(path, encoding="utf-8").read()
    header = re.split(r"^---[ \t]*$", text, maxsplit=1, flags=re.M)[0]
    return yaml.safe_load(header)["spec"]["inputs"]


def split_row(line):
    # Cells are separated by | that is not escaped as \|.
    cells = re.split(r"(?<!\\)\|", line.strip())
    return [c.strip() for c in cells[1:-1]]


def load_table(path):
    lines = open(path, encoding="utf-8").read().splitlines()
    for i, line in enumerate(lines):
        cells = split_row(line) if line.strip().startswith("|") else []
        if [c.lower() for c in cells[:3]] == ["input", "type", "default"]:
            rows = []
            for row in lines[i + 2:]:
                if not row.strip().startswith("|"):
                    break
                rows.append([c.replace("\\|", "|") for c in split_row(row)])
            return rows
    return None


def code(cell):
    m = re.fullmatch(r"`(.*)`", cell)
    return m.group(1) if m else None


def render_default(value):
    if value == "":
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def yaml_examples(path):
    text = open(path, encoding="utf-8").read()
    for block in re.findall(r"```ya?ml\n(.*?)```", text, flags=re.S):
        try:
            data = yaml.safe_load(block)
        except yaml.YAMLError as e:
            yield None, f"YAML example does not parse: {e}"
            continue
        for include in (data or {}).get("include", []) if isinstance(data, dict) else []:
            if isinstance(include, dict) and "component" in include:
                yield include.get("inputs") or {}, None


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    template, doc = sys.argv[1:]
    spec = load_spec(template)
    rows = load_table(doc)
    problems = []
    if rows is None:
        problems.append(f"{doc}: no table whose header starts with | Input | Type | Default |")
        rows = []

    documented = []
    for row in rows:
        if len(row) < 4:
            problems.append(f"row with {len(row)} cells: {row}")
            continue
        name = code(row[0])
        if name is None:
            problems.append(f"input name not in backticks: {row[0]}")
            continue
        documented.append(name)
        if name not in spec:
            problems.append(f"`{name}` is documented but is not an input of {template}")
            continue
        s = spec[name] or {}
        want_type = s.get("type", "string")
        if row[1] != want_type:
            problems.append(f"`{name}`: type is {want_type} in the template, {row[1]} in the table")
        want_default = render_default(s.get("default"))
        if code(row[2]) != want_default:
            problems.append(f"`{name}`: default is `{want_default}` in the template, {row[2]} in the table")
        for option in s.get("options", []):
            if f"`{option}`" not in " ".join(row[1:]):
                problems.append(f"`{name}`: option `{option}` is not written in its row")

    missing = [n for n in spec if n not in documented]
    if missing:
        problems.append(f"inputs missing from the table: {', '.join(missing)}")
    if not missing and [n for n in documented if n in spec] != list(spec):
        problems.append("the table lists the inputs in another order than the template")

    examples = 0
    for inputs, error in yaml_examples(doc):
        if error:
            problems.append(error)
            continue
        examples += 1
        for name, value in inputs.items():
            s = spec.get(name)
            if s is None:
                problems.append(f"example uses unknown input `{name}`")
                continue
            kind = (s or {}).get("type", "string")
            ok = {"string": isinstance(value, str), "boolean": isinstance(value, bool),
                  "number": isinstance(value, (int, float)) and not isinstance(value, bool)}.get(kind, True)
            if not ok:
                problems.append(f"example gives `{name}` a {type(value).__name__}, the input is a {kind}")
            elif "options" in s and value not in s["options"]:
                problems.append(f"example gives `{name}` `{value}`, not one of its options")
            elif "regex" in s and not re.search(s["regex"], value):
                problems.append(f"example gives `{name}` `{value}`, which does not match {s['regex']}")

    for p in problems:
        print(f"FAIL {p}")
    status = "out of date" if problems else "in sync"
    print(f"check_docs_inputs: {doc} is {status} with {template} ({len(documented)} inputs, {examples} examples)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
