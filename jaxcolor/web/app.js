// The jaxcolor serve page: plain DOM and fetch, no build step, nothing loaded from elsewhere.
"use strict";

const HEX = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;
const MAX_SWATCHES = 9;
// The canvas keeps at most this many pixels per side; points are kept in sketch pixels.
const DRAW_MAX_SIDE = 1024;

const el = (id) => document.getElementById(id);

const state = {
  info: null,            // /api/health
  sketch: null,          // {file, image, width, height, scale}
  reference: null,       // File
  swatches: [],          // hex strings as shown
  paletteEdited: false,  // the swatches are no longer just the reference's colours
  points: [],            // {x, y, color} in sketch pixels
  cursor: null,          // keyboard cursor {x, y} in sketch pixels
  busy: false,
  paint: null,           // the shown results' regions: {labels, lineArt, width, height, count}
  results: [],           // per shown result: {base, colors, plain, img, link, canvas}
  fills: [],             // bucket fills, oldest first: {region, color}
  bucket: false,         // clicks fill regions instead of placing points
};

// ------------------------------------------------------------------ messages

function showError(message) {
  el("error").textContent = message || "";
}

function showStatus(message) {
  el("status").textContent = message || "";
}

function mb(n) {
  return (n / 1048576).toFixed(1) + " MB";
}

function expandHex(hex) {
  hex = hex.trim().toLowerCase();
  if (hex.length === 4) hex = "#" + hex[1] + hex[1] + hex[2] + hex[2] + hex[3] + hex[3];
  return hex;
}

async function apiError(response) {
  // Errors are {"error": message}; anything else (a proxy, a crash) is shown as its status.
  try {
    const data = await response.json();
    if (data && data.error) return data.error;
  } catch (e) { /* not JSON */ }
  return `the server answered ${response.status} ${response.statusText}`;
}

// ------------------------------------------------------------------ model info

async function loadInfo() {
  try {
    const response = await fetch("/api/health");
    if (!response.ok) throw new Error(await apiError(response));
    const info = await response.json();
    state.info = info;
    const step = info.step === null || info.step === undefined ? "" : `, step ${info.step}`;
    el("model-info").textContent = `${info.family} model${step} (${info.source || "built in"}); ` +
      `images up to ${mb(info.max_bytes)} and ${(info.max_pixels / 1e6).toFixed(1)} megapixels`;
    if (info.hint !== "palette") {
      el("palette-note").textContent = "This model reads its colours from the reference " +
        "image itself: upload one above.";
      for (const id of ["add-swatch", "save-palette", "load-palette-button"]) {
        el(id).disabled = true;
      }
    }
    if (!info.points) {
      el("points-note").textContent = "This model cannot take colour points.";
      for (const id of ["point-color", "undo-point", "clear-points"]) el(id).disabled = true;
    }
    if (!info.has_noise) {
      el("variations").disabled = true;
      el("variations-note").hidden = false;
      el("variations-note").textContent = "Variations need a model with noise injection; " +
        "this one gives the same image for every seed.";
    }
  } catch (e) {
    el("model-info").textContent = "";
    showError(`cannot reach the server: ${e.message}`);
  }
}

// ------------------------------------------------------------------ files

function checkSize(file, what) {
  if (state.info && file.size > state.info.max_bytes) {
    throw new Error(`${what} is ${mb(file.size)}: the limit is ${mb(state.info.max_bytes)}`);
  }
}

function decodeImage(file, what) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => {
      URL.revokeObjectURL(url);
      reject(new Error(`${what}: this browser cannot read the file as an image ` +
                       "(PNG, JPEG, WebP, GIF and BMP work)"));
    };
    img.src = url;
  });
}

async function setSketch(file) {
  showError("");
  try {
    checkSize(file, "sketch");
    const img = await decodeImage(file, "sketch");
    const w = img.naturalWidth, h = img.naturalHeight;
    if (state.info && w * h > state.info.max_pixels) {
      throw new Error(`sketch is ${w}x${h}: the limit is ${state.info.max_pixels} pixels`);
    }
    if (state.sketch) URL.revokeObjectURL(state.sketch.image.src);
    const scale = Math.min(1, DRAW_MAX_SIDE / Math.max(w, h));
    state.sketch = {file, image: img, width: w, height: h, scale};
    state.points = [];
    state.cursor = null;
    clearPaint();
    const canvas = el("sketch-canvas");
    canvas.width = Math.max(1, Math.round(w * scale));
    canvas.height = Math.max(1, Math.round(h * scale));
    canvas.setAttribute("aria-label", `Sketch, ${w} by ${h} pixels. Click, or move with ` +
                        "the arrow keys and press Enter, to place a colour point.");
    updatePoints();
    el("results").replaceChildren(hintText("The coloured sketch appears here."));
    el("results").classList.remove("single");
    showStatus(`sketch ${w}x${h} loaded`);
  } catch (e) {
    showError(e.message);
  }
}

async function setReference(file) {
  showError("");
  try {
    checkSize(file, "reference");
    const img = await decodeImage(file, "reference");
    const preview = el("reference-preview");
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = img.src;
    state.reference = file;
    el("reference-row").hidden = false;
    if (state.info && state.info.hint !== "palette") return;
    showStatus("reading the reference's colours...");
    const form = new FormData();
    form.append("reference", file);
    const response = await fetch("/api/palette", {method: "POST", body: form});
    if (!response.ok) throw new Error(await apiError(response));
    const data = await response.json();
    state.swatches = data.colors.slice(0, MAX_SWATCHES);
    state.paletteEdited = false;
    renderSwatches();
    showStatus(`${state.swatches.length} colours from the reference`);
  } catch (e) {
    removeReference();
    showStatus("");
    showError(e.message);
  }
}

function removeReference() {
  const preview = el("reference-preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.removeAttribute("src");
  el("reference-row").hidden = true;
  el("reference-file").value = "";
  state.reference = null;
  // Colours that only came from the reference go with it; edited ones are the user's.
  if (!state.paletteEdited) {
    state.swatches = [];
    renderSwatches();
  }
}

function hookDrop(zoneId, inputId, handler) {
  const zone = el(zoneId), input = el(inputId);
  input.addEventListener("change", () => { if (input.files.length) handler(input.files[0]); });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer.files.length) handler(e.dataTransfer.files[0]);
  });
}

// ------------------------------------------------------------------ palette

function hintText(text) {
  const p = document.createElement("p");
  p.className = "hint";
  p.textContent = text;
  return p;
}

function renderSwatches() {
  const list = el("swatches");
  list.replaceChildren();
  state.swatches.forEach((hex, i) => {
    const n = i + 1;
    const li = document.createElement("li");
    const picker = document.createElement("input");
    picker.type = "color";
    picker.id = `swatch-color-${n}`;
    picker.setAttribute("aria-label", `Colour ${n}`);
    picker.value = HEX.test(hex) ? expandHex(hex) : "#000000";
    const text = document.createElement("input");
    text.type = "text";
    text.id = `swatch-hex-${n}`;
    text.value = hex;
    text.spellcheck = false;
    text.setAttribute("aria-label", `Colour ${n} as hex`);
    text.setAttribute("aria-invalid", HEX.test(hex) ? "false" : "true");
    const remove = document.createElement("button");
    remove.type = "button";
    remove.id = `swatch-remove-${n}`;
    remove.className = "remove";
    remove.textContent = "\u00d7";  // a multiplication sign: the label says what it does
    remove.setAttribute("aria-label", `Remove colour ${n}`);
    picker.addEventListener("input", () => {
      state.swatches[i] = picker.value;
      text.value = picker.value;
      text.setAttribute("aria-invalid", "false");
      state.paletteEdited = true;
    });
    text.addEventListener("input", () => {
      state.swatches[i] = text.value.trim();
      state.paletteEdited = true;
      const ok = HEX.test(text.value.trim());
      text.setAttribute("aria-invalid", ok ? "false" : "true");
      if (ok) picker.value = expandHex(text.value);
    });
    remove.addEventListener("click", () => {
      state.swatches.splice(i, 1);
      state.paletteEdited = true;
      renderSwatches();
      const next = el(`swatch-hex-${Math.min(n, state.swatches.length)}`) || el("add-swatch");
      next.focus();
    });
    li.append(picker, text, remove);
    list.append(li);
  });
  const palette = !state.info || state.info.hint === "palette";
  el("add-swatch").disabled = !palette || state.swatches.length >= MAX_SWATCHES;
  el("save-palette").disabled = !palette || state.swatches.length === 0;
}

function badSwatch() {
  const i = state.swatches.findIndex((hex) => !HEX.test(hex));
  return i < 0 ? null : i + 1;
}

function savePalette() {
  const bad = badSwatch();
  if (bad) return showError(`colour ${bad} is not a hex colour such as #f4d3b5`);
  const blob = new Blob([JSON.stringify({colors: state.swatches.map(expandHex)}, null, 1)],
                        {type: "application/json"});
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = "palette.json";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

async function loadPalette(file) {
  showError("");
  try {
    const data = JSON.parse(await file.text());
    const colors = Array.isArray(data) ? data : data && data.colors;
    if (!Array.isArray(colors) || !colors.length || !colors.every((c) => typeof c === "string" &&
                                                                HEX.test(c.trim()))) {
      throw new Error('expected ["#rrggbb", ...] or {"colors": ["#rrggbb", ...]}');
    }
    if (colors.length > MAX_SWATCHES) throw new Error(`at most ${MAX_SWATCHES} colours`);
    state.swatches = colors.map(expandHex);
    state.paletteEdited = true;
    renderSwatches();
    showStatus(`${colors.length} colours loaded from ${file.name}`);
  } catch (e) {
    showError(`palette file: ${e.message}`);
  } finally {
    el("load-palette").value = "";
  }
}

// ------------------------------------------------------------------ points

function pointRadius() {
  const s = state.sketch;
  return Math.max(3, Math.round(3 * Math.max(s.width, s.height) / 512));
}

function draw() {
  const canvas = el("sketch-canvas"), ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const s = state.sketch;
  if (!s) return;
  ctx.drawImage(s.image, 0, 0, canvas.width, canvas.height);
  // At least 4 canvas pixels, so a point stays visible on a scaled-down sketch.
  const r = Math.max(4, pointRadius() * s.scale);
  for (const p of state.points) {
    ctx.beginPath();
    ctx.arc((p.x + 0.5) * s.scale, (p.y + 0.5) * s.scale, r, 0, 2 * Math.PI);
    ctx.fillStyle = p.color;
    ctx.fill();
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#fff";
    ctx.stroke();
    ctx.beginPath();
    ctx.arc((p.x + 0.5) * s.scale, (p.y + 0.5) * s.scale, r + 1.5, 0, 2 * Math.PI);
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 1;
    ctx.stroke();
  }
  if (state.cursor && document.activeElement === canvas) {
    const cx = (state.cursor.x + 0.5) * s.scale, cy = (state.cursor.y + 0.5) * s.scale;
    ctx.strokeStyle = "#1a5fd1";
    ctx.lineWidth = 2;
    ctx.beginPath();
    for (const [dx, dy] of [[-1, 0], [1, 0], [0, -1], [0, 1]]) {  // a crosshair, open centre
      ctx.moveTo(cx + 4 * dx, cy + 4 * dy);
      ctx.lineTo(cx + 12 * dx, cy + 12 * dy);
    }
    ctx.stroke();
  }
}

function updatePoints() {
  const n = state.points.length;
  el("points-count").textContent = `${n} point${n === 1 ? "" : "s"}`;
  draw();
}

function addPoint(x, y) {
  if (!state.sketch) return showError("upload a sketch first");
  if (state.bucket) return fillAt(x, y);
  if (state.info && !state.info.points) return showError("this model cannot take colour points");
  showError("");
  state.points.push({x, y, color: el("point-color").value});
  updatePoints();
}

function onCanvasClick(e) {
  const s = state.sketch;
  if (!s) return;
  const rect = e.currentTarget.getBoundingClientRect();
  const x = Math.floor((e.clientX - rect.left) / rect.width * s.width);
  const y = Math.floor((e.clientY - rect.top) / rect.height * s.height);
  state.cursor = {x: Math.min(Math.max(x, 0), s.width - 1),
                  y: Math.min(Math.max(y, 0), s.height - 1)};
  addPoint(state.cursor.x, state.cursor.y);
}

function onCanvasKey(e) {
  const s = state.sketch;
  if (!s) return;
  const moves = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1]};
  if (!state.cursor) state.cursor = {x: Math.floor(s.width / 2), y: Math.floor(s.height / 2)};
  if (e.key in moves) {
    // 2% of the long side per press, 10% with Shift.
    const step = Math.max(1, Math.round(Math.max(s.width, s.height) * (e.shiftKey ? 0.1 : 0.02)));
    const [dx, dy] = moves[e.key];
    state.cursor.x = Math.min(Math.max(state.cursor.x + dx * step, 0), s.width - 1);
    state.cursor.y = Math.min(Math.max(state.cursor.y + dy * step, 0), s.height - 1);
    e.preventDefault();
    draw();
  } else if (e.key === "Enter" || e.key === " ") {
    e.preventDefault();
    addPoint(state.cursor.x, state.cursor.y);
  }
}

// ------------------------------------------------------------------ colorize

function setBusy(busy) {
  state.busy = busy;
  const focused = document.activeElement;
  for (const id of ["colorize", "variations"]) {
    const b = el(id);
    if (busy) {
      b.dataset.wasDisabled = b.disabled ? "1" : "";
      b.dataset.hadFocus = focused === b ? "1" : "";
      b.disabled = true;
    } else {
      b.disabled = b.dataset.wasDisabled === "1";
      if (b.dataset.hadFocus === "1" && !b.disabled) b.focus();
    }
  }
  el("results").setAttribute("aria-busy", busy ? "true" : "false");
  el("controls").setAttribute("aria-busy", busy ? "true" : "false");
}

function stem(name) {
  const base = (name || "sketch").replace(/\.[^.]*$/, "");
  return base.replace(/[^\w.-]+/g, "_").slice(0, 80) || "sketch";
}

async function showResults(data) {
  const box = el("results");
  box.replaceChildren();
  box.classList.toggle("single", data.images.length === 1);
  clearPaint();
  const name = stem(state.sketch.file.name);
  const paint = data.regions ? await decodePaint(data) : null;
  data.images.forEach((url, i) => {
    const fig = document.createElement("figure");
    const img = document.createElement("img");
    img.src = url;
    img.width = data.width;
    img.height = data.height;
    const seed = data.seeds ? data.seeds[i] : null;
    const what = data.flat ? "Flat coloured sketch" : "Coloured sketch";
    img.alt = seed === null ? what : `${what}, seed ${seed}`;
    const cap = document.createElement("figcaption");
    const label = document.createElement("span");
    label.textContent = seed === null ? `${data.width}x${data.height}` : `seed ${seed}`;
    const file = data.images.length === 1 ? `${name}_color` : `${name}_color_v${i}`;
    const link = document.createElement("a");
    link.href = url;
    link.download = `${file}.png`;
    link.textContent = "Download PNG";
    if (data.images.length > 1) link.setAttribute("aria-label", `Download PNG, seed ${seed}`);
    cap.append(label, link);
    const result = {img, link, file, base: null, colors: null,
                    plain: data.plain ? data.plain[i] : url};
    if (paint) {
      result.colors = data.flats[i].slice();
      const psd = document.createElement("button");
      psd.type = "button";
      psd.className = "psd";
      psd.id = `psd-${i}`;
      psd.textContent = "Download layers (.psd)";
      if (data.images.length > 1) {
        psd.setAttribute("aria-label", `Download layers (.psd), seed ${seed}`);
      }
      psd.disabled = !!(state.info && state.info.layers === false);
      psd.addEventListener("click", () => downloadLayers(result, psd));
      cap.append(psd);
      img.addEventListener("click", (e) => onResultClick(e, img));
    }
    state.results.push(result);
    fig.append(img, cap);
    box.append(fig);
  });
  state.paint = paint;
  if (paint) {
    await Promise.all(state.results.map(async (r) => { r.base = await pixelsOf(r.img.src); }));
  }
  updateFills();
}

// ------------------------------------------------------------------ bucket and layers

function clearPaint() {
  state.paint = null;
  state.results = [];
  state.fills = [];
  updateFills();
}

function dataUrlBlob(url) {
  // The page's Content-Security-Policy lets fetch() reach this server only, not data: URLs.
  const [head, body] = url.split(",", 2);
  const bytes = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  return new Blob([bytes], {type: head.slice(5).split(";")[0]});
}

async function pixelsOf(url) {
  // Exact pixel values: no colour management, no premultiplied alpha.
  const bitmap = await createImageBitmap(dataUrlBlob(url), {colorSpaceConversion: "none",
                                                premultiplyAlpha: "none"});
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, bitmap.width, bitmap.height);
}

async function decodePaint(data) {
  const [map, lines] = await Promise.all([pixelsOf(data.regions), pixelsOf(data.line_art)]);
  const n = map.width * map.height, px = map.data, count = data.region_count;
  const labels = new Int32Array(n), lineArt = new Uint8Array(n);
  const sizes = new Int32Array(count + 1);
  for (let i = 0; i < n; i++) {
    labels[i] = px[4 * i] | (px[4 * i + 1] << 8) | (px[4 * i + 2] << 16);
    lineArt[i] = lines.data[4 * i];
    sizes[labels[i] + 1]++;
  }
  // Pixels grouped by region (a counting sort), so a fill touches only its region.
  for (let r = 0; r < count; r++) sizes[r + 1] += sizes[r];
  const start = sizes.slice(), pixels = new Int32Array(n);
  for (let i = 0; i < n; i++) pixels[start[labels[i]]++] = i;
  return {labels, lineArt, offsets: sizes, pixels, count, width: map.width, height: map.height};
}

function hexRgb(hex) {
  const v = parseInt(expandHex(hex).slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function paintRegion(out, region, hex) {
  // The colour with the line art multiplied over it, rounded as the server rounds.
  const p = state.paint, rgb = hexRgb(hex);
  for (let k = p.offsets[region]; k < p.offsets[region + 1]; k++) {
    const i = p.pixels[k], line = p.lineArt[i];
    for (let c = 0; c < 3; c++) out[4 * i + c] = Math.floor((rgb[c] * line + 127) / 255);
    out[4 * i + 3] = 255;
  }
}

function renderResult(r) {
  const data = new Uint8ClampedArray(r.base.data);
  for (const f of state.fills) paintRegion(data, f.region, f.color);
  const canvas = document.createElement("canvas");
  canvas.width = r.base.width;
  canvas.height = r.base.height;
  canvas.getContext("2d").putImageData(new ImageData(data, r.base.width, r.base.height), 0, 0);
  const url = canvas.toDataURL("image/png");
  r.img.src = url;
  r.link.href = url;
}

function regionColors(r) {
  const colors = r.colors.slice();
  for (const f of state.fills) colors[f.region] = f.color;
  return colors;
}

function fillAt(x, y) {
  const p = state.paint;
  if (!p || !state.results.every((r) => r.base)) {
    return showError("colour the sketch first: the bucket fills regions of a result");
  }
  showError("");
  x = Math.min(Math.max(x, 0), p.width - 1);
  y = Math.min(Math.max(y, 0), p.height - 1);
  const region = p.labels[y * p.width + x];
  state.fills.push({region, color: expandHex(el("point-color").value)});
  state.results.forEach(renderResult);
  updateFills();
  showStatus(`filled region ${region + 1} of ${p.count}`);
}

function onResultClick(e, img) {
  if (!state.bucket || !state.paint) return;
  const rect = img.getBoundingClientRect();
  fillAt(Math.floor((e.clientX - rect.left) / rect.width * state.paint.width),
         Math.floor((e.clientY - rect.top) / rect.height * state.paint.height));
}

function updateFills() {
  const ready = !!state.paint;
  if (!ready && state.bucket) setBucket(false);
  el("bucket").disabled = !ready;
  el("undo-fill").disabled = !state.fills.length;
  const n = state.fills.length;
  el("fills-count").textContent = ready ? `${n} fill${n === 1 ? "" : "s"}` : "";
}

function setBucket(on) {
  state.bucket = on;
  el("bucket").setAttribute("aria-pressed", on ? "true" : "false");
  const canvas = el("sketch-canvas");
  canvas.classList.toggle("bucket", on);
  el("results").classList.toggle("bucket", on);
  canvas.setAttribute("aria-label", on ?
      "Sketch. Click, or press Enter, to fill that region of the result." :
      "Sketch. Click, or move with the arrow keys and press Enter, to place a colour point.");
}

function undoFill() {
  state.fills.pop();
  state.results.forEach(renderResult);
  updateFills();
}

async function downloadLayers(result, button) {
  showError("");
  button.disabled = true;
  showStatus("making the layers...");
  try {
    const form = new FormData();
    form.append("sketch", state.sketch.file);
    form.append("result", dataUrlBlob(result.plain), "result.png");
    form.append("colors", JSON.stringify(regionColors(result)));
    const response = await fetch("/api/layers", {method: "POST", body: form});
    if (!response.ok) throw new Error(await apiError(response));
    const a = document.createElement("a");
    a.href = URL.createObjectURL(await response.blob());
    a.download = `${result.file}.psd`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    showStatus("layers downloaded");
  } catch (e) {
    showStatus("");
    showError(`layers: ${e.message}`);
  } finally {
    button.disabled = false;
  }
}

async function colorize(variations) {
  if (state.busy) return;
  showError("");
  if (!state.sketch) return showError("upload a sketch first");
  const palette = state.info && state.info.hint === "palette";
  const bad = palette ? badSwatch() : null;
  if (bad) {
    el(`swatch-hex-${bad}`).focus();
    return showError(`colour ${bad} is not a hex colour such as #f4d3b5`);
  }
  const seedText = el("seed").value.trim();
  if (seedText && !/^\d+$/.test(seedText)) return showError("seed must be a whole number");
  const form = new FormData();
  form.append("sketch", state.sketch.file);
  if (state.reference) form.append("reference", state.reference);
  // Untouched swatches are the reference's own colours: then the reference is the hint.
  if (palette && state.swatches.length && (state.paletteEdited || !state.reference)) {
    form.append("palette", JSON.stringify(state.swatches.map(expandHex)));
  }
  if (state.points.length) form.append("points", JSON.stringify(state.points));
  if (seedText) form.append("seed", seedText);
  form.append("variations", String(variations));
  if (el("flat").checked) form.append("flat", "1");
  setBusy(true);
  showStatus(variations > 1 ? `colouring ${variations} variations...` : "colouring...");
  // A new size compiles once; say so if the wait is long.
  const slow = setTimeout(() => showStatus("still working: the first sketch of a new size " +
                                           "compiles the model, later ones are quick..."), 4000);
  try {
    const response = await fetch("/api/colorize", {method: "POST", body: form});
    if (!response.ok) throw new Error(await apiError(response));
    const data = await response.json();
    await showResults(data);
    const waited = data.queued_seconds >= 0.05 ?
        ` (after ${data.queued_seconds.toFixed(1)} s behind other requests)` : "";
    showStatus(`done in ${data.seconds.toFixed(2)} s${waited}` +
               (data.warning ? `; ${data.warning}` : ""));
  } catch (e) {
    showStatus("");
    showError(e.message);
  } finally {
    clearTimeout(slow);
    setBusy(false);
  }
}

// ------------------------------------------------------------------ wiring

function init() {
  hookDrop("sketch-drop", "sketch-file", setSketch);
  hookDrop("reference-drop", "reference-file", setReference);
  // A file dropped next to a drop zone must not navigate away from the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  el("remove-reference").addEventListener("click", () => {
    removeReference();
    el("reference-file").focus();
  });
  el("add-swatch").addEventListener("click", () => {
    if (state.swatches.length >= MAX_SWATCHES) return;
    state.swatches.push("#808080");
    state.paletteEdited = true;
    renderSwatches();
    el(`swatch-hex-${state.swatches.length}`).focus();
  });
  el("save-palette").addEventListener("click", savePalette);
  el("load-palette-button").addEventListener("click", () => el("load-palette").click());
  el("load-palette").addEventListener("change", (e) => {
    if (e.target.files.length) loadPalette(e.target.files[0]);
  });
  el("undo-point").addEventListener("click", () => { state.points.pop(); updatePoints(); });
  el("bucket").addEventListener("click", () => setBucket(!state.bucket));
  el("undo-fill").addEventListener("click", undoFill);
  el("clear-points").addEventListener("click", () => { state.points = []; updatePoints(); });
  const canvas = el("sketch-canvas");
  canvas.addEventListener("click", onCanvasClick);
  canvas.addEventListener("keydown", onCanvasKey);
  canvas.addEventListener("focus", draw);
  canvas.addEventListener("blur", draw);
  el("controls").addEventListener("submit", (e) => { e.preventDefault(); colorize(1); });
  el("variations").addEventListener("click", () => colorize(4));
  renderSwatches();
  draw();
  loadInfo().then(renderSwatches);
}

document.addEventListener("DOMContentLoaded", init);
