/* llm-harness report: client-side matrix, filters, sorting and case details.
   Every piece of run data is written with textContent, never parsed as markup, so model output
   that contains HTML or script tags stays inert text. */
(function () {
  "use strict";
  var PAGE = 50;
  var blob = JSON.parse(document.getElementById("report-data").textContent);
  var F = {};
  blob.fields.forEach(function (name, i) { F[name] = i; });
  var cells = blob.cells, cases = blob.cases, cols = blob.columns, suites = blob.suites;
  var STATUS = { P: "passed", F: "failed", E: "error", S: "skipped", M: "mixed" };
  var MARK = { P: "✓", F: "✗", E: "!", S: "–" };

  // case index -> {column index -> [cell indexes]}
  var byCase = cases.map(function () { return {}; });
  cells.forEach(function (c, i) {
    var m = byCase[c[F["case"]]];
    (m[c[F.col]] = m[c[F.col]] || []).push(i);
  });

  var state = { suite: "", targets: null, failed: false, q: "", page: 0 };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmtMs(x) { return x === null || x === undefined ? "-" : Math.round(x).toLocaleString("en-US") + " ms"; }
  function fmtUsd(x) {
    // The rule of harness/money.py (usd), so a cost reads the same here as in the tables:
    // cents from $1, four decimals from a cent, three significant digits below a cent.
    if (x === null || x === undefined) return "unpriced";
    if (x === 0) return "$0";
    var a = Math.abs(x), digits = a >= 1 ? 2 : a >= 0.01 ? 4 : 2 - Math.floor(Math.log10(a));
    var text = a.toLocaleString("en-US", {minimumFractionDigits: digits, maximumFractionDigits: digits});
    return (x < 0 ? "-$" : "$") + text;
  }
  function fmtVal(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3);
    return typeof v === "string" ? v : JSON.stringify(v);
  }

  function visibleCols() {
    var out = [];
    cols.forEach(function (c, i) { if (!state.targets || state.targets.has(c.target)) out.push(i); });
    return out;
  }

  function summary(caseIdx, col) {
    var idxs = byCase[caseIdx][col];
    if (!idxs) return null;
    var ran = 0, passed = 0, errors = 0, cached = 0;
    idxs.forEach(function (i) {
      var c = cells[i], s = c[F.status];
      if (c[F.cached]) cached++;
      if (s === "S") return;
      ran++;
      if (s === "P") passed++;
      if (s === "E") errors++;
    });
    var code = ran === 0 ? "S" : passed === ran ? "P" : passed > 0 ? "M" : errors === ran ? "E" : "F";
    return { code: code, ran: ran, passed: passed, cached: cached, n: idxs.length };
  }

  function rowFails(caseIdx, vcols) {
    for (var k = 0; k < vcols.length; k++) {
      var s = summary(caseIdx, vcols[k]);
      if (s && s.code !== "P" && s.code !== "S") return true;
    }
    return false;
  }

  function filteredCases(vcols) {
    var q = state.q.toLowerCase(), out = [];
    for (var i = 0; i < cases.length; i++) {
      var cs = cases[i];
      if (state.suite && suites[cs[0]] !== state.suite) continue;
      if (q && String(cs[1]).toLowerCase().indexOf(q) < 0) continue;
      var any = false;
      for (var k = 0; k < vcols.length; k++) { if (byCase[i][vcols[k]]) { any = true; break; } }
      if (!any) continue;
      if (state.failed && !rowFails(i, vcols)) continue;
      out.push(i);
    }
    return out;
  }

  var matrix = document.getElementById("case-matrix");

  function renderMatrix() {
    var vcols = visibleCols();
    var rows = filteredCases(vcols);
    var pages = Math.max(1, Math.ceil(rows.length / PAGE));
    if (state.page >= pages) state.page = pages - 1;
    var head = el("tr");
    head.appendChild(el("th", null, "suite"));
    head.appendChild(el("th", null, "case"));
    vcols.forEach(function (ci) { head.appendChild(el("th", null, cols[ci].label)); });
    matrix.tHead.replaceChildren(head);
    var frag = document.createDocumentFragment();
    rows.slice(state.page * PAGE, (state.page + 1) * PAGE).forEach(function (caseIdx) {
      var tr = el("tr");
      tr.appendChild(el("td", null, suites[cases[caseIdx][0]]));
      var name = el("td", "case", cases[caseIdx][1]);
      name.title = cases[caseIdx][1];
      tr.appendChild(name);
      vcols.forEach(function (ci) {
        var s = summary(caseIdx, ci);
        if (!s) { tr.appendChild(el("td", "none", "·")); return; }
        var td = el("td", "cell");
        td.tabIndex = 0;
        td.dataset.case = caseIdx;
        td.dataset.col = ci;
        var text = s.code === "M" ? s.passed + "/" + s.ran : (s.n > 1 && s.code !== "S" ? MARK[s.code] + " " + s.passed + "/" + s.ran : MARK[s.code]);
        td.appendChild(el("span", "st st-" + s.code, text));
        if (s.cached) td.appendChild(el("span", "cachemark", "↺"));
        td.title = cols[ci].label + ": " + STATUS[s.code] + (s.n > 1 ? " (" + s.passed + " of " + s.ran + " passed)" : "") +
          (s.cached ? ", " + s.cached + " replayed from cache" : ", live");
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    });
    matrix.tBodies[0].replaceChildren(frag);
    ["pager-top", "pager-bottom"].forEach(function (id) { renderPager(document.getElementById(id), rows.length, pages); });
  }

  function renderPager(box, total, pages) {
    var prev = el("button", null, "‹ prev"), next = el("button", null, "next ›");
    prev.type = next.type = "button";
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
    prev.addEventListener("click", function () { state.page--; renderMatrix(); });
    next.addEventListener("click", function () { state.page++; renderMatrix(); });
    var info = el("span", "pageinfo", total + " case" + (total === 1 ? "" : "s") + " · page " + (state.page + 1) + " of " + pages);
    box.replaceChildren(prev, info, next);
  }

  function filterBoard() {
    var rows = document.querySelectorAll("#board tbody tr");
    rows.forEach(function (tr) {
      var show = (!state.suite || tr.dataset.suite === state.suite) &&
        (!state.targets || state.targets.has(tr.dataset.target));
      tr.hidden = !show;
    });
  }

  function sortTable(table, th) {
    var idx = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.dataset.type === "num";
    var dir = th.getAttribute("aria-sort") === "descending" ? 1 : -1;
    if (!th.hasAttribute("aria-sort") && !numeric) dir = 1;
    th.parentNode.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    function key(tr) {
      var td = tr.cells[idx];
      if (!numeric) return td.textContent;
      var v = td.dataset.v;
      return v === "" || v === undefined ? null : parseFloat(v);
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x === y) return 0;
      if (x === null) return 1;  // missing values sink, whatever the direction
      if (y === null) return -1;
      return (x < y ? -1 : 1) * dir;
    });
    rows.forEach(function (tr) { body.appendChild(tr); });
  }

  // ---- case detail ----
  var detail = document.getElementById("detail");
  var detailBody = document.getElementById("detail-body");

  function messagesBlock(promptIdx) {
    var box = el("div", "prompt");
    (blob.prompts[promptIdx] || []).forEach(function (m) {
      box.appendChild(el("div", "msg-role", m[0]));
      box.appendChild(el("pre", "msg", m[1]));
    });
    return box;
  }

  function scoresTable(scores) {
    var t = el("table", "scores");
    var h = el("tr");
    ["assertion", "", "value", "reason"].forEach(function (x) { h.appendChild(el("th", null, x)); });
    t.appendChild(h);
    scores.forEach(function (s) {
      var tr = el("tr");
      tr.appendChild(el("td", null, s[0]));
      tr.appendChild(el("td", s[1] ? "ok" : "bad", s[1] ? "✓" : "✗"));
      tr.appendChild(el("td", null, fmtVal(s[2])));
      tr.appendChild(el("td", null, s[3]));
      t.appendChild(tr);
    });
    return t;
  }

  function sampleBlock(i, showPrompt) {
    var c = cells[i], box = el("div", "sample");
    var line = el("div");
    var code = c[F.status];
    line.appendChild(el("span", "st st-" + code, MARK[code] + " " + STATUS[code]));
    line.appendChild(document.createTextNode(" repeat " + c[F.repeat] + " · "));
    if (c[F.cached]) line.appendChild(el("span", "cachemark", "↺ replayed from cache"));
    else line.appendChild(el("span", null, code === "S" ? "not called" : "live call"));
    box.appendChild(line);
    var m = [];
    if (code !== "S") {
      m.push("latency " + fmtMs(c[F.latency_ms]) + (c[F.cached] ? " (original call)" : ""));
      if (c[F.ttft_ms] !== null) m.push("TTFT " + fmtMs(c[F.ttft_ms]));
      if (c[F.queue_ms]) m.push("queued " + fmtMs(c[F.queue_ms]));
      // Provider-reported time beside the client's, and the client's own stall inside it.
      if (c[F.provider_ms] != null) m.push("provider-reported " + fmtMs(c[F.provider_ms]));
      if (c[F.stall_ms]) m.push("client stall " + fmtMs(c[F.stall_ms]));
      m.push("tokens " + (c[F.input_tokens] === null ? "?" : c[F.input_tokens]) + " in / " + (c[F.output_tokens] === null ? "?" : c[F.output_tokens]) + " out");
      if (c[F.cached_input_tokens]) m.push(c[F.cached_input_tokens] + " input tokens from provider cache");
      if (c[F.tokens_per_s] !== null) m.push(c[F.tokens_per_s].toFixed(1) + " tok/s");
      var live = c[F.cost_if_live_usd];
      if (c[F.cached]) m.push("cost $0 this run (" + (live === null ? "unpriced" : fmtUsd(live) + " live") + ")");
      else if (code !== "E") m.push(live === null ? "cost unpriced" : "cost " + fmtUsd(c[F.cost_usd]));
      if (c[F.retries]) m.push(c[F.retries] + " retr" + (c[F.retries] === 1 ? "y" : "ies"));
      if (c[F.finish_reason]) m.push("finish: " + c[F.finish_reason]);
      if (c[F.schema_valid] !== null) m.push(c[F.schema_valid] ? "schema valid" : "schema INVALID");
    }
    if (blob.runs.length > 1) m.push("run " + blob.runs[c[F.run]]);
    box.appendChild(el("div", "metrics", m.join(" · ")));
    if (showPrompt) { box.appendChild(el("h3", null, "Prompt")); box.appendChild(messagesBlock(c[F.prompt])); }
    if (c[F.error]) box.appendChild(el("pre", "errtext", (c[F.error_kind] ? c[F.error_kind] + ": " : "") + c[F.error]));
    if (c[F.skip_reason]) box.appendChild(el("div", "metrics", "skipped: " + c[F.skip_reason]));
    if (code !== "S" && !c[F.error]) {
      box.appendChild(el("h3", null, "Output"));
      box.appendChild(el("pre", "output", c[F.output] === null || c[F.output] === "" ? "(empty)" : c[F.output]));
    }
    if (c[F.tool_calls]) { box.appendChild(el("h3", null, "Tool calls")); box.appendChild(el("pre", "tools", JSON.stringify(c[F.tool_calls], null, 2))); }
    if (c[F.scores] && c[F.scores].length) box.appendChild(scoresTable(c[F.scores]));
    return box;
  }

  // ---- pages of a split report (report/pages.py): each case's details load on demand ----
  var paging = blob.paging || null;
  var pageState = [];  // page -> "loading" or "loaded"
  var pageWaiters = [];
  var pageProblem = [];  // page -> why its file was refused
  window.llmReportPage = function (token, k, data) {
    if (!paging) return;
    if (token !== paging.token) {
      pageProblem[k] = paging.dir + "/" + paging.names[k] + " belongs to another rendering of this report: render it again (llm-harness report RUN).";
      return;
    }
    data.cells.forEach(function (pair) { cells[pair[0]] = pair[1]; });
    data.prompts.forEach(function (pair) { blob.prompts[pair[0]] = pair[1]; });
    data.vars.forEach(function (pair) { cases[pair[0]][2] = pair[1]; });
    pageState[k] = "loaded";
  };
  function withPage(k, done) {
    if (pageState[k] === "loaded") { done(null); return; }
    (pageWaiters[k] = pageWaiters[k] || []).push(done);
    if (pageState[k] === "loading") return;
    pageState[k] = "loading";
    var path = paging.dir + "/" + paging.names[k];
    var s = document.createElement("script");
    function finish(err) {
      if (err) pageState[k] = undefined;  // a later click tries again
      var waiting = pageWaiters[k];
      pageWaiters[k] = [];
      s.remove();
      waiting.forEach(function (cb) { cb(err); });
    }
    s.onload = function () {
      finish(pageState[k] === "loaded" ? null : pageProblem[k] || path + " does not hold this report's cells.");
    };
    s.onerror = function () {
      finish("Cannot load " + path + ": keep the " + paging.dir + "/ folder beside this page. Every cell is also in results.jsonl.");
    };
    s.src = path;
    document.head.appendChild(s);
  }

  function openCase(caseIdx) {
    if (!paging) { showCase(caseIdx); return; }
    withPage(paging.case_page[caseIdx], function (err) {
      if (!err) { showCase(caseIdx); return; }
      document.getElementById("detail-title").textContent = suites[cases[caseIdx][0]] + " / " + cases[caseIdx][1];
      detailBody.replaceChildren(el("pre", "errtext", err));
      detail.hidden = false;
    });
  }

  function showCase(caseIdx) {
    var cs = cases[caseIdx];
    document.getElementById("detail-title").textContent = suites[cs[0]] + " / " + cs[1];
    var frag = document.createDocumentFragment();
    var prompts = new Set();
    Object.keys(byCase[caseIdx]).forEach(function (col) {
      byCase[caseIdx][col].forEach(function (i) { prompts.add(cells[i][F.prompt]); });
    });
    var shared = prompts.size === 1;
    if (cs[2]) { frag.appendChild(el("h3", null, "Variables")); frag.appendChild(el("pre", "vars", JSON.stringify(cs[2], null, 2))); }
    if (shared) { frag.appendChild(el("h3", null, "Prompt")); frag.appendChild(messagesBlock(prompts.values().next().value)); }
    frag.appendChild(el("h3", null, "Outputs"));
    var side = el("div", "side");
    cols.forEach(function (col, ci) {
      var idxs = byCase[caseIdx][ci];
      if (!idxs) return;
      var panel = el("div", "target");
      panel.dataset.col = ci;
      panel.appendChild(el("h4", null, col.label));
      idxs.slice().sort(function (a, b) { return cells[a][F.repeat] - cells[b][F.repeat]; })
        .forEach(function (i) { panel.appendChild(sampleBlock(i, !shared)); });
      side.appendChild(panel);
    });
    frag.appendChild(side);
    detailBody.replaceChildren(frag);
    detail.hidden = false;
    document.getElementById("detail-close").focus();
  }

  function closeDetail() { detail.hidden = true; detailBody.replaceChildren(); }

  // ---- wiring ----
  document.getElementById("detail-close").addEventListener("click", closeDetail);
  detail.addEventListener("click", function (e) { if (e.target === detail) closeDetail(); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape" && !detail.hidden) closeDetail(); });
  matrix.tBodies[0].addEventListener("click", function (e) {
    var td = e.target.closest("td.cell");
    if (td) openCase(parseInt(td.dataset.case, 10));
  });
  matrix.tBodies[0].addEventListener("keydown", function (e) {
    var td = e.target.closest("td.cell");
    if (td && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); openCase(parseInt(td.dataset.case, 10)); }
  });
  document.querySelectorAll(".open-cell").forEach(function (b) {
    b.addEventListener("click", function () { openCase(cells[parseInt(b.dataset.cell, 10)][F["case"]]); });
  });
  document.querySelectorAll("table.sortable").forEach(function (t) {
    t.tHead.addEventListener("click", function (e) {
      var th = e.target.closest("th");
      if (th) sortTable(t, th);
    });
  });
  document.getElementById("f-suite").addEventListener("change", function (e) {
    state.suite = e.target.value; state.page = 0; filterBoard(); renderMatrix();
  });
  document.getElementById("f-failed").addEventListener("change", function (e) {
    state.failed = e.target.checked; state.page = 0; renderMatrix();
  });
  document.getElementById("f-search").addEventListener("input", function (e) {
    state.q = e.target.value; state.page = 0; renderMatrix();
  });
  var targetBoxes = document.querySelectorAll("#f-targets input[type=checkbox]");
  targetBoxes.forEach(function (box) {
    box.addEventListener("change", function () {
      var on = new Set();
      targetBoxes.forEach(function (b) { if (b.checked) on.add(b.value); });
      state.targets = on; state.page = 0; filterBoard(); renderMatrix();
    });
  });

  var changedOnly = document.getElementById("f-changed");
  if (changedOnly) {
    changedOnly.addEventListener("change", function () {
      document.querySelectorAll("table.sidebyside").forEach(function (t) {
        t.classList.toggle("only-changed", changedOnly.checked);
      });
    });
  }

  renderMatrix();
  document.body.dataset.ready = "1";
  if (window.performance && performance.mark) performance.mark("report-ready");
})();
