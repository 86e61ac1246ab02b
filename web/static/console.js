// Runbook Engine web console: progressive enhancement only. Every page
// works without this file (the run page then needs a reload to update).
"use strict";

// Times in the viewer's time zone; the UTC time stays as the title.
function localTimes(root) {
  for (const t of root.querySelectorAll("time[datetime]")) {
    const d = new Date(t.getAttribute("datetime"));
    if (isNaN(d)) continue;
    t.title = t.textContent;
    t.textContent = d.toLocaleString();
  }
}

function statusClass(s) {
  switch (s) {
    case "succeeded": case "approved": case "reused": return "st-ok";
    case "failed": case "rejected": case "timed-out": case "compensated": return "st-bad";
    case "running": case "compensating": return "st-run";
    case "waiting-approval": case "waiting-event": case "waiting-decision": return "st-wait";
    case "cancelled": case "skipped": case "not-reached": return "st-off";
  }
  return "st-none";
}

// graphStatus updates the graph's node of a step that is not a loop's
// item (items are counted there: the reload at the end recounts them).
function graphStatus(s) {
  if (s.item !== undefined && s.item !== null) return;
  const node = Array.from(document.querySelectorAll("#graph .g-node")).find((n) => n.dataset.step === s.id);
  if (!node) return;
  const box = node.querySelector(".g-box");
  let st = box.querySelector(".g-status");
  if (!st) {
    st = document.createElement("div");
    st.className = "g-status";
    st.dataset.field = "status";
    box.appendChild(st);
  }
  st.textContent = s.status;
  box.className = "g-box " + statusClass(s.status);
}

// The run page follows the run's events: each step event updates its row;
// a step the page does not show yet, or the run's end, reloads the page.
function followRun() {
  // A reload while the user is leaving would cancel their navigation.
  let leaving = false;
  window.addEventListener("beforeunload", () => { leaving = true; });
  const reload = () => { if (!leaving) location.reload(); };
  const run = document.getElementById("run");
  if (!run || run.dataset.ended === "true" || !window.EventSource) return;
  const live = document.getElementById("live");
  const es = new EventSource("/runs/" + encodeURIComponent(run.dataset.run) + "/events");
  es.addEventListener("open", () => { if (live) live.hidden = false; });
  es.addEventListener("step", (e) => {
    const s = JSON.parse(e.data);
    const key = s.item === undefined || s.item === null ? s.id : s.id + "[" + s.item + "]";
    const row = Array.from(document.querySelectorAll("#timeline tr[data-key]")).find((r) => r.dataset.key === key);
    if (!row) { es.close(); reload(); return; }
    graphStatus(s);
    const st = row.querySelector("[data-field=status]");
    if (st.textContent !== s.status) {
      st.textContent = s.status;
      st.className = "st " + statusClass(s.status);
      row.querySelector("[data-field=error]").textContent = s.error || "";
      if (s.outputs) {
        const out = row.querySelector("[data-field=outputs]");
        const pre = document.createElement("pre");
        pre.textContent = JSON.stringify(s.outputs, null, 2);
        out.replaceChildren(pre);
      }
    }
  });
  es.addEventListener("run", () => { es.close(); reload(); });
  es.addEventListener("error", () => { if (live) live.hidden = true; });
}

// A list field gets an "add" button that appends one more empty field.
function listFields() {
  for (const list of document.querySelectorAll(".list-field")) {
    const last = list.querySelector("input:last-of-type");
    if (!last || last.disabled) continue;
    const add = document.createElement("button");
    add.type = "button";
    add.className = "add";
    add.textContent = "Add a value";
    add.addEventListener("click", () => {
      const more = list.querySelector("input:last-of-type").cloneNode();
      more.value = "";
      list.insertBefore(more, add);
      more.focus();
    });
    list.appendChild(add);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  listFields();
  followRun();
});
