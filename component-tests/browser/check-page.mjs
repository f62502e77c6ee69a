// The report page in a real browser: opens gc-report.html from file:// in headless Chromium
// and checks it against gc-report.json of the same run.
//
//   node check-page.mjs PAGE.html REPORT.json [--screenshot OUT.png]
//
// Prints one line per check, `ok …` or `FAIL …: why`, and `info …` lines (opening time), and
// exits 1 when a check fails. A Chromium that cannot run is a failure, never a skip.

import { readFileSync } from "node:fs";
import { launch } from "./cdp.mjs";

const [pagePath, reportPath, ...rest] = process.argv.slice(2);
const screenshot = rest[0] === "--screenshot" ? rest[1] : null;
if (!pagePath || !reportPath) {
  console.error("usage: check-page.mjs PAGE.html REPORT.json [--screenshot OUT.png]");
  process.exit(2);
}

let failed = 0;
function check(name, ok, detail = "") {
  if (ok) console.log(`ok   ${name}`);
  else { failed++; console.log(`FAIL ${name}${detail ? `: ${detail}` : ""}`); }
  return ok;
}

const report = JSON.parse(readFileSync(reportPath, "utf8"));
const tags = report.repositories.flatMap((r) => r.tags.map((t) => ({ ...t, repo: r.path })));
const summary = report.summary;

let browser;
try {
  browser = await launch();
} catch (e) {
  check("headless Chromium runs", false, e.message);
  process.exit(1);
}
try {
  await run(await browser.newPage());
} catch (e) {
  check("the page can be driven", false, e.stack);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);

async function run(page) {
  const { url, wallMs } = await page.open(pagePath, "document.documentElement.dataset.ready");
  const pageMs = Number(await page.evaluate("document.documentElement.dataset.ready"));
  console.log(`info open ${tags.length} tags: ${pageMs} ms from navigation to the first table page (${Math.round(wallMs)} ms wall)`);
  check(`the page opens and shows its table (${tags.length} tags)`, true);
  if (screenshot) {
    await page.screenshot(screenshot, { width: 1280, height: 1000 });
    check(`screenshot written to ${screenshot}`, true);
  }

  // Cards: every figure is gc-report.json's.
  const cards = await page.evaluate(`Array.from(document.querySelectorAll("#cards .card")).map((c) => ({
    key: c.dataset.key, value: c.dataset.value, figure: c.querySelector(".figure").textContent }))`);
  const wanted = [report.dry_run ? "would_delete" : "deleted", "kept", "errors", "bytes_reclaimed"];
  check("cards: " + wanted.join(", "), wanted.every((k) => cards.some((c) => c.key === k)),
    JSON.stringify(cards));
  for (const card of cards) {
    const want = summary[card.key];
    const shown = card.key === "bytes_reclaimed" ? card.value : card.figure.replace(/,/g, "");
    check(`card ${card.key} = gc-report.json summary.${card.key} (${want})`,
      String(want) === card.value && String(want) === shown, JSON.stringify(card));
  }

  // The chart's bars add up to the bytes reclaimed; counts by rule are the report's.
  const bars = await page.evaluate(`Array.from(document.querySelectorAll("#chart .bar")).map((b) => Number(b.dataset.bytes))`);
  check(`chart: ${bars.length} bars add up to bytes_reclaimed`,
    bars.reduce((a, b) => a + b, 0) === summary.bytes_reclaimed && bars.every((b, i) => i === 0 || b <= bars[i - 1] || i === bars.length - 1),
    JSON.stringify(bars));
  const byRule = await page.evaluate(`Object.fromEntries(Array.from(document.querySelectorAll("#rules tr[data-rule]")).flatMap((tr) =>
    Array.from(tr.querySelectorAll("td[data-verb]")).map((td) => [tr.dataset.rule + "/" + td.dataset.verb, Number(td.textContent.replace(/,/g, ""))])))`);
  const expected = {};
  for (const t of tags) expected[`${t.rule}/${t.outcome}`] = (expected[`${t.rule}/${t.outcome}`] || 0) + 1;
  check("tags by rule: every count is gc-report.json's", JSON.stringify(sorted(byRule)) === JSON.stringify(sorted(expected)),
    `${JSON.stringify(sorted(byRule))} vs ${JSON.stringify(sorted(expected))}`);

  // The table holds every tag; the first page 100 of them.
  const total = Number(await page.evaluate(`document.getElementById("table").dataset.total`));
  const firstPage = await page.evaluate(`document.querySelectorAll("#rows tr").length`);
  check(`table: ${tags.length} rows, ${Math.min(100, tags.length)} on the first page`,
    total === tags.length && firstPage === Math.min(100, Math.max(1, tags.length)), `${total}, ${firstPage}`);
  if (tags.length > 100) {
    await page.click("#next");
    const shown = await page.evaluate(`document.getElementById("count").textContent`);
    check("paging: the next page shows tags 101–200", shown.startsWith("tags 101–200 of"), shown);
    await page.click("#first");
  }

  // The action filter counts what the summary counts.
  const verb = report.dry_run ? "would-delete" : "deleted";
  const verbCount = tags.filter((t) => t.outcome === verb).length;
  if (verbCount > 0) {
    await page.choose('select[data-filter="verb"]', verb);
    const shown = await shown_count(page);
    check(`action filter ${verb}: ${verbCount} rows`, shown === verbCount, `${shown}`);
    await page.choose('select[data-filter="verb"]', "any");
  }

  // Filter to one tag by typing its repository and exact name.
  const names = new Map();
  for (const t of tags) names.set(t.name, (names.get(t.name) || 0) + 1);
  const one = tags.find((t) => t.outcome === verb && names.get(t.name) === 1) || tags.find((t) => names.get(t.name) === 1);
  if (check("the run has a tag whose name is unique", one !== undefined)) {
    await page.type('input[data-filter="repo"]', one.repo);
    await page.type('input[data-filter="tag"]', "=" + one.name);
    await page.waitFor(`document.getElementById("table").dataset.shown === "1"`, 5000).catch(() => {});
    const cells = await page.evaluate(`Array.from(document.querySelectorAll("#rows tr")).map((tr) => Array.from(tr.cells).map((td) => td.textContent))`);
    check(`filters to one tag: ${one.repo}:${one.name}`, cells.length === 1 &&
      cells[0][0] === one.repo && cells[0][1] === one.name && cells[0][2] === one.outcome &&
      cells[0][3] === one.rule && cells[0][4] === one.reason, JSON.stringify(cells));
    await page.type('input[data-filter="repo"]', "");
    await page.type('input[data-filter="tag"]', "");
    await page.waitFor(`document.getElementById("table").dataset.shown === "${tags.length}"`, 5000).catch(() => {});
  }

  // Sorting by size, largest first (a second click reverses the first).
  const largest = Math.max(-1, ...tags.map((t) => t.size ?? -1));
  if (largest >= 0) {
    await page.click('th[data-col="size"] button');
    await page.click('th[data-col="size"] button');
    const top = await page.evaluate(`[document.querySelector("#rows tr td.num").title,
      document.querySelector('th[data-col="size"]').getAttribute("aria-sort")]`);
    check("sorting by size puts the largest tag first",
      top[0] === largest.toLocaleString("en-US") + " bytes" && top[1] === "descending", JSON.stringify(top));
  }

  // Hostile tag names are text: found by their exact name, shown as they are, nothing injected.
  const hostile = [...new Set(tags.map((t) => t.name).filter((n) => /[<>&"'\u2028\u2029]/.test(n)))].slice(0, 6);
  for (const name of hostile) {
    await page.type("#q", "=" + name);
    const want = names.get(name);
    const cells = `Array.from(document.querySelectorAll("#rows td.tag")).map((td) => td.textContent)`;
    // The filter applies after a pause in typing: wait for this name's rows (or time out).
    await page.waitFor(`(() => { const c = ${cells}; return c.length === ${want} && c.every((t) => t === ${JSON.stringify(name)}); })()`, 5000)
      .catch(() => {});
    const seen = await page.evaluate(cells);
    const injected = await page.evaluate(`document.querySelectorAll("#rows *:not(tr):not(td)").length + document.querySelectorAll("body script").length`);
    check(`hostile tag name ${JSON.stringify(name)} is text`,
      seen.length === want && seen.every((s) => s === name) && injected === 2 && await page.evaluate("window.__pwned === undefined"),
      `cells ${JSON.stringify(seen)}, script or other elements ${injected}`);
  }
  if (hostile.length > 0) await page.type("#q", "");

  check("no dialog opened", page.dialogs.length === 0, JSON.stringify(page.dialogs));
  check("no script error, console error or policy violation", page.problems.length === 0, page.problems.join("\n"));
  const others = page.requests.filter((r) => r !== url);
  check("the page makes no network request (only its own file is loaded)", others.length === 0 && page.requests.length === 1,
    JSON.stringify(page.requests.slice(0, 10)));
}

async function shown_count(page) {
  return Number(await page.evaluate(`document.getElementById("table").dataset.shown`));
}

function sorted(object) {
  return Object.fromEntries(Object.entries(object).sort());
}
