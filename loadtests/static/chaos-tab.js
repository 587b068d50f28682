// Puts the chaos controls (./chaos?embed=1, a server-rendered page of forms) under the fault
// table of Locust's "Chaos" tab. Locust's React UI renders extended tabs as tables only, so the
// forms live in an iframe; React never touches it because it sits after the table it renders.
(() => {
  const base = document.currentScript.src.replace(/\/chaos\/tab\.js.*$/, "");
  const mount = () => {
    if (new URLSearchParams(window.location.search).get("tab") !== "chaos") return;
    const head = document.querySelector('th[data-sortkey="fault"]');
    if (!head) return;
    const table = head.closest("table");
    const box = table.parentElement;
    if (box.querySelector("iframe.chaos-controls")) return;
    const frame = document.createElement("iframe");
    frame.className = "chaos-controls";
    frame.title = "Chaos controls";
    frame.src = base + "/chaos?embed=1";
    frame.style.cssText = "display:block;width:100%;height:420px;border:0;margin-top:12px;background:#fff";
    box.appendChild(frame);
  };
  new MutationObserver(mount).observe(document.documentElement, { childList: true, subtree: true });
  mount();
})();
