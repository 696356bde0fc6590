(function () {
"use strict";
const run = JSON.parse(document.getElementById("run-data").textContent);
const LABEL = 170, ROW = 20, PAD = 8, TOP = 40;
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
document.getElementById("title").textContent = run.title;
document.getElementById("subtitle").textContent = run.subtitle;
document.getElementById("end").textContent = run.end;
const n = Math.max(run.marks.length, 1);
const scroll = document.getElementById("scroll");
let scale = 14;
const details = document.getElementById("details");
const bySeq = new Map(run.marks.map(m => [m.seq, m]));
const hlSeqs = new Map();
run.findings.forEach((f, i) => f.events.forEach(s => { if (!hlSeqs.has(s)) hlSeqs.set(s, []); hlSeqs.get(s).push(i); }));
const hlLanes = new Set();
run.findings.forEach(f => f.lanes.forEach(l => hlLanes.add(l)));
const depthOf = new Map();
run.spans.forEach(s => depthOf.set(s.lane, Math.max(depthOf.get(s.lane) || 0, s.depth + 1)));
const laneTop = new Map();
let y = TOP;
run.lanes.forEach(l => { laneTop.set(l.id, y); y += Math.max(1, depthOf.get(l.id) || 1) * ROW + PAD + 10; });
const height = y;
const X = s => LABEL + 6 + s * scale;
const show = lines => { details.textContent = lines.filter(Boolean).join("\n"); };
const findingText = i => { const f = run.findings[i]; return f.rule + " " + f.title + " (" + f.culprit + "): " + f.text; };
function eventLines(seq) {
  const m = bySeq.get(seq); if (!m) return [];
  const out = [m.text];
  (hlSeqs.get(seq) || []).forEach(i => out.push("  finding: " + findingText(i)));
  return out;
}
function draw() {
  const canvas = document.getElementById("canvas");
  canvas.textContent = "";
  const width = X(n) + 40;
  canvas.style.width = width + "px";
  canvas.style.height = height + "px";
  const phasebar = el("div", "phasebar"); phasebar.style.width = width + "px";
  run.phases.forEach((p, i) => {
    const to = i + 1 < run.phases.length ? run.phases[i + 1].from : n;
    const d = el("div", "phase ph-" + p.phase, p.phase);
    d.style.left = X(p.from) + "px"; d.style.width = Math.max(2, X(to) - X(p.from)) + "px";
    d.title = p.phase + " from #" + p.from;
    d.dataset.phase = p.phase;
    phasebar.appendChild(d);
    // The name again every screenful, so a long phase is named wherever one looks.
    for (let x = X(p.from) + 700; x < X(to) - 120; x += 700) {
      const again = el("div", "phase-label", p.phase); again.style.left = x + "px"; phasebar.appendChild(again);
    }
  });
  canvas.appendChild(phasebar);
  const axis = el("div", "axis"); axis.style.width = width + "px";
  let lastTick = -1e9, lastTime = -1;
  run.marks.forEach(m => {
    if ((m.time_us !== lastTime || m.seq % 50 === 0) && X(m.seq) - lastTick > 70) {
      const t = el("div", "tick", "#" + m.seq + " " + (m.time_us / 1e6).toFixed(3) + "s");
      t.style.left = X(m.seq) + "px"; axis.appendChild(t); lastTick = X(m.seq);
    }
    lastTime = m.time_us;
  });
  canvas.appendChild(axis);
  run.lanes.forEach(l => {
    const d = el("div", "lane" + (l.id === 4294967295 ? " sink" : "") + (hlLanes.has(l.id) ? " hl-lane" : ""));
    d.dataset.lane = l.id;
    d.style.top = laneTop.get(l.id) + "px";
    d.style.width = width + "px";
    d.style.height = (Math.max(1, depthOf.get(l.id) || 1) * ROW + PAD + 10) + "px";
    const label = el("div", "lane-label", l.name);
    label.title = l.name + (l.parent !== null ? " (created by t" + l.parent + ")" : "");
    d.appendChild(label);
    canvas.appendChild(d);
  });
  run.suspensions.forEach(s => {
    const d = el("div", "susp");
    d.style.left = X(s.from + 1) + "px"; d.style.width = Math.max(2, X(s.to) - X(s.from + 1)) + "px";
    d.style.top = (laneTop.get(s.lane) + Math.max(1, depthOf.get(s.lane) || 1) * ROW + 3) + "px";
    d.title = "waiting inside " + s.inside + " (#" + s.from + " to #" + s.to + ")";
    d.onclick = () => show(["t" + s.lane + " waits inside " + s.inside + " from #" + s.from + " to #" + s.to + ": other threads ran (a lock, an event, a timer, the sink, or a preemption)"].concat(eventLines(s.from), eventLines(s.to)));
    canvas.appendChild(d);
  });
  run.spans.forEach(s => {
    const end = s.leave === null ? n : s.leave;
    const d = el("div", "span k-" + s.direction.replace("->", "-") + (s.failed ? " failed" : "") + (s.leave === null ? " open" : ""), s.ddi + (s.status ? " \u2192 " + s.status.split(" ")[0] : ""));
    if (hlSeqs.has(s.enter) || (s.leave !== null && hlSeqs.has(s.leave))) d.classList.add("hl");
    d.dataset.enter = s.enter; d.dataset.ddi = s.ddi;
    d.style.left = X(s.enter) + "px"; d.style.width = Math.max(4, X(end) - X(s.enter) + scale * 0.8) + "px";
    d.style.top = (laneTop.get(s.lane) + s.depth * ROW + 4) + "px";
    d.title = s.ddi + (s.status ? " -> " + s.status : "") + (s.leave === null ? " (never returned)" : "");
    if (s.lock) { const k = el("span", "lock"); k.title = "documented lock: " + s.lock; d.appendChild(k); }
    d.onclick = ev => { ev.stopPropagation(); show([s.ddi + " on " + run.lanes.find(l => l.id === s.lane).name + " (" + s.direction + ")", s.leave === null ? "never returned" : "status: " + (s.status || "none"), s.lock ? "the OS holds: " + s.lock + " (documented model)" : ""].concat(eventLines(s.enter), s.leave !== null ? eventLines(s.leave) : [])); };
    canvas.appendChild(d);
  });
  run.marks.forEach(m => {
    if (m.kind === "enter" || m.kind === "leave") return;
    const d = el("div", "mark m-" + m.kind);
    if (hlSeqs.has(m.seq)) d.classList.add("hl");
    d.dataset.seq = m.seq;
    d.style.left = X(m.seq) + "px";
    const depth = Math.max(1, depthOf.get(m.lane) || 1);
    d.style.top = (laneTop.get(m.lane) + depth * ROW - 6) + "px";
    d.title = m.text;
    d.onclick = () => show(eventLines(m.seq));
    canvas.appendChild(d);
  });
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "arrows"); svg.setAttribute("width", width); svg.setAttribute("height", height);
  const defs = document.createElementNS(svg.namespaceURI, "defs");
  ["message", "completion", "dropped", "spawn"].forEach(k => {
    const mk = document.createElementNS(svg.namespaceURI, "marker");
    mk.setAttribute("id", "head-" + k); mk.setAttribute("viewBox", "0 0 8 8"); mk.setAttribute("refX", "7"); mk.setAttribute("refY", "4");
    mk.setAttribute("markerWidth", "7"); mk.setAttribute("markerHeight", "7"); mk.setAttribute("orient", "auto");
    const p = document.createElementNS(svg.namespaceURI, "path"); p.setAttribute("d", "M0,0 L8,4 L0,8 z"); p.setAttribute("class", "a-" + k);
    p.setAttribute("style", "stroke:none");
    p.setAttribute("fill", { message: "#d0263b", completion: "#7b4fc9", dropped: "#8a93a8", spawn: "#c0c6d4" }[k]);
    mk.appendChild(p); defs.appendChild(mk);
  });
  svg.appendChild(defs);
  const midY = lane => laneTop.get(lane) + 12;
  run.arrows.forEach(a => {
    const p = document.createElementNS(svg.namespaceURI, "path");
    const x1 = X(a.from[1]) + 2, y1 = midY(a.from[0]), x2 = X(a.to[1]) + 1, y2 = midY(a.to[0]);
    const cx = (x1 + x2) / 2 + (x1 === x2 ? 18 : 0);
    p.setAttribute("d", "M" + x1 + "," + y1 + " C" + cx + "," + y1 + " " + cx + "," + y2 + " " + x2 + "," + y2);
    p.setAttribute("class", "a-" + a.kind); p.setAttribute("marker-end", "url(#head-" + a.kind + ")");
    p.dataset.kind = a.kind;
    const t = document.createElementNS(svg.namespaceURI, "title"); t.textContent = a.label; p.appendChild(t);
    p.addEventListener("click", () => show([a.label + ": t" + a.from[0] + " #" + a.from[1] + " -> t" + a.to[0] + " #" + a.to[1]].concat(eventLines(a.from[1]), eventLines(a.to[1]))));
    svg.appendChild(p);
  });
  canvas.appendChild(svg);
  run.findings.forEach((f, i) => {
    f.events.forEach(s => {
      const line = el("div", "hl-line"); line.style.left = X(s) + "px"; line.style.height = (height - TOP) + "px"; canvas.appendChild(line);
    });
    const at = f.events.length ? Math.min.apply(null, f.events) : 0;
    const b = el("div", "hl-badge", f.rule); b.dataset.rule = f.rule;
    b.style.left = (X(at) + 4) + "px"; b.style.top = (TOP + 2 + i * 18) + "px";
    b.title = findingText(i); b.onclick = () => focus(i);
    canvas.appendChild(b);
  });
  document.getElementById("summary").textContent = run.lanes.length + " lanes, " + run.spans.length + " calls, " + run.arrows.filter(a => a.kind !== "spawn").length + " message arrows, " + run.marks.length + " events; zoom " + scale.toFixed(1) + " px/event";
}
function focus(i) {
  document.querySelectorAll(".finding").forEach((f, j) => f.classList.toggle("active", i === j));
  const f = run.findings[i];
  show([findingText(i), "events:"].concat(...f.events.map(eventLines)));
  const at = f.events.length ? Math.min.apply(null, f.events) : (f.lanes.length ? n - 1 : 0);
  scroll.scrollLeft = Math.max(0, X(at) - LABEL - 200);
  if (f.lanes.length) { const t = laneTop.get(f.lanes[0]); if (t !== undefined) scroll.scrollTop = Math.max(0, t - 80); }
}
const list = document.getElementById("findings");
run.findings.forEach((f, i) => {
  const li = el("li", "finding"); li.dataset.rule = f.rule;
  const b = el("b", null, f.rule + " " + f.title); li.appendChild(b);
  li.appendChild(document.createTextNode(" (" + f.culprit + "): " + f.text + (f.events.length ? "  [events " + f.events.map(s => "#" + s).join(", ") + "]" : "")));
  li.onclick = () => focus(i);
  list.appendChild(li);
});
if (!run.findings.length) list.appendChild(el("li", null, "No finding: every checked rule was kept."));
const rezoom = factor => {
  const center = (scroll.scrollLeft + scroll.clientWidth / 2 - LABEL) / scale;
  scale = Math.max(0.5, Math.min(80, scale * factor)); draw();
  scroll.scrollLeft = Math.max(0, center * scale + LABEL - scroll.clientWidth / 2);
};
document.getElementById("zoom-in").onclick = () => rezoom(1.5);
document.getElementById("zoom-out").onclick = () => rezoom(1 / 1.5);
document.getElementById("zoom-fit").onclick = () => { scale = Math.max(0.5, (scroll.clientWidth - LABEL - 40) / n); draw(); };
scroll.addEventListener("wheel", ev => { if (ev.ctrlKey) { ev.preventDefault(); rezoom(ev.deltaY < 0 ? 1.25 : 0.8); } }, { passive: false });
draw();
if (run.findings.length) focus(0);
document.body.dataset.ready = "1";
})();
