#!/usr/bin/env python3
"""The report page at scale: gc-report.html's size, raw and deflated (as GitLab's artifact zip
stores it), and its opening time in headless Chromium, at 1k, 10k and 100k tags.

Each size is a dry run of the release registry-gc against a fresh fake-gitlab loaded with the
benchmark's fixture (model.py), as bench.py runs it; the page is then opened from file:// by
component-tests/browser/open-time.mjs (Node 22, Chromium over the DevTools protocol), three
times. Standard library only. See component-tests/bench/README.md.
"""

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
import model  # noqa: E402

OPEN_TIME = os.path.join(HERE, "..", "browser", "open-time.mjs")

# The page's budget: its frame (style, script, cards, chart: about 22 KB raw, 6 KB deflated)
# plus bytes per tag, the opening time and the response to a filter.
FRAME_RAW, RAW_PER_TAG = 32 * 1024, 100
FRAME_DEFLATED, DEFLATED_PER_TAG = 8 * 1024, 25
OPEN_MS = 3000
FILTER_MS = 1500


def deflated_size(path):
    """The page's size in a zip archive with deflate, as GitLab Runner uploads artifacts."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(path, "gc-report.html")
    with zipfile.ZipFile(buffer) as archive:
        return archive.getinfo("gc-report.html").compress_size


def measure(args, size):
    path, fixture = bench.write_fixture(args, size)
    tags = model.count_tags(fixture)
    workdir = tempfile.mkdtemp(prefix=f"page-{size}-", dir=args.tmp)
    fake = bench.Fake(args.fake, path, workdir, {})
    try:
        run = bench.run_gc(args, fake, workdir, {"GC_DRY_RUN": "true"})
    finally:
        fake.stop()
    if run["code"] != 0:
        raise SystemExit(f"registry-gc exited {run['code']}: see {workdir}/gc.err")
    page = os.path.join(workdir, "gc-report.html")
    out = subprocess.run([args.node, OPEN_TIME, page, str(args.runs)], capture_output=True,
                         text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"open-time.mjs failed:\n{out.stdout}\n{out.stderr}")
    timing = json.loads(out.stdout.strip().splitlines()[-1])
    raw = os.path.getsize(page)
    deflated = deflated_size(page)
    row = {
        "tags": tags, "raw": raw, "deflated": deflated, "rss_mb": run["rss_mb"],
        "open_ms": statistics.median(timing["open_ms"]), "wall_ms": statistics.median(timing["wall_ms"]),
        "filter_ms": timing["filter_ms"], "sort_ms": timing["sort_ms"],
        "requests": timing["requests"], "problems": timing["problems"],
    }
    print(f"  {tags} tags: {raw} bytes raw ({raw / tags:.1f}/tag), {deflated} deflated "
          f"({deflated / tags:.1f}/tag); opens in {row['open_ms']:.0f} ms (runs {timing['open_ms']}), "
          f"filter {row['filter_ms']} ms, sort {row['sort_ms']} ms; registry-gc peak RSS "
          f"{run['rss_mb']:.1f} MB", flush=True)
    bench.check(f"{tags} tags: deflated page <= {FRAME_DEFLATED // 1024} KB + {DEFLATED_PER_TAG} bytes per tag",
                deflated <= FRAME_DEFLATED + DEFLATED_PER_TAG * tags, f"{deflated} bytes, {deflated / tags:.1f} per tag")
    bench.check(f"{tags} tags: raw page <= {FRAME_RAW // 1024} KB + {RAW_PER_TAG} bytes per tag",
                raw <= FRAME_RAW + RAW_PER_TAG * tags, f"{raw} bytes, {raw / tags:.1f} per tag")
    bench.check(f"{tags} tags: opens in <= {OPEN_MS} ms", row["open_ms"] <= OPEN_MS,
                f"{row['open_ms']:.0f} ms")
    bench.check(f"{tags} tags: a filter answers in <= {FILTER_MS} ms", row["filter_ms"] <= FILTER_MS,
                f"{row['filter_ms']} ms")
    bench.check(f"{tags} tags: no request, no error", not row["requests"] and not row["problems"],
                json.dumps(row["requests"][:5] + row["problems"][:5]))
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", default="1000,10000,100000", help="comma-separated tag counts")
    p.add_argument("--runs", type=int, default=3, help="openings per size (the median is shown)")
    p.add_argument("--gc", required=True, help="registry-gc release binary")
    p.add_argument("--fake", required=True, help="fake-gitlab release binary")
    p.add_argument("--node", required=True, help="Node 22 or later")
    p.add_argument("--time", default="/usr/bin/time")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args()
    args.tmp = tempfile.mkdtemp(prefix="registry-gc-page-")
    print(f"registry-gc report page {time.strftime('%Y-%m-%d %H:%M:%S %Z')} on "
          f"{os.cpu_count()} CPUs; work dir {args.tmp}", flush=True)
    rows = []
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            rows.append(measure(args, size))
    finally:
        if not args.keep:
            shutil.rmtree(args.tmp, ignore_errors=True)
    print("\n| tags | raw bytes | raw / tag | deflated bytes | deflated / tag | open ms (median) "
          "| filter ms | sort ms |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['tags']} | {r['raw']} | {r['raw'] / r['tags']:.1f} | {r['deflated']} | "
              f"{r['deflated'] / r['tags']:.1f} | {r['open_ms']:.0f} | {r['filter_ms']} | "
              f"{r['sort_ms']} |")
    return bench.report_targets()


if __name__ == "__main__":
    sys.exit(main())
