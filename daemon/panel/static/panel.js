// The stylecam control panel: plain JavaScript, no libraries, nothing from other origins.
// It talks to the daemon's control API with the session cookie (and, for changes, the CSRF
// token from /panel/session); the controls are built from what /panel/session describes.
"use strict";

const PREVIEW_MS = 200;   // a few frames a second, only while the page is visible
const STATUS_MS = 1000;
const SPARK_POINTS = 60;

const $ = (id) => document.getElementById(id);
const state = { csrf: "", view: "stylized", controls: [], fps: [], editing: new Map(), styles: [] };

async function call(method, path, body) {
  const opts = { method, headers: {}, cache: "no-store", credentials: "same-origin" };
  if (method !== "GET") {
    opts.headers["Content-Type"] = "application/json";
    opts.headers["X-Stylecam-CSRF"] = state.csrf;
    opts.body = JSON.stringify(body || {});
  }
  const reply = await fetch(path, opts);
  let data = null;
  try { data = await reply.json(); } catch (_) { /* not JSON */ }
  if (!reply.ok) {
    const err = new Error((data && data.error) || `${reply.status} ${reply.statusText}`);
    err.status = reply.status;
    throw err;
  }
  return data;
}

function showError(message) {
  const el = $("error");
  el.textContent = message || "";
  el.hidden = !message;
}

function showLogin(why) {
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-why").textContent = why || "";
  $("state").textContent = "not logged in";
  $("state").className = "badge bad";
}

// -- login: the one-time code rides in the URL fragment, which never reaches a server -------
async function login() {
  const match = /(?:^#|&)code=([A-Za-z0-9_-]+)/.exec(location.hash);
  let refused = "";
  if (match) {
    history.replaceState(null, "", location.pathname + location.search);  // the code leaves the URL
    try {
      await call("POST", "/panel/login", { code: match[1] });
    } catch (err) {
      refused = err.message;  // an OBS dock reloads its used link: its cookie may still be good
    }
  }
  try {
    return await call("GET", "/panel/session");
  } catch (err) {
    showLogin(refused || (err.status === 401 ? "This browser has no panel session yet." : err.message));
    return null;
  }
}

// -- preview --------------------------------------------------------------------------------
async function previewLoop() {
  const img = $("preview");
  if (!document.hidden) {
    try {
      const reply = await fetch(`/panel/preview.jpg?view=${state.view}`, { cache: "no-store" });
      if (reply.ok) {
        const url = URL.createObjectURL(await reply.blob());
        const old = img.src;
        img.src = url;
        img.dataset.frames = String(Number(img.dataset.frames) + 1);
        img.dataset.view = state.view;
        if (old.startsWith("blob:")) URL.revokeObjectURL(old);
      }
    } catch (_) { /* the status loop reports a lost daemon */ }
  }
  setTimeout(previewLoop, PREVIEW_MS);
}

function setView(view) {
  state.view = view;
  for (const v of ["stylized", "original"]) {
    const b = $(`view-${v}`);
    b.classList.toggle("on", v === view);
    b.setAttribute("aria-pressed", String(v === view));
  }
}

// -- styles ---------------------------------------------------------------------------------
function renderGallery(styles) {
  const gallery = $("gallery");
  gallery.replaceChildren();
  const stamp = Date.now();
  for (const s of styles) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "thumb";
    b.dataset.style = s.name;
    b.title = s.custom ? `${s.name} (custom style)` : `${s.title}, ${s.artist} ${s.year}`.trim();
    const img = document.createElement("img");
    img.alt = s.title || s.name;
    img.loading = "lazy";
    img.src = `/panel/thumb.jpg?style=${encodeURIComponent(s.name)}&t=${stamp}`;
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = s.title || s.name;
    const artist = document.createElement("span");
    artist.className = "artist";
    artist.textContent = s.custom ? "custom style" : [s.artist, s.year].filter(Boolean).join(", ");
    b.append(img, title, artist);
    b.addEventListener("click", () => act(() => call("POST", "/style", { name: s.name }).then(() => markStyle(s.name))));
    gallery.append(b);
  }
}

function markStyle(name) {
  for (const b of $("gallery").children) b.classList.toggle("current", b.dataset.style === name);
}

// -- controls, generic: one per parameter the daemon describes -------------------------------
function renderControls(controls) {
  const form = $("controls");
  form.replaceChildren();
  for (const c of controls) {
    const label = document.createElement("label");
    const text = document.createElement("span");
    text.textContent = c.label;
    label.append(text);
    let input;
    if (c.kind === "bool") {
      input = document.createElement("input");
      input.type = "checkbox";
    } else if (c.kind === "choice") {
      input = document.createElement("select");
      for (const choice of c.choices) {
        const opt = document.createElement("option");
        opt.value = choice;
        opt.textContent = (c.choice_labels && c.choice_labels[choice]) || choice;
        input.append(opt);
      }
    } else if (c.kind === "number" && c.min !== undefined && c.max !== undefined) {
      input = document.createElement("input");
      input.type = "range";
      input.min = c.min; input.max = c.max; input.step = c.step || "any";
      label.className = "range";
      const out = document.createElement("output");
      out.id = `out-${c.name}`;
      label.append(out);
      input.addEventListener("input", () => { out.textContent = formatNumber(input.value); });
    } else {
      input = document.createElement("input");
      input.type = c.kind === "number" ? "number" : "text";
    }
    input.id = `param-${c.name}`;
    input.name = c.name;
    input.addEventListener(input.type === "range" ? "input" : "change", () => sendParam(c, input));
    label.append(input);
    form.append(label);
  }
}

function formatNumber(v) {
  const n = Number(v);
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

function valueOf(c, input) {
  if (c.kind === "bool") return input.checked;
  if (c.kind === "number") return Number(input.value);
  return input.value;
}

// one request per control at a time, in order, the latest value last: a dragged slider
// sends while it moves, and a late answer never winds it back
const sending = new Map();
function sendParam(c, input) {
  state.editing.set(c.name, Date.now());
  let slot = sending.get(c.name);
  if (!slot) sending.set(c.name, slot = { busy: false, again: false });
  if (slot.busy) { slot.again = true; return; }
  slot.busy = true;
  (async () => {
    do {
      slot.again = false;
      await act(() => call("POST", "/params", { [c.name]: valueOf(c, input) }));
    } while (slot.again);
    slot.busy = false;
    state.editing.set(c.name, Date.now());
  })();
}

function showParams(status) {
  for (const c of state.controls) {
    const input = $(`param-${c.name}`);
    if (!input || !(c.name in status)) continue;
    if (Date.now() - (state.editing.get(c.name) || 0) < 1500) continue;  // the user is moving it
    const v = status[c.name];
    if (c.kind === "bool") input.checked = Boolean(v);
    else input.value = v;
    const out = $(`out-${c.name}`);
    if (out) out.textContent = formatNumber(v);
  }
}

// -- status ---------------------------------------------------------------------------------
function drawSpark() {
  const canvas = $("spark");
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight, pts = state.fps;
  if (canvas.width !== Math.round(w * ratio)) {  // draw at the screen's resolution, never stretched
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const top = Math.max(5, ...pts, Number(state.targetFps) || 0) * 1.1;
  const plotTop = 16, plotH = h - plotTop - 3;
  ctx.fillStyle = "#9aa0ad";
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillText("fps, last minute", 4, 12);
  ctx.textAlign = "right";
  ctx.fillText(`${top.toFixed(0)}`, w - 4, 12);
  ctx.textAlign = "left";
  if (pts.length < 2) return;
  ctx.strokeStyle = "#e0a23a";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  const first = SPARK_POINTS - pts.length;  // the newest point sits at the right edge
  pts.forEach((v, i) => {
    const x = ((first + i) / (SPARK_POINTS - 1)) * (w - 2) + 1, y = plotTop + plotH - (v / top) * plotH;
    if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
  });
  ctx.stroke();
}

function showStatus(st) {
  const running = st.state === "running";
  const input = st.input || {};
  const badge = $("state");
  badge.textContent = !running ? st.state : input.state === "lost" ? "camera lost" : st.enabled === false ? "running (style off)" : "running";
  badge.className = "badge " + (!running || input.state === "lost" ? "bad" : "ok");
  $("s-fps").textContent = `${st.fps.toFixed(1)} (target ${formatNumber(st.target_fps)})`;
  const lat = st.latency_ms;
  $("s-latency").textContent = lat ? `${lat.p50} / ${lat.p95} ms` : "–";
  $("s-size").textContent = `${st.processing_size} → ${st.output_size}`;
  $("s-provider").textContent = [st.provider, st.precision].filter(Boolean).join(", ");
  $("s-dropped").textContent = String(st.dropped_frames);
  $("s-input").textContent = input.state === "lost" ? `lost: ${input.last_error || "reconnecting"}` : (input.state || "–");
  state.targetFps = st.target_fps;
  state.fps.push(st.fps);
  if (state.fps.length > SPARK_POINTS) state.fps.shift();
  drawSpark();
  markStyle(st.style);
  showParams(st);
  showRtmp(st.rtmp || { state: "off" });
}

function showRtmp(r) {
  const badge = $("rtmp-state");
  badge.textContent = r.state;
  badge.className = "badge " + ({ live: "ok", error: "bad", reconnecting: "warn", starting: "warn" }[r.state] || "");
  const active = ["live", "starting", "reconnecting"].includes(r.state);
  const presets = $("rtmp-preset");
  if (r.preset && !presets.dataset.touched && presets.value !== r.preset) presets.value = r.preset;
  $("rtmp-stop").disabled = !active;
  const parts = [];
  if (r.url) parts.push(r.url);
  if (r.size) parts.push(`${r.size} at ${r.fps} fps, ${r.bitrate_kbps} kb/s`);
  if (r.last_error) parts.push(`last error: ${r.last_error}`);
  $("rtmp-detail").textContent = parts.join(" · ");
}

async function statusLoop() {
  try {
    showStatus(await call("GET", "/status"));
    if ($("error").dataset.lost) { showError(""); delete $("error").dataset.lost; }
  } catch (err) {
    if (err.status === 401) { showLogin(err.message); return; }
    showError(`daemon not reachable: ${err.message}`);
    $("error").dataset.lost = "1";
  }
  setTimeout(statusLoop, STATUS_MS);
}

async function act(fn) {
  try {
    showError("");
    return await fn();
  } catch (err) {
    if (err.status === 401) showLogin(err.message);
    else showError(err.message);
    return null;
  }
}

// -- RTMP and the rest ------------------------------------------------------------------------
function wire(session) {
  const presets = $("rtmp-preset");
  for (const p of session.rtmp_presets) {
    const opt = document.createElement("option");
    opt.value = p;
    opt.textContent = p[0].toUpperCase() + p.slice(1);
    presets.append(opt);
  }
  presets.value = session.rtmp_preset;  // the config's rtmp.preset
  presets.addEventListener("change", () => { presets.dataset.touched = "1"; });
  $("view-stylized").addEventListener("click", () => setView("stylized"));
  $("view-original").addEventListener("click", () => setView("original"));
  $("rtmp-start").addEventListener("click", () => act(async () => {
    const body = { preset: presets.value };
    if ($("rtmp-server").value.trim()) body.server = $("rtmp-server").value.trim();
    if ($("rtmp-key").value.trim()) body.key = $("rtmp-key").value.trim();
    showRtmp(await call("POST", "/rtmp/start", body));
    $("rtmp-key").value = "";
  }));
  $("rtmp-stop").addEventListener("click", () => act(async () => showRtmp(await call("POST", "/rtmp/stop"))));
  $("thumbs-refresh").addEventListener("click", () => act(async () => {
    await call("POST", "/panel/thumbs/refresh");
    renderGallery(state.styles);
  }));
  $("make-link").addEventListener("click", () => act(async () => {
    const reply = await call("POST", "/panel/code");
    const link = $("link");
    link.value = reply.url;
    link.hidden = false;
    link.select();
  }));
  $("logout").addEventListener("click", () => act(async () => {
    await call("POST", "/panel/logout");
    showLogin("Logged out.");
  }));
}

async function main() {
  const session = await login();
  if (!session) return;
  state.csrf = session.csrf;
  state.controls = session.controls;
  $("login").hidden = true;
  $("app").hidden = false;
  wire(session);
  renderControls(session.controls);
  const styles = await act(() => call("GET", "/styles"));
  if (styles) {
    state.styles = styles.styles;
    renderGallery(styles.styles);
    markStyle(styles.current);
  }
  statusLoop();
  previewLoop();
}

document.addEventListener("DOMContentLoaded", main);
