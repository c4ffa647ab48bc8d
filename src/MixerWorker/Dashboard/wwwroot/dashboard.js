// The fleet dashboard: polls /api/fleet once a second and redraws. Every text from the server is set
// with textContent (never parsed as HTML): error messages come from GStreamer and from clients.
"use strict";

const REFRESH_MS = 1000;
const projectsEl = document.getElementById("projects");
const cards = new Map();     // project -> card element (kept, so thumbnails do not flicker)
const lastBytes = new Map(); // "project/bus" -> { bytes, at } for the bitrate

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

// replaceChildren would turn a null into the text "null".
function fill(node, ...children) { node.replaceChildren(...children.filter(c => c !== null && c !== undefined)); }

function chip(text, cls) { return el("span", { class: "chip " + (cls || "") }, text); }
function stateChip(state) { return chip(state || "?", "state-" + (state || "unknown")); }

function meter(level) {
  const m = el("div", { class: "meter", title: level ? `peak ${level.peakDb.toFixed(1)} dBFS, RMS ${level.rmsDb.toFixed(1)} dBFS` : "no audio" });
  if (!level) return m;
  const pos = db => Math.max(0, Math.min(100, (db + 60) / 60 * 100)); // -60..0 dBFS
  m.append(el("div", { class: "rms" }), el("div", { class: "peak" }));
  m.firstChild.style.width = pos(level.rmsDb) + "%";
  m.lastChild.style.left = `calc(${pos(level.peakDb)}% - 2px)`;
  return m;
}

function ago(iso) {
  if (!iso) return "never";
  const s = (Date.now() - Date.parse(iso)) / 1000;
  return s < 1 ? "now" : s < 90 ? `${s.toFixed(0)} s ago` : `${(s / 60).toFixed(0)} min ago`;
}

// A clock time, in the browser's time zone, and how long ago it was.
function clockAndAgo(iso) {
  const at = new Date(iso);
  return `${at.toLocaleTimeString([], { hour12: false })} (${ago(iso)})`;
}

// Program first (docs/architecture.md): while Program is short of time the other buses make one frame in shedEvery.
// Nothing is shown while they make every frame.
function isShedding(shedding) {
  return !!shedding && shedding.level > 0;
}

function sheddingBanner(shedding) {
  if (!isShedding(shedding)) return null;
  return el("div", { class: "shedding", "data-level": shedding.level },
    chip(`shedding level ${shedding.level} of 4`, "warn"),
    ` Program is short of time: the AUX buses send only 1 frame in ${shedding.shedEvery} so that Program keeps up`,
    shedding.since ? `, since ${clockAndAgo(shedding.since)}` : "",
    el("span", { class: "dim" }, ` · episode ${shedding.episodes} since the mixer started`));
}

// A bus's delivered frame rate against its own, and a badge while it gives way to Program or is late:
// it drops frames it cannot make in time, or its pictures leave more than two frame intervals past their deadline.
function latenessParts(l) {
  if (!l) return { badges: [], rate: null, state: "" };
  const nominal = l.fps > 0 ? l.fps : null;
  const short = nominal !== null && l.deliveredFps < nominal - 0.5;
  const rate = el("span", { class: "fps" + (short ? " short" : ""), title: `${l.droppedFrames} frame(s) dropped since the mixer started` },
    `${l.deliveredFps.toFixed(1)}` + (nominal !== null ? ` of ${nominal} fps` : " fps"));
  const badges = [];
  if (l.shed) badges.push(el("span", { class: "chip warn", "data-lateness": "shed", title: "Program is short of time: this bus gives way to it and sends only some of its frames" },
    `shed: 1 frame in ${l.shedEvery}`));
  const sentLate = nominal !== null && l.sentLateP95Ms !== undefined && l.sentLateP95Ms !== null && l.sentLateP95Ms > 2000 / nominal;
  if (sentLate) badges.push(el("span", { class: "chip bad", "data-lateness": "late", title: "over the last 5 s, more than 1 picture in 20 left more than two frame intervals after its deadline" },
    `late: sent ${l.sentLateP95Ms.toFixed(0)} ms past deadline (p95)`));
  else if (l.dropping && !l.shed) badges.push(el("span", { class: "chip bad", "data-lateness": "late", title: "the machine cannot make every frame of this bus in time: it drops the late ones rather than fall behind" },
    "late: dropping frames"));
  return { badges, rate, state: sentLate || (l.dropping && !l.shed) ? "late" : l.shed ? "shed" : "" };
}

function describeAnswer(a) {
  if (!a) return el("span", { class: "dim" }, "no answer yet");
  if (a.type === "commandApplied")
    return el("span", {}, chip(a.duplicate ? "duplicate" : "applied", "ok"), ` revision ${a.revision} · ${ago(a.at)}`);
  return el("span", { class: "error" }, chip(a.reason || "error", "bad"), " ", (a.errors || []).join("; "), ` · ${ago(a.at)}`);
}

function busTile(card, project, bus, report, level, hasThumb) {
  const key = `${project}/${bus}`;
  let tile = card.tiles.get(bus);
  if (!tile) {
    const img = el("img", { alt: `${bus} of ${project}`, "data-project": project, "data-bus": bus });
    tile = { root: el("div", { class: "bus", "data-bus": bus }), thumb: el("div", { class: "thumb" }, "no picture"), img, info: el("div", { class: "bus-info" }) };
    tile.root.append(tile.thumb, tile.info);
    card.tiles.set(bus, tile);
  }
  // The next picture is loaded off-screen and swapped in when it is there: no blank frame between.
  if (hasThumb) {
    const next = new Image();
    next.onload = () => {
      tile.img.src = next.src;
      if (tile.img.parentNode !== tile.thumb) tile.thumb.replaceChildren(tile.img);
    };
    next.src = `/api/thumbnail/${encodeURIComponent(project)}/${encodeURIComponent(bus)}?t=${Date.now()}`;
  }
  let rate = "";
  const now = Date.now(), prev = lastBytes.get(key);
  if (report && prev && now > prev.at && report.bytesSent >= prev.bytes) rate = `${((report.bytesSent - prev.bytes) * 8 / (now - prev.at)).toFixed(0)} kb/s`;
  if (report) lastBytes.set(key, { bytes: report.bytesSent, at: now });
  const late = latenessParts(report && report.lateness);
  tile.root.classList.toggle("late", late.state === "late");
  tile.root.classList.toggle("shed", late.state === "shed");
  fill(tile.info,
    el("strong", {}, bus),
    report ? stateChip(report.output) : chip("not running", "bad"),
    report && report.published !== undefined && report.published !== null ? chip(report.published ? "published" : "not published", report.published ? "ok" : "bad") : null,
    late.rate, ...late.badges,
    report ? el("span", { class: "dim" }, `${report.encoder} · ${report.framesOut} frames ${rate ? "· " + rate : ""}`) : null,
    meter(level),
    report && report.error ? el("div", { class: "error" }, report.error) : null);
  return tile.root;
}

function inputsTable(p, busNames) {
  const status = p.status, tally = p.tally || {}, meters = (p.meters && p.meters.inputs) || {};
  const tallyBuses = busNames.filter(b => tally[b]);
  const head = el("tr", {}, el("th", {}, "input"), el("th", {}, "state"), ...tallyBuses.map(b => el("th", {}, b)),
    el("th", {}, "audio"), el("th", {}, "pictures"), el("th", {}, "last picture"), el("th", {}, "problems"));
  const rows = Object.entries(status.inputs).sort(([a], [b]) => a.localeCompare(b)).map(([name, i]) => {
    const cells = tallyBuses.map(b => {
      const t = tally[b], onAir = t.onAir.includes(name), preview = t.preview.includes(name);
      return el("td", {}, el("span", { class: "tally", "data-bus": b, "data-tally": onAir ? "onair" : preview ? "preview" : "none" },
        onAir ? "ON AIR" : preview ? "PVW" : "–"));
    });
    const problems = [];
    if (i.error) problems.push(el("div", { class: "error" }, i.error));
    if (i.decodeErrors) problems.push(el("div", { class: "error" }, `${i.decodeErrors} decode error(s)`));
    // A show's start drops a little as the input's timeline settles (50-150 ms); more is a gap someone heard.
    if (i.soundDroppedLateSeconds >= 0.5) problems.push(el("div", { class: "error", "data-late-sound": "" },
      `${i.soundDroppedLateSeconds.toFixed(1)} s of its sound came too late for the mix and was not heard`));
    if (i.attempts > 1) problems.push(el("div", { class: "dim" }, `${i.attempts} connection attempts`));
    if (i.ingest) problems.push(el("div", { class: "dim" }, `MediaMTX: ${i.ingest}`));
    return el("tr", { "data-input": name }, el("td", {}, el("strong", {}, name)), el("td", {}, stateChip(i.state)), ...cells,
      el("td", {}, meter(meters[name])), el("td", {}, i.framesIn ?? ""), el("td", {}, ago(i.lastFrameAt)), el("td", {}, ...problems));
  });
  return el("table", { class: "inputs" }, el("thead", {}, head), el("tbody", {}, ...rows));
}

function renderProject(p) {
  let card = cards.get(p.project);
  if (!card) {
    card = { root: el("section", { class: "project", "data-project": p.project }), tiles: new Map() };
    cards.set(p.project, card);
  }
  const s = p.status;
  card.root.classList.toggle("orphan", !p.owner);
  const head = el("div", { class: "project-head" }, el("h2", {}, p.project), ownerChip(p),
    s && s.state === "handing-over" ? chip("handing over", "warn") : null,
    el("span", { class: "dim" }, `desired revision ${p.desiredRevision}` + (s ? ` · on air ${s.revision} · status ${p.statusAgeSeconds.toFixed(1)} s old` : "")));
  const parts = [head, sheddingBanner(s && s.shedding)];
  if (s) {
    const busNames = Object.keys(s.buses).sort();
    const busMeters = (p.meters && p.meters.buses) || {};
    parts.push(el("h3", {}, "buses"),
      el("div", { class: "buses" }, ...busNames.map(b => busTile(card, p.project, b, s.buses[b], busMeters[b], p.thumbnails.includes(b)))),
      el("h3", {}, "inputs"), inputsTable(p, busNames));
  }
  const c = p.lastCommand;
  parts.push(el("h3", {}, "last command"), c
    ? el("div", { class: "last-command" }, el("div", { class: "command" }, c.command || "(no command field)"), el("div", { class: "dim" }, `entry ${c.entry}`), describeAnswer(c.answer))
    : el("div", { class: "dim" }, "none"));
  const errors = [...(s && s.errors) || [], ...p.events.filter(e => e.type === "error")];
  const seen = new Set();
  // The status and the events channel both report an error; the same one twice is shown once.
  const unique = errors.filter(e => { const k = `${e.entry}|${e.reason}|${e.revision}|${(e.errors || []).join(";")}`; if (seen.has(k)) return false; seen.add(k); return true; })
    .sort((a, b) => Date.parse(b.at) - Date.parse(a.at)).slice(0, 5);
  parts.push(el("h3", {}, "errors"), unique.length
    ? el("ul", { class: "events" }, ...unique.map(e => el("li", { class: "error" }, `${ago(e.at)}: ${e.reason}${e.command ? ` [${e.command}]` : ""}: ${(e.errors || []).join("; ")}`)))
    : el("div", { class: "dim" }, "none"));
  fill(card.root, ...parts);
  return card.root;
}

// The owner is the lease's holder; without one the project waits for room, or nobody runs it.
function ownerChip(p) {
  const s = p.status;
  if (p.owner) return chip(`on ${p.owner}` + (p.epoch != null ? ` · lease epoch ${p.epoch}` : ""), "ok");
  if (s && s.state === "waiting") {
    const w = s.waiting;
    return chip("waiting for a worker with room" + (w ? ` (needs ${w.costCpus.toFixed(2)} CPUs, largest free ${w.largestFreeCpus.toFixed(2)})` : ""), "bad");
  }
  return chip("no worker runs it", "bad");
}

function renderWorkers(workers) {
  const box = document.getElementById("workers");
  if (!workers.length) { fill(box, el("p", { class: "empty" }, "No live worker.")); return; }
  const head = el("tr", {}, ...["worker", "state", "load / capacity (CPUs)", "projects", "encoder", "host", "version"].map(h => el("th", {}, h)));
  const rows = workers.map(w => {
    const used = w.capacityCpus > 0 ? Math.min(100, w.loadCpus / w.capacityCpus * 100) : 100;
    const bar = el("div", { class: "load", title: `estimated ${w.estimatedCpus.toFixed(2)}, measured ${w.measuredCpus.toFixed(2)} of ${w.cpus} CPUs (${w.cpusSource})` },
      el("div", { class: "used" + (used >= 100 ? " full" : "") }));
    bar.firstChild.style.width = used + "%";
    const projects = w.projects.length ? w.projects.map(p => `${p.project} (${p.role})`).join(", ") : "none";
    return el("tr", { "data-worker": w.id }, el("td", {}, el("strong", {}, w.id)),
      el("td", {}, chip(w.state, w.state === "draining" ? "warn" : "ok")),
      el("td", {}, el("div", { class: "load-cell" }, bar, `${w.loadCpus.toFixed(2)} / ${w.capacityCpus.toFixed(2)}`)),
      el("td", {}, projects), el("td", {}, w.encoderBackend), el("td", {}, w.host), el("td", {}, w.version));
  });
  fill(box, el("h3", {}, "workers"), el("table", { class: "workers" }, el("thead", {}, head), el("tbody", {}, ...rows)));
}

function render(fleet) {
  renderWorkers(fleet.workers || []);
  const names = new Set(fleet.projects.map(p => p.project));
  for (const name of [...cards.keys()]) if (!names.has(name)) cards.delete(name);
  fill(projectsEl,...(fleet.projects.length ? fleet.projects.map(renderProject) : [el("p", { class: "empty" }, "No project yet.")]));
  const owned = fleet.projects.filter(p => p.owner);
  const shedding = fleet.projects.filter(p => p.status && isShedding(p.status.shedding));
  document.getElementById("summary").textContent =
    `${fleet.projects.length} project(s), ${owned.length} on air, ${(fleet.workers || []).length} live worker(s)` +
    (shedding.length ? `, ${shedding.length} shedding AUX frames` : "");
}

function setConnection(ok) {
  const c = document.getElementById("connection");
  c.textContent = ok ? "live" : "no answer from the dashboard";
  c.className = "chip " + (ok ? "ok" : "bad");
}

async function tick() {
  try {
    const response = await fetch("/api/fleet", { cache: "no-store" });
    if (!response.ok) throw new Error(response.statusText);
    render(await response.json());
    setConnection(true);
  } catch (e) {
    setConnection(false);
  } finally {
    setTimeout(tick, REFRESH_MS);
  }
}

tick();
