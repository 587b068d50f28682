// Puts each plugin tab's page (./tabs/<key>, server-rendered, polling its own data) under the
// table Locust's React UI renders for that extended tab, like chaos-tab.js does for Chaos.
(() => {
  const base = document.currentScript.src.replace(/\/tabs\/script\.js.*$/, "");
  const mount = () => {
    const key = new URLSearchParams(window.location.search).get("tab");
    if (!key || !(window.SLO_HARNESS_TABS || []).includes(key)) return;
    const table = document.querySelector("table");
    if (!table) return;
    const box = table.parentElement;
    if (box.querySelector(`iframe.slo-tab-${key}`)) return;
    const frame = document.createElement("iframe");
    frame.className = `slo-tab-${key}`;
    frame.title = `${key} details`;
    frame.src = `${base}/tabs/${encodeURIComponent(key)}`;
    frame.style.cssText = "display:block;width:100%;height:720px;border:0;margin-top:12px;background:transparent";
    box.appendChild(frame);
  };
  new MutationObserver(mount).observe(document.documentElement, { childList: true, subtree: true });
  mount();
})();
