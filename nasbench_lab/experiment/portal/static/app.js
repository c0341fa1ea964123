// The experiment portal: plain JavaScript over the REST API (/api/v1/nni/) and plotly.js.
"use strict";
(function () {
  const API = "/api/v1/nni";
  const TOKEN_KEY = "nasbench-lab-token:" + location.host;
  const $ = (id) => document.getElementById(id);
  const state = { profile: null, jobs: [], tab: "overview", sort: { key: "trial", dir: 1 }, detail: null,
                  lastJobs: 0, lastDecisions: 0, lastWeights: 0, busy: false, again: false };

  // -- the token: ?token= in the URL, kept in sessionStorage, removed from the address bar
  (function takeToken() {
    const params = new URLSearchParams(location.search);
    const t = params.get("token");
    if (t) {
      sessionStorage.setItem(TOKEN_KEY, t);
      params.delete("token");
      const rest = params.toString();
      history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
    }
  })();
  const token = () => sessionStorage.getItem(TOKEN_KEY);

  function say(text, good) {
    const m = $("message");
    m.textContent = text;
    m.className = "message " + (good ? "good" : "bad");
  }

  async function get(path) {
    const r = await fetch(API + path, { cache: "no-store" });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(r.status + ": " + (body.error || r.statusText));
    return body;
  }

  async function change(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    const t = token();
    if (t) headers["Authorization"] = "Bearer " + t;
    const r = await fetch(API + path, { method, headers, body: JSON.stringify(body || {}) });
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(r.status + ": " + (answer.error || r.statusText));
    return answer;
  }

  const fmt = (x, d = 4) => (x === null || x === undefined || Number.isNaN(x)) ? "" : Number(x).toFixed(d);
  function duration(s) {
    if (s === null || s === undefined) return "";
    s = Math.round(s);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + r + "s";
  }
  const when = (t) => t ? new Date(t * 1000).toLocaleString() : "";
  const running = () => state.profile && ["RUNNING", "STOPPING", "INITIALIZED"].includes(state.profile.status);

  // -- tabs
  function showTab(name) {
    if (!["overview", "trials", "decisions", "experiments"].includes(name)) name = "overview";
    state.tab = name;
    for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== "tab-" + name;
    for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.tab === name);
    refresh(true);
  }
  window.addEventListener("hashchange", () => showTab(location.hash.slice(1)));

  // -- overview
  function drawProfile(p) {
    $("exp-id").textContent = p.id + (p.name ? " (" + p.name + ")" : "");
    document.title = "experiment " + p.id + " · " + p.status;
    $("status").textContent = p.status;
    $("status").className = "badge " + p.status;
    $("status-text").textContent = p.status;
    $("duration").textContent = duration(p.execDuration);
    $("strategy").textContent = p.strategy || p.params.strategy;
    $("benchmark").textContent = p.benchmark || p.params.benchmark || p.params.evaluator || "";
    const counts = p.trialCounts || {};
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const limit = p.params.max_trial_number;
    $("trial-total").textContent = total + (limit ? " of at most " + limit : "") +
      (p.params.max_experiment_duration ? " · within " + p.params.max_experiment_duration : "");
    $("folder").textContent = p.logDir;
    $("counts").innerHTML = total ? Object.keys(counts).sort().map(
      (s) => `<span class="count ${s}">${s}: <b>${counts[s]}</b></span>`).join("") :
      (running() ? "no trials yet: the first is on its way" : "no trials");
    const err = $("error-box");
    err.hidden = !p.error;
    err.textContent = p.error || "";
    const ro = p.readOnly;
    $("banner").hidden = !ro;
    if (ro) $("banner").textContent = "Read-only view of a stored experiment: nothing can be changed from this page.";
    for (const id of ["concurrency", "set-concurrency", "max-trials", "set-max-trials", "max-duration",
                      "set-max-duration", "stop", "token-input", "token-save"]) $(id).disabled = ro;
    if (document.activeElement !== $("concurrency")) $("concurrency").value = p.params.trial_concurrency;
    if (document.activeElement !== $("max-trials")) $("max-trials").value = p.params.max_trial_number || "";
    if (document.activeElement !== $("max-duration")) $("max-duration").value = p.params.max_experiment_duration || "";
    $("stop").disabled = ro || !["RUNNING", "STOPPING"].includes(p.status);
    $("token-state").textContent = ro ? "" : token() ? "token present: changes are allowed" :
      "no token: this page only reads; open the URL printed with ?token=… or paste the token";
    $("oneshot").hidden = !p.oneShot;
  }

  function drawBest(jobs) {
    const ok = jobs.filter((j) => j.status === "SUCCEEDED" && j.finalMetricData !== null);
    const el = $("best-chart");
    if (!ok.length) {
      if (!el.dataset.drawn) el.innerHTML = `<p class="empty">${running() ? "waiting for the first result…" : "no succeeded trial"}</p>`;
      return;
    }
    const bx = [], by = [];
    let best = -Infinity;
    for (const j of ok) {
      if (j.finalMetricData > best) { best = j.finalMetricData; bx.push(j.query); by.push(best); }
    }
    bx.push(ok[ok.length - 1].query); by.push(best);
    const step = Math.max(1, Math.ceil(ok.length / 3000));
    const pts = ok.filter((_, i) => i % step === 0);
    $("best-value").textContent = fmt(best);
    if (!el.dataset.drawn) el.innerHTML = "";
    el.dataset.drawn = "1";
    Plotly.react(el, [
      { x: pts.map((j) => j.query), y: pts.map((j) => j.finalMetricData), mode: "markers", name: "trial",
        marker: { size: 4, color: "rgba(120,144,156,0.5)" }, type: "scatter" },
      { x: bx, y: by, mode: "lines", line: { shape: "hv", width: 2, color: "#1565c0" }, name: "best so far", type: "scatter" },
    ], { margin: { t: 10, r: 10, b: 40, l: 50 }, xaxis: { title: { text: "trial (queries)" } },
         yaxis: { title: { text: "validation accuracy" } }, legend: { orientation: "h" } },
    { displaylogo: false, responsive: true });
  }

  async function drawWeights() {
    const w = await get("/arch-weights");
    const el = $("weights-chart");
    if (!w.available) { el.innerHTML = '<p class="empty">no epoch has ended yet</p>'; return; }
    if (!el.dataset.drawn) el.innerHTML = "";
    el.dataset.drawn = "1";
    Plotly.react(el, [{ type: "heatmap", z: w.values, x: w.epochs, y: w.names, colorscale: "Viridis",
                        colorbar: { title: { text: "weight" } } }],
      { margin: { t: 10, r: 10, b: 40, l: 220 }, xaxis: { title: { text: "epoch" }, dtick: 1 } },
      { displaylogo: false, responsive: true });
    Plotly.react($("supernet-chart"), [{ x: w.epochs, y: w.accuracy, mode: "lines+markers", type: "scatter",
                                          name: "super-net validation accuracy" }],
      { margin: { t: 10, r: 10, b: 40, l: 50 }, xaxis: { title: { text: "epoch" }, dtick: 1 },
        yaxis: { title: { text: "super-net validation" } } }, { displaylogo: false, responsive: true });
  }

  // -- trials
  function sortValue(j, key) {
    if (key === "key") return j.hyperParameters.key || "";
    if (key === "duration") return j.endTime && j.startTime ? j.endTime - j.startTime : -1;
    const v = j[key];
    return v === null || v === undefined ? -Infinity : v;
  }

  function drawTable(jobs) {
    const { key, dir } = state.sort;
    const rows = jobs.slice().sort((a, b) => {
      const x = sortValue(a, key), y = sortValue(b, key);
      return (x < y ? -1 : x > y ? 1 : a.trial - b.trial) * dir;
    });
    const shown = rows.slice(0, 1000);
    $("trials-note").textContent = jobs.length > shown.length ? `(showing ${shown.length} of ${jobs.length}: sort to see others)` :
      `(${jobs.length})`;
    for (const th of document.querySelectorAll("#trials-table th[data-key]")) {
      th.classList.toggle("sorted-asc", th.dataset.key === key && dir > 0);
      th.classList.toggle("sorted-desc", th.dataset.key === key && dir < 0);
    }
    const body = document.querySelector("#trials-table tbody");
    body.innerHTML = "";
    const frag = document.createDocumentFragment();
    for (const j of shown) {
      const tr = document.createElement("tr");
      tr.dataset.id = j.trialJobId;
      const cells = [j.trial, j.status, j.hyperParameters.key, fmt(j.finalMetricData), fmt(j.test),
                     j.endTime && j.startTime ? fmt(j.endTime - j.startTime, 2) : ""];
      cells.forEach((c, i) => {
        const td = document.createElement("td");
        td.textContent = c === null || c === undefined ? "" : c;
        if (i === 1) td.className = j.status;
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    }
    body.appendChild(frag);
  }

  async function showDetail(id) {
    state.detail = id;
    const box = $("trial-detail");
    box.hidden = false;
    $("detail-id").textContent = id;
    const [job, metrics] = await Promise.all([get("/trial-jobs/" + id), get("/metric-data/" + id)]);
    const fields = { status: job.status, architecture: job.hyperParameters.key, validation: fmt(job.finalMetricData),
                     test: fmt(job.test), started: when(job.startTime), ended: when(job.endTime) };
    $("detail-fields").innerHTML = "";
    for (const [k, v] of Object.entries(fields)) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = v;
      $("detail-fields").append(dt, dd);
    }
    $("detail-error").hidden = !job.error;
    $("detail-error").textContent = job.error || "";
    const per = metrics.filter((m) => m.type === "PERIODICAL");
    const fin = metrics.filter((m) => m.type === "FINAL");
    const traces = [];
    if (per.length) traces.push({ x: per.map((m) => m.sequence), y: per.map((m) => m.data), mode: "lines+markers",
                                  type: "scatter", name: "intermediate" });
    if (fin.length) traces.push({ x: [per.length ? per[per.length - 1].sequence : 0], y: [fin[0].data],
                                  mode: "markers", type: "scatter", name: "final", marker: { size: 10 } });
    Plotly.react($("metric-chart"), traces, { margin: { t: 10, r: 10, b: 40, l: 50 },
      xaxis: { title: { text: per.length ? "report" : "" } }, yaxis: { title: { text: "metric" } },
      annotations: traces.length ? [] : [{ text: "no metric yet", showarrow: false }] }, { displaylogo: false });
    const img = $("arch-img");
    img.hidden = false;
    $("arch-note").textContent = "";
    img.onerror = () => { img.hidden = true; $("arch-note").textContent = "this architecture cannot be drawn"; };
    img.src = API + "/architecture/" + id;
  }

  // -- decisions
  async function drawDecisions() {
    const el = $("decisions-chart");
    let d;
    try { d = await get("/decisions"); } catch (e) { el.innerHTML = `<p class="empty">${e.message}</p>`; return; }
    $("decisions-note").textContent = `(${d.shown} of ${d.succeeded} succeeded trials` +
      (d.skipped ? `, ${d.skipped} not decodable` : "") + ")";
    if (!d.shown) { el.innerHTML = '<p class="empty">no succeeded trial yet</p>'; return; }
    const dims = d.names.map((name, i) => ({ label: name, values: d.values.map((v) => v[i]),
      tickvals: d.choices[i].map((_, k) => k), ticktext: d.choices[i], range: [0, Math.max(1, d.choices[i].length - 1)] }));
    dims.push({ label: "validation", values: d.validation });
    el.innerHTML = "";
    try {
      Plotly.react(el, [{ type: "parcoords", dimensions: dims,
        line: { color: d.validation, colorscale: "Viridis", showscale: true } }],
        { margin: { t: 60, r: 60, b: 20, l: 60 } }, { displaylogo: false, responsive: true });
    } catch (e) {
      el.innerHTML = `<p class="empty">parallel coordinates need WebGL in this browser (${e.message})</p>`;
    }
  }

  // -- experiments
  async function drawExperiments() {
    const all = await get("/experiments-info");
    const body = document.querySelector("#experiments-table tbody");
    body.innerHTML = "";
    for (const e of all.slice().reverse()) {
      const tr = document.createElement("tr");
      if (e.current) tr.style.fontWeight = "bold";
      for (const c of [e.id + (e.current ? " (this one)" : ""), e.name || "", e.status, when(e.created), when(e.updated), e.folder]) {
        const td = document.createElement("td"); td.textContent = c; tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  }

  // -- polling
  async function refresh(force) {
    if (state.busy) { state.again = state.again || !!force; return; }
    state.busy = true;
    try {
      const p = await get("/experiment");
      state.profile = p;
      drawProfile(p);
      const now = Date.now(), live = running();
      const every = live ? 1000 : 10000;
      if (force || now - state.lastJobs > every) {
        state.jobs = await get("/trial-jobs");
        state.lastJobs = now;
        drawBest(state.jobs);
        if (state.tab === "trials") drawTable(state.jobs);
      }
      if (p.oneShot && state.tab === "overview" && (force || now - state.lastWeights > (live ? 2000 : 30000))) {
        state.lastWeights = now;
        await drawWeights();
      }
      if (state.tab === "decisions" && (force || (live && now - state.lastDecisions > 5000))) {
        state.lastDecisions = now;
        await drawDecisions();
      }
      if (state.tab === "experiments" && force) await drawExperiments();
    } catch (e) {
      say("cannot read the experiment: " + e.message, false);
    } finally {
      state.busy = false;
      if (state.again) { const f = state.again; state.again = false; setTimeout(() => refresh(f), 0); }
    }
  }

  // -- controls
  function control(button, run) {
    $(button).addEventListener("click", async () => {
      try { say(await run(), true); } catch (e) { say(e.message, false); }
      refresh(true);
    });
  }
  control("set-concurrency", async () => {
    const v = parseInt($("concurrency").value, 10);
    const p = await change("PUT", "/experiment", { trial_concurrency: v });
    return "trial concurrency is now " + p.params.trial_concurrency;
  });
  control("set-max-trials", async () => {
    const v = parseInt($("max-trials").value, 10);
    const p = await change("PUT", "/experiment", { max_trial_number: v });
    return "max trials is now " + p.params.max_trial_number;
  });
  control("set-max-duration", async () => {
    const raw = $("max-duration").value.trim();
    const v = raw === "" ? null : (/^[0-9.]+$/.test(raw) ? Number(raw) : raw);
    const p = await change("PUT", "/experiment", { max_experiment_duration: v });
    return "max duration is now " + (p.params.max_experiment_duration || "none");
  });
  control("stop", async () => {
    const r = await change("PUT", "/experiment/stop", {});
    return "stop requested: " + r.status;
  });
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("token-input").value.trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
    $("token-input").value = "";
    say(t ? "token kept for this tab" : "token removed", true);
    refresh(true);
  });
  for (const th of document.querySelectorAll("#trials-table th[data-key]")) {
    th.addEventListener("click", () => {
      const k = th.dataset.key;
      state.sort = { key: k, dir: state.sort.key === k ? -state.sort.dir : (k === "trial" ? 1 : -1) };
      drawTable(state.jobs);
    });
  }
  document.querySelector("#trials-table tbody").addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr");
    if (tr && tr.dataset.id) showDetail(tr.dataset.id).catch((e) => say(e.message, false));
  });
  $("detail-close").addEventListener("click", () => { $("trial-detail").hidden = true; state.detail = null; });

  showTab(location.hash.slice(1) || "overview");
  setInterval(() => refresh(false), 1000);
})();
