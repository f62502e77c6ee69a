// A headless Chromium driven over the Chrome DevTools Protocol, with Node 22's own WebSocket:
// no npm package, nothing downloaded. Used by check-page.mjs (the report page's browser test)
// and open-time.mjs (the page benchmark).
//
// Chromium runs as root here, on a machine without network: --no-sandbox is needed as root, and
// without the background-networking flags it waits on the closed network.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const START_TIMEOUT_MS = 30_000;

export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/** Starts Chromium; throws with its stderr when it cannot run. */
export async function launch({ width = 1280, height = 900 } = {}) {
  if (typeof WebSocket !== "function") {
    throw new Error(`Node ${process.version} has no WebSocket: Node 22 or later is needed`);
  }
  const profile = mkdtempSync(join(tmpdir(), "registry-gc-chromium-"));
  const args = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
    `--user-data-dir=${profile}`, "--remote-debugging-port=0", `--window-size=${width},${height}`,
    "about:blank",
  ];
  const proc = spawn(CHROMIUM, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(
      `${CHROMIUM} did not open its DevTools port within ${START_TIMEOUT_MS} ms:\n${stderr.slice(-2000)}`)),
      START_TIMEOUT_MS);
    proc.on("error", (e) => { clearTimeout(timer); reject(new Error(`cannot start ${CHROMIUM}: ${e.message}`)); });
    proc.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${CHROMIUM} exited (${code ?? signal}) before it was ready:\n${stderr.slice(-2000)}`));
    });
    proc.stderr.on("data", (chunk) => {
      stderr += chunk;
      const m = stderr.match(/DevTools listening on (ws:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
  });
  const browser = new Browser(ws, proc, profile);
  proc.removeAllListeners("exit");
  return browser;
}

class Browser {
  constructor(ws, proc, profile) {
    this.ws = ws;
    this.proc = proc;
    this.profile = profile;
    this.next = 0;
    this.pending = new Map();
    this.listeners = new Set();
    ws.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.id !== undefined) {
        const waiting = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (!waiting) return;
        if (msg.error) waiting.reject(new Error(`${waiting.method}: ${msg.error.message}`));
        else waiting.resolve(msg.result);
      } else {
        for (const listener of this.listeners) listener(msg);
      }
    };
  }

  send(method, params = {}, sessionId) {
    const id = ++this.next;
    this.ws.send(JSON.stringify({ id, method, params, sessionId }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject, method }));
  }

  /** A new tab, recording every request, console message, exception and dialog. */
  async newPage() {
    const { targetId } = await this.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true });
    const page = new Page(this, sessionId);
    this.listeners.add((msg) => { if (msg.sessionId === sessionId) page.event(msg); });
    for (const domain of ["Page", "Runtime", "Network", "Log"]) await page.send(`${domain}.enable`);
    return page;
  }

  async close() {
    try { await this.send("Browser.close"); } catch { /* already gone */ }
    await new Promise((resolve) => {
      if (this.proc.exitCode !== null) return resolve();
      const timer = setTimeout(() => { this.proc.kill("SIGKILL"); resolve(); }, 5000);
      this.proc.on("exit", () => { clearTimeout(timer); resolve(); });
    });
    rmSync(this.profile, { recursive: true, force: true });
  }
}

class Page {
  constructor(browser, sessionId) {
    this.browser = browser;
    this.sessionId = sessionId;
    this.requests = [];
    this.problems = [];
    this.dialogs = [];
  }

  send(method, params) { return this.browser.send(method, params, this.sessionId); }

  event({ method, params }) {
    if (method === "Network.requestWillBeSent") this.requests.push(params.request.url);
    else if (method === "Runtime.exceptionThrown") {
      this.problems.push(`exception: ${params.exceptionDetails.exception?.description ?? params.exceptionDetails.text}`);
    } else if (method === "Runtime.consoleAPICalled" && ["error", "warning"].includes(params.type)) {
      this.problems.push(`console.${params.type}: ${params.args.map((a) => a.value ?? a.description).join(" ")}`);
    } else if (method === "Log.entryAdded" && ["error", "warning"].includes(params.entry.level)) {
      this.problems.push(`${params.entry.source} ${params.entry.level}: ${params.entry.text}`);
    } else if (method === "Page.javascriptDialogOpening") {
      this.dialogs.push(params.message);
      this.send("Page.handleJavaScriptDialog", { accept: false }).catch(() => {});
    }
  }

  /** Opens a local file; resolves with the wall time to `ready` being true, in ms. */
  async open(path, ready, timeoutMs = 30_000) {
    const url = pathToFileURL(path).href;
    const started = performance.now();
    await this.send("Page.navigate", { url });
    await this.waitFor(ready, timeoutMs);
    return { url, wallMs: performance.now() - started };
  }

  async evaluate(expression) {
    const r = await this.send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) {
      throw new Error(`${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    }
    return r.result.value;
  }

  async waitFor(expression, timeoutMs = 10_000) {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      let value;
      try { value = await this.evaluate(expression); } catch { value = undefined; }
      if (value) return value;
      if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expression}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Clicks the middle of the element, as a mouse does. */
  async click(selector) {
    const box = await this.evaluate(`(() => { const e = document.querySelector(${JSON.stringify(selector)});
      if (!e) return null; e.scrollIntoView({block: "center"}); const r = e.getBoundingClientRect();
      return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()`);
    if (!box) throw new Error(`no element ${selector}`);
    for (const type of ["mousePressed", "mouseReleased"]) {
      await this.send("Input.dispatchMouseEvent", { type, x: box.x, y: box.y, button: "left", clickCount: 1 });
    }
  }

  /** Replaces the text of an input as a person types it (focus, select all, type). */
  async type(selector, text) {
    await this.click(selector);
    await this.evaluate(`document.querySelector(${JSON.stringify(selector)}).select()`);
    await this.send("Input.dispatchKeyEvent", { type: "rawKeyDown", key: "Backspace", code: "Backspace", windowsVirtualKeyCode: 8 });
    await this.send("Input.dispatchKeyEvent", { type: "keyUp", key: "Backspace", code: "Backspace", windowsVirtualKeyCode: 8 });
    if (text) await this.send("Input.insertText", { text });
  }

  /** Picks an option of a select by its visible text and fires `change`, as a choice does. */
  async choose(selector, label) {
    const ok = await this.evaluate(`(() => { const s = document.querySelector(${JSON.stringify(selector)});
      const o = Array.from(s.options).find((o) => o.textContent === ${JSON.stringify(label)});
      if (!o) return false; s.value = o.value; s.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`);
    if (!ok) throw new Error(`${selector} has no option ${label}`);
  }

  async screenshot(path, { width = 1280, height = 900 } = {}) {
    await this.send("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile: false });
    await this.evaluate("window.scrollTo(0, 0)");
    const { data } = await this.send("Page.captureScreenshot", { format: "png" });
    writeFileSync(path, Buffer.from(data, "base64"));
  }
}
