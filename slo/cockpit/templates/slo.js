// The SLO tab's page: polls the tab's data every 2 s and renders it (no framework, no inline
// script: the page's CSP allows same-origin scripts only). Follows Locust's theme: the UI keeps
// it in localStorage.theme ("dark" | "light"), else the system's preference.
(() => {
  const VERDICT = { pass: "met", warn: "warn", fail: "violated", no_data: "no data",
    blind: "BLIND (not judged)", doubt: "met? the client disagrees" };
  // a blind SLO is neither met nor violated; a doubted one is a warning, never green
  const ROW = { fail: "fail", warn: "warn", doubt: "warn", blind: "blind" };
  const theme = () => {
    const saved = window.localStorage.getItem("theme");
    const dark = saved ? saved === "dark" : window.matchMedia("(prefers-color-scheme: dark)").matches;
    document.documentElement.dataset.theme = dark ? "dark" : "light";
  };
  const cell = (text, cls) => {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "—" : String(text);
    if (cls) td.className = cls;
    return td;
  };
  const fill = (id, rows) => document.querySelector(`#${id} tbody`).replaceChildren(...rows);
  const row = (cells, cls) => {
    const tr = document.createElement("tr");
    if (cls) tr.className = cls;
    tr.append(...cells);
    return tr;
  };
  const burn = (v) => (v === null || v === undefined ? "—" : `${v}×`);
  const time = (iso) => (iso ? iso.replace("T", " ").replace("Z", " UTC") : null);
  const render = (doc) => {
    const status = document.getElementById("status");
    if (!doc.prometheus.ok) {
      status.textContent = doc.prometheus.error;
      status.className = "down";
    } else {
      status.textContent = `${doc.service}: ${doc.profile} profile, updated ${time(doc.generated_at)}`;
      status.className = "";
    }
    fill("slos", doc.slos.map((s) => row([
      cell(s.name + (s.key ? " (key)" : "")),
      cell(`${s.shown} (over ${s.live_window})`, s.status),
      cell(s.objective), cell(s.warning),
      cell(s.budget ? `${s.budget.left_shown} of ${s.budget.period}` : null),
      cell(VERDICT[s.status], s.status),
      cell(s.client ? s.client.shown : null, s.client && s.client.failures ? "warn" : "dim"),
    ], ROW[s.status] || "")));
    const why = doc.slos.filter((s) => s.reason && s.status !== "pass")
      .map((s) => `${s.name} ${VERDICT[s.status]}: ${s.reason}`);
    document.getElementById("why").textContent = why.join("\n");
    fill("burn", doc.slos.flatMap((s) => (s.budget ? s.budget.rows : []).map((r) => row([
      cell(s.name), cell(r.severity), cell(`${r.long} / ${r.short}`), cell(`${r.factor}×`),
      cell(burn(r.long_burn)), cell(burn(r.short_burn)),
      cell(r.burning ? "yes" : "no", r.burning ? "fail" : "dim"),
    ], r.burning ? "fail" : ""))));
    fill("alerts", doc.alerts.map((a) => row([
      cell(a.alert), cell(a.labels), cell(a.state, a.state === "error" ? "fail" : a.state),
      cell(time(a.since)),
      cell(a.error ? `rule error: ${a.error}` : a.delivered_at ? `delivered ${time(a.delivered_at)}`
        : (a.state === "firing" ? "not delivered yet" : null)),
    ])));
    document.getElementById("telegram-note").textContent = doc.telegram.note || "";
    const faults = doc.faults.map((f) => row([cell(f.kind), cell(f.settings),
      cell(f.remaining_s === null ? null : `${f.remaining_s} s`)]));
    if (doc.faults_error) faults.push(row([cell("?"), cell(doc.faults_error), cell(null)]));
    if (!faults.length) faults.push(row([cell("none"), cell("no fault is on"), cell(null)]));
    fill("faults", faults);
  };
  const poll = async () => {
    try {
      const resp = await fetch(document.body.dataset.data, { cache: "no-store" });
      render(await resp.json());
    } catch (err) {
      const status = document.getElementById("status");
      status.textContent = `the SLO tab's data did not load (${err})`;
      status.className = "down";
    }
  };
  theme();
  window.addEventListener("storage", (e) => { if (e.key === "theme") theme(); });
  poll();
  setInterval(poll, 2000);
  setInterval(theme, 1000);  // the UI's theme toggle writes localStorage from the parent window
})();
