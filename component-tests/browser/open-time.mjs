// Opening time of a report page in headless Chromium, for the page benchmark
// (component-tests/bench/page.py).
//
//   node open-time.mjs PAGE.html [RUNS]
//
// Prints one JSON object: `open_ms` (per run: navigation to the first page of the table, as
// the page measures it), `wall_ms` (per run, as this script measures it), `filter_ms` (typing
// a word in the filter box to the filtered table, the page's 120 ms debounce included),
// `sort_ms` (a click on a column header to the sorted table), `requests` (other than the page
// itself) and `problems` (script errors, console errors, policy violations).

import { launch } from "./cdp.mjs";

const [path, runs = "3"] = process.argv.slice(2);
const browser = await launch();
const result = { open_ms: [], wall_ms: [], filter_ms: null, sort_ms: null, requests: [], problems: [] };
try {
  let page;
  for (let i = 0; i < Number(runs); i++) {
    page = await browser.newPage();
    const { url, wallMs } = await page.open(path, "document.documentElement.dataset.ready", 120_000);
    result.open_ms.push(Number(await page.evaluate("document.documentElement.dataset.ready")));
    result.wall_ms.push(Math.round(wallMs));
    result.requests.push(...page.requests.filter((r) => r !== url));
    result.problems.push(...page.problems);
  }
  const total = await page.evaluate(`document.getElementById("table").dataset.total`);
  let t = performance.now();
  await page.type("#q", "feature");
  await page.waitFor(`document.getElementById("table").dataset.shown !== "${total}"`, 60_000);
  result.filter_ms = Math.round(performance.now() - t);
  t = performance.now();
  await page.click('th[data-col="tag"] button');
  await page.waitFor(`document.querySelector('th[data-col="tag"]').getAttribute("aria-sort")`, 60_000);
  result.sort_ms = Math.round(performance.now() - t);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
