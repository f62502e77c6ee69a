(function () {
  "use strict";
  // The decision table of gc-report.html. Data comes from the JSON block and reaches the page
  // through textContent only: tag names, paths and reasons are the server's words, never markup.
  var data = JSON.parse(document.getElementById("gc-data").textContent);
  var rows = data.rows, repos = data.repos, verbs = data.verbs, rules = data.rules;
  var PAGE = 100;
  var NOT_INSPECTED = "not inspected";
  var table = document.getElementById("table");
  var tbody = document.getElementById("rows");
  var filters = { q: "", repo: "", tag: "", verb: "", rule: "", reason: "", size: "", kind: "" };
  var sortCol = null, sortDir = 1, page = 0, view = [];
  var lowRepos = repos.map(function (r) { return r.toLowerCase(); });
  var lowTags = null, lowReasons = null;

  function kindOf(row) { return row[6] === null ? NOT_INSPECTED : row[6]; }

  function bytes(n) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], u = 0, v = n;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return u === 0 ? n + " B" : v.toFixed(1) + " " + units[u];
  }

  function count(n) { return n.toLocaleString("en-US"); }

  // A text filter: "=x" matches x exactly, anything else is a case-insensitive substring.
  function textFilter(f) {
    if (!f) return null;
    if (f.charAt(0) === "=") {
      var exact = f.slice(1);
      return function (raw) { return raw === exact; };
    }
    var needle = f.toLowerCase();
    return function (raw, low) { return low.indexOf(needle) !== -1; };
  }

  function lowered() {
    if (lowTags) return;
    lowTags = new Array(rows.length);
    lowReasons = new Array(rows.length);
    for (var i = 0; i < rows.length; i++) {
      lowTags[i] = rows[i][1].toLowerCase();
      lowReasons[i] = rows[i][4].toLowerCase();
    }
  }

  function apply() {
    var repo = textFilter(filters.repo), tag = textFilter(filters.tag), reason = textFilter(filters.reason);
    var q = filters.q, qExact = q.charAt(0) === "=" ? q.slice(1) : null, qLow = q.toLowerCase();
    var verb = filters.verb === "" ? -1 : +filters.verb;
    var rule = filters.rule === "" ? -1 : +filters.rule;
    var minSize = filters.size === "" ? 0 : +filters.size;
    var kind = filters.kind;
    if (q || tag || reason) lowered();
    view = [];
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      if (verb >= 0 && r[2] !== verb) continue;
      if (rule >= 0 && r[3] !== rule) continue;
      if (minSize > 0 && !(r[5] >= minSize)) continue;
      if (kind && kindOf(r) !== kind) continue;
      if (repo && !repo(repos[r[0]], lowRepos[r[0]])) continue;
      if (tag && !tag(r[1], lowTags[i])) continue;
      if (reason && !reason(r[4], lowReasons[i])) continue;
      if (qExact !== null) {
        if (r[1] !== qExact) continue;
      } else if (q && lowTags[i].indexOf(qLow) === -1 && lowRepos[r[0]].indexOf(qLow) === -1 &&
                 lowReasons[i].indexOf(qLow) === -1) {
        continue;
      }
      view.push(i);
    }
    sort();
    page = 0;
    render();
  }

  function sortKey(col) {
    switch (col) {
      case "repo": return function (r) { return repos[r[0]]; };
      case "tag": return function (r) { return r[1]; };
      case "verb": return function (r) { return verbs[r[2]]; };
      case "rule": return function (r) { return rules[r[3]]; };
      case "reason": return function (r) { return r[4]; };
      case "size": return function (r) { return r[5] === null ? -1 : r[5]; };
      default: return kindOf;
    }
  }

  function sort() {
    if (!sortCol) return;
    var key = sortKey(sortCol), keys = new Array(rows.length);
    for (var n = 0; n < view.length; n++) keys[view[n]] = key(rows[view[n]]);
    view.sort(function (a, b) {
      var x = keys[a], y = keys[b];
      return x < y ? -sortDir : x > y ? sortDir : a - b;
    });
  }

  function cell(tr, text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    tr.appendChild(td);
    return td;
  }

  function render() {
    var pages = Math.max(1, Math.ceil(view.length / PAGE));
    if (page >= pages) page = pages - 1;
    var start = page * PAGE, end = Math.min(view.length, start + PAGE);
    var frag = document.createDocumentFragment();
    for (var n = start; n < end; n++) {
      var r = rows[view[n]];
      var tr = document.createElement("tr");
      tr.className = "v-" + verbs[r[2]];
      cell(tr, repos[r[0]]);
      cell(tr, r[1], "tag");
      cell(tr, verbs[r[2]], "verb");
      cell(tr, rules[r[3]], "rule");
      cell(tr, r[4], "reason");
      var size = cell(tr, r[5] === null ? "–" : bytes(r[5]), "num");
      if (r[5] !== null) size.title = count(r[5]) + " bytes";
      cell(tr, kindOf(r), r[6] === null ? "none" : "");
      frag.appendChild(tr);
    }
    if (view.length === 0) {
      var empty = document.createElement("tr");
      var td = cell(empty, rows.length ? "No tag matches these filters." : "No tags.", "none");
      td.colSpan = 7;
      frag.appendChild(empty);
    }
    tbody.replaceChildren(frag);
    table.setAttribute("data-shown", String(view.length));
    document.getElementById("count").textContent = view.length === 0 ? "" :
      "tags " + count(start + 1) + "–" + count(end) + " of " + count(view.length) +
      (view.length === rows.length ? "" : " (filtered from " + count(rows.length) + ")");
    document.getElementById("page").textContent = "page " + count(page + 1) + " of " + count(pages);
    document.getElementById("first").disabled = document.getElementById("prev").disabled = page === 0;
    document.getElementById("next").disabled = document.getElementById("last").disabled = page >= pages - 1;
  }

  function options(name, labels) {
    var select = document.querySelector('select[data-filter="' + name + '"]');
    labels.forEach(function (label, i) {
      var option = document.createElement("option");
      option.value = name === "kind" ? label : String(i);
      option.textContent = label;
      select.appendChild(option);
    });
  }

  var kinds = {};
  for (var i = 0; i < rows.length; i++) kinds[kindOf(rows[i])] = true;
  options("verb", verbs);
  options("rule", rules);
  options("kind", Object.keys(kinds).sort());
  table.setAttribute("data-total", String(rows.length));

  var timer = null;
  function later() { clearTimeout(timer); timer = setTimeout(apply, 120); }
  document.getElementById("q").addEventListener("input", function (e) { filters.q = e.target.value; later(); });
  Array.prototype.forEach.call(document.querySelectorAll("[data-filter]"), function (el) {
    var name = el.getAttribute("data-filter");
    el.addEventListener(el.tagName === "SELECT" ? "change" : "input", function () {
      filters[name] = el.value;
      if (el.tagName === "SELECT") apply(); else later();
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("th[data-col] button"), function (button) {
    button.addEventListener("click", function () {
      var th = button.parentNode, col = th.getAttribute("data-col");
      sortDir = sortCol === col ? -sortDir : 1;
      sortCol = col;
      Array.prototype.forEach.call(document.querySelectorAll("th[data-col]"), function (other) {
        other.removeAttribute("aria-sort");
      });
      th.setAttribute("aria-sort", sortDir === 1 ? "ascending" : "descending");
      sort();
      page = 0;
      render();
    });
  });
  function go(to) { return function () { page = to(); render(); }; }
  document.getElementById("first").addEventListener("click", go(function () { return 0; }));
  document.getElementById("prev").addEventListener("click", go(function () { return Math.max(0, page - 1); }));
  document.getElementById("next").addEventListener("click", go(function () { return page + 1; }));
  document.getElementById("last").addEventListener("click", go(function () { return Infinity; }));

  for (var v = 0; v < rows.length; v++) view.push(v);
  render();
  document.documentElement.setAttribute("data-ready", String(Math.round(performance.now())));
})();
