/* camelyon view: a small Deep Zoom viewer for whole-slide images, with overlays and a ruler.
 *
 * Coordinates: everything the server sends is in level-0 pixels of the slide, which are also the
 * pixels of the last Deep Zoom level (the server's generator does not crop the slide bounds).
 * The view is {x0, y0, s}: the level-0 point at the canvas's top-left corner and the scale in CSS
 * pixels per level-0 pixel, so screen = (level0 - (x0, y0)) * s. Tiles and overlays are drawn on
 * one canvas with that transform.
 *
 * Tests and notebooks drive the page through window.camelyonViewer (open, setView, idle, ...).
 */
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");
  const view = $("view");
  const OVERLAYS = ["annotations", "tissue", "grid", "heatmap", "lesions", "detections"];
  const OVERLAY_KEYS = { a: "annotations", t: "tissue", g: "grid", m: "heatmap", l: "lesions", d: "detections" };
  const COLOURS = {
    tumour: "rgb(255,0,0)", exclusion: "rgb(0,90,255)", other: "rgb(255,200,0)", tissue: "rgb(0,200,0)",
    lesion: "rgb(0,230,255)", gridTumour: "rgba(255,0,0,0.9)", gridNormal: "rgba(0,150,0,0.7)",
    ruler: "rgb(255,213,0)",
  };
  const MAX_TILES = 600;

  const state = {
    slides: [], order: [], current: null, info: null, config: null,
    sortKey: "name", sortDir: 1, featureColumn: "",
    view: { x0: 0, y0: 0, s: 1 },
    overlays: {}, data: {}, heatmapCanvas: null, heatmapImage: null,
    cmap: "inferno", opacity: 0.5, threshold: 0.5,
    ruler: { on: false, a: null, b: null, drawing: false },
    pointer: null, pending: 0, fetches: 0, generation: 0, error: null,
  };
  const tiles = new Map(); // "level/col/row" -> {img, loaded, failed}
  let dirty = true;

  // ------------------------------------------------------------------------------------------
  // Small helpers
  // ------------------------------------------------------------------------------------------
  async function getJSON(url) {
    state.fetches += 1;
    try {
      const r = await fetch(url);
      const body = await r.json().catch(() => ({ error: `${r.status} ${r.statusText}` }));
      if (!r.ok && !body.error) body.error = `${r.status} ${r.statusText}`;
      return body;
    } catch (e) {
      return { error: String(e) };
    } finally {
      state.fetches -= 1;
      redraw();
    }
  }
  function text(el, s) { el.textContent = s; }
  function redraw() { dirty = true; }
  function mpp() { return state.info && state.info.mpp ? state.info.mpp : null; }
  function labelOf(mm) {
    const c = state.config || { itc_max_mm: 0.2, micro_max_mm: 2.0 };
    if (!(mm > 0)) return "negative";
    return mm <= c.itc_max_mm ? "itc" : mm <= c.micro_max_mm ? "micro" : "macro";
  }
  function fmtLength(um) {
    return um >= 1000 ? `${(um / 1000).toFixed(um >= 10000 ? 1 : 2)} mm` : `${um.toFixed(um >= 100 ? 0 : 1)} \u00b5m`;
  }
  function setMessage(s) { text($("message"), s || ""); }

  // ------------------------------------------------------------------------------------------
  // Geometry
  // ------------------------------------------------------------------------------------------
  function size() { return { w: canvas.clientWidth, h: canvas.clientHeight }; }
  function toScreen(x, y) { const v = state.view; return [(x - v.x0) * v.s, (y - v.y0) * v.s]; }
  function toLevel0(sx, sy) { const v = state.view; return [v.x0 + sx / v.s, v.y0 + sy / v.s]; }
  function home() {
    if (!state.info || state.info.error) return;
    const { w, h } = size();
    const s = Math.min(w / state.info.width, h / state.info.height) * 0.95;
    state.view = { s, x0: state.info.width / 2 - w / 2 / s, y0: state.info.height / 2 - h / 2 / s };
    redraw();
  }
  function zoomAt(factor, sx, sy) {
    const v = state.view;
    const [x, y] = toLevel0(sx, sy);
    const maxS = 4, minS = state.info ? Math.min(size().w / state.info.width, size().h / state.info.height) / 8 : 1e-4;
    const s = Math.min(maxS, Math.max(minS, v.s * factor));
    state.view = { s, x0: x - sx / s, y0: y - sy / s };
    redraw();
  }
  /** Zoom by `factor` about a screen point in a few frames (buttons, keys, double click). */
  function animateZoom(factor, sx, sy, ms = 160) {
    const t0 = performance.now(), start = state.view.s;
    state.animating = true;
    const step = (t) => {
      const k = Math.min(1, (t - t0) / ms), eased = 1 - Math.pow(1 - k, 3);
      zoomAt(start * Math.pow(factor, eased) / state.view.s, sx, sy);
      if (k < 1) requestAnimationFrame(step); else state.animating = false;
    };
    requestAnimationFrame(step);
  }
  function visibleBox() {
    const v = state.view, { w, h } = size();
    return [v.x0, v.y0, v.x0 + w / v.s, v.y0 + h / v.s];
  }
  function pan(dx, dy) { state.view.x0 -= dx / state.view.s; state.view.y0 -= dy / state.view.s; redraw(); }

  // ------------------------------------------------------------------------------------------
  // Tiles
  // ------------------------------------------------------------------------------------------
  function tile(level, col, row, request) {
    const key = `${level}/${col}/${row}`;
    let t = tiles.get(key);
    if (t) { tiles.delete(key); tiles.set(key, t); return t; } // most recently used last
    if (!request) return null;
    const gen = state.generation;
    t = { img: new Image(), loaded: false, failed: false };
    state.pending += 1;
    t.img.onload = () => { if (gen === state.generation) { t.loaded = true; state.pending -= 1; redraw(); } };
    t.img.onerror = () => {
      if (gen !== state.generation) return;
      t.failed = true; state.pending -= 1; redraw();
      if (!state.tileError) tileError(t.img.src, gen);
    };
    t.img.src = `/slide/${encodeURIComponent(state.current)}_files/${level}/${col}_${row}.jpeg`;
    tiles.set(key, t);
    if (tiles.size > MAX_TILES) {
      for (const [k, old] of tiles) {
        if (tiles.size <= MAX_TILES * 0.8) break;
        if (old.loaded || old.failed) tiles.delete(k);
      }
    }
    return t;
  }

  async function tileError(url, gen) {
    state.tileError = true;
    const body = await getJSON(url);
    if (gen !== state.generation) return;
    const p = $("error-panel");
    p.textContent = `Some tiles of ${state.info.file} cannot be read: ${body.error || "unknown error"}`;
    p.hidden = false;
  }

  function drawTiles(dpr) {
    const info = state.info, v = state.view, { w, h } = size();
    const L = info.dz_levels, T = info.tile_size, ov = info.overlap;
    let want = L - 1 - Math.floor(Math.log2(1 / (v.s * dpr)) + 1e-9);
    want = Math.max(0, Math.min(L - 1, want));
    let base = 0;
    for (let k = 0; k < L; k++) {
      const [lw, lh] = info.dz_dimensions[k];
      if (lw <= T && lh <= T) base = k;
    }
    const levels = [base];
    for (let k = Math.max(base + 1, want - 3); k <= want; k++) levels.push(k);
    for (const k of levels) {
      const d = Math.pow(2, L - 1 - k);
      const [lw, lh] = info.dz_dimensions[k];
      const c0 = Math.max(0, Math.floor(v.x0 / d / T)), r0 = Math.max(0, Math.floor(v.y0 / d / T));
      const c1 = Math.min(Math.ceil(lw / T) - 1, Math.floor((v.x0 + w / v.s) / d / T));
      const r1 = Math.min(Math.ceil(lh / T) - 1, Math.floor((v.y0 + h / v.s) / d / T));
      const request = k === want || k === base;
      for (let r = r0; r <= r1; r++) {
        for (let c = c0; c <= c1; c++) {
          const t = tile(k, c, r, request);
          if (!t || !t.loaded) continue;
          const x = (c * T - (c > 0 ? ov : 0)) * d, y = (r * T - (r > 0 ? ov : 0)) * d;
          ctx.drawImage(t.img, x, y, t.img.naturalWidth * d, t.img.naturalHeight * d);
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Overlays
  // ------------------------------------------------------------------------------------------
  async function loadOverlay(name) {
    const stem = state.current, gen = state.generation;
    if (state.data[name] !== undefined || !state.info || state.info.error) return;
    if (!(state.info.overlays || {})[name]) { state.data[name] = null; return; }
    state.data[name] = "loading";
    const threshold = state.threshold;
    const query = name === "lesions" ? `?threshold=${threshold}` : "";
    const body = await getJSON(`/slide/${encodeURIComponent(stem)}/${name}.json${query}`);
    if (gen !== state.generation) return;
    if (name === "lesions" && threshold !== state.threshold) return; // an answer for an older threshold
    if (body.error) { state.data[name] = null; setMessage(`${name}: ${body.error}`); return; }
    state.data[name] = body;
    if (name === "heatmap") await loadHeatmapImage(body, gen);
    updateLegend();
    redraw();
  }

  function loadHeatmapImage(hm, gen) {
    return new Promise((resolve) => {
      const img = new Image();
      state.fetches += 1;
      img.onload = () => {
        state.fetches -= 1;
        if (gen === state.generation) { state.heatmapImage = img; colourHeatmap(); }
        resolve();
      };
      img.onerror = () => { state.fetches -= 1; setMessage("heatmap: the image did not load"); resolve(); };
      img.src = hm.png;
    });
  }

  function colourHeatmap() {
    const img = state.heatmapImage;
    if (!img || !state.config) return;
    const c = document.createElement("canvas");
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const g = c.getContext("2d");
    g.drawImage(img, 0, 0);
    const px = g.getImageData(0, 0, c.width, c.height);
    const lut = state.config.colour_maps[state.cmap];
    for (let i = 0; i < px.data.length; i += 4) {
      const rgb = lut[px.data[i]];
      px.data[i] = rgb[0]; px.data[i + 1] = rgb[1]; px.data[i + 2] = rgb[2];
    }
    g.putImageData(px, 0, 0);
    state.heatmapCanvas = c;
    updateLegend();
    redraw();
  }

  function updateLegend() {
    const el = $("legend");
    if (!state.overlays.heatmap || !state.config || !state.data.heatmap || state.data.heatmap === "loading") {
      el.hidden = true; return;
    }
    el.hidden = false;
    el.textContent = "";
    const bar = document.createElement("canvas");
    bar.width = 256; bar.height = 1;
    const g = bar.getContext("2d"), px = g.createImageData(256, 1), lut = state.config.colour_maps[state.cmap];
    for (let i = 0; i < 256; i++) { px.data.set([lut[i][0], lut[i][1], lut[i][2], 255], 4 * i); }
    g.putImageData(px, 0, 0);
    const caption = document.createElement("div");
    caption.textContent = `tumour probability 0 \u2013 1 (max ${state.data.heatmap.max_probability.toFixed(2)})`;
    el.append(caption, bar);
  }

  function strokePath(coords, closed) {
    ctx.beginPath();
    coords.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    if (closed) ctx.closePath();
    ctx.stroke();
  }

  function drawOverlays() {
    const s = state.view.s, d = state.data;
    if (state.overlays.heatmap && state.heatmapCanvas && d.heatmap && d.heatmap !== "loading") {
      const hm = d.heatmap;
      ctx.save();
      ctx.imageSmoothingEnabled = false;
      ctx.globalAlpha = state.opacity;
      ctx.drawImage(state.heatmapCanvas, hm.x0, hm.y0, hm.cols * hm.cell, hm.rows * hm.cell);
      ctx.restore();
    }
    if (state.overlays.tissue && d.tissue && d.tissue.outlines) {
      ctx.strokeStyle = COLOURS.tissue; ctx.lineWidth = 2 / s; ctx.setLineDash([]);
      d.tissue.outlines.forEach((c) => strokePath(c, true));
    }
    if (state.overlays.grid && d.grid && d.grid.tiles) {
      const e = d.grid.extent, showText = e * s > 36;
      ctx.lineWidth = 1.5 / s;
      ctx.font = `${11 / s}px sans-serif`;
      const [vx0, vy0, vx1, vy1] = visibleBox();
      for (const [x, y, lab, frac] of d.grid.tiles) {
        if (x > vx1 || y > vy1 || x + e < vx0 || y + e < vy0) continue;
        ctx.strokeStyle = lab ? COLOURS.gridTumour : COLOURS.gridNormal;
        ctx.strokeRect(x, y, e, e);
        if (showText) {
          ctx.fillStyle = ctx.strokeStyle;
          ctx.fillText(`${lab ? "tumour" : "normal"} ${frac.toFixed(2)}`, x + 3 / s, y + 13 / s);
        }
      }
    }
    if (state.overlays.annotations && d.annotations && d.annotations.annotations) {
      ctx.lineWidth = 2.5 / s; ctx.setLineDash([]);
      for (const a of d.annotations.annotations) {
        ctx.strokeStyle = COLOURS[a.kind] || COLOURS.other;
        if (a.area) strokePath(a.coordinates, true);
        else for (const [x, y] of a.coordinates) { ctx.beginPath(); ctx.arc(x, y, 4 / s, 0, 2 * Math.PI); ctx.stroke(); }
      }
    }
    if (state.overlays.lesions && d.lesions && d.lesions.lesions) {
      ctx.strokeStyle = COLOURS.lesion; ctx.lineWidth = 2 / s; ctx.setLineDash([6 / s, 4 / s]);
      ctx.font = `${12 / s}px sans-serif`; ctx.fillStyle = COLOURS.lesion;
      for (const les of d.lesions.lesions) {
        strokePath(les.coordinates, true);
        const m = mpp();
        if (les.diameter_mm !== undefined && m && les.diameter_mm * 1000 / m[0] * s > 60) {
          const [x, y] = les.coordinates[0];
          ctx.fillText(`${les.diameter_mm.toFixed(2)} mm ${les.label}`, x, y - 4 / s);
        }
      }
      ctx.setLineDash([]);
    }
    if (state.overlays.detections && d.detections && d.detections.points) {
      ctx.lineWidth = 2 / s; ctx.font = `${11 / s}px sans-serif`;
      const r = 6 / s, showText = s > 0.05;
      const [vx0, vy0, vx1, vy1] = visibleBox();
      for (const [x, y, p] of d.detections.points) {
        if (x + r < vx0 || x - r > vx1 || y + r < vy0 || y - r > vy1) continue;
        ctx.strokeStyle = `rgb(255,${Math.round(220 * (1 - p))},0)`;
        ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI); ctx.stroke();
        if (showText) { ctx.fillStyle = ctx.strokeStyle; ctx.fillText(p.toFixed(2), x + r * 1.3, y + r); }
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Ruler and scale bar (screen space)
  // ------------------------------------------------------------------------------------------
  function rulerLength() {
    const r = state.ruler, m = mpp();
    if (!r.a || !r.b || !m) return null;
    const dx = (r.b[0] - r.a[0]) * m[0], dy = (r.b[1] - r.a[1]) * m[1];
    const um = Math.hypot(dx, dy);
    return { um, mm: um / 1000, label: labelOf(um / 1000), px: Math.hypot(r.b[0] - r.a[0], r.b[1] - r.a[1]) };
  }

  function drawRuler() {
    const r = state.ruler;
    if (!r.a || !r.b) return;
    const [ax, ay] = toScreen(...r.a), [bx, by] = toScreen(...r.b);
    ctx.save();
    ctx.lineWidth = 2; ctx.strokeStyle = COLOURS.ruler; ctx.fillStyle = COLOURS.ruler;
    ctx.beginPath(); ctx.moveTo(ax, ay); ctx.lineTo(bx, by); ctx.stroke();
    const ang = Math.atan2(by - ay, bx - ax) + Math.PI / 2, tx = 6 * Math.cos(ang), ty = 6 * Math.sin(ang);
    for (const [x, y] of [[ax, ay], [bx, by]]) { ctx.beginPath(); ctx.moveTo(x - tx, y - ty); ctx.lineTo(x + tx, y + ty); ctx.stroke(); }
    const len = rulerLength();
    if (len) {
      const t = `${len.mm.toFixed(3)} mm \u2192 ${len.label}`;
      ctx.font = "bold 13px sans-serif";
      const w = ctx.measureText(t).width;
      ctx.fillStyle = "rgba(0,0,0,0.7)"; ctx.fillRect((ax + bx) / 2 + 8, (ay + by) / 2 - 18, w + 8, 18);
      ctx.fillStyle = COLOURS.ruler; ctx.fillText(t, (ax + bx) / 2 + 12, (ay + by) / 2 - 5);
    }
    ctx.restore();
  }

  function drawScaleBar() {
    const m = mpp();
    if (!m) return;
    const { h } = size();
    const umPerPx = ((m[0] + m[1]) / 2) / state.view.s;
    const target = 120 * umPerPx;
    const p = Math.pow(10, Math.floor(Math.log10(target)));
    const nice = [1, 2, 5, 10].map((k) => k * p).filter((v) => v <= target).pop() || p;
    const w = nice / umPerPx, x = 12, y = h - 16;
    ctx.save();
    ctx.fillStyle = "rgba(255,255,255,0.8)"; ctx.fillRect(x - 6, y - 20, w + 12, 28);
    ctx.fillStyle = "#000"; ctx.fillRect(x, y, w, 4);
    ctx.font = "12px sans-serif"; ctx.fillText(fmtLength(nice), x, y - 6);
    ctx.restore();
    text($("zoom"), `${umPerPx.toFixed(umPerPx < 10 ? 2 : 0)} \u00b5m/px on screen`);
  }

  /** The whole slide in the upper right corner (its one-tile Deep Zoom level) with the view's outline. */
  function minimapBox() {
    const info = state.info, { w } = size(), side = 150;
    const k = Math.min(side / info.width, side / info.height);
    return { x: w - info.width * k - 10, y: 10, w: info.width * k, h: info.height * k, k };
  }
  function drawMinimap() {
    const info = state.info, L = info.dz_levels, T = info.tile_size;
    let base = 0;
    for (let k = 0; k < L; k++) if (info.dz_dimensions[k][0] <= T && info.dz_dimensions[k][1] <= T) base = k;
    const t = tile(base, 0, 0, true), b = minimapBox(), v = state.view, { w, h } = size();
    if (!t || !t.loaded || state.view.s <= b.k * 1.5) return; // nothing to show when the whole slide is in view
    ctx.save();
    ctx.fillStyle = "rgba(255,255,255,0.9)"; ctx.fillRect(b.x - 3, b.y - 3, b.w + 6, b.h + 6);
    ctx.drawImage(t.img, b.x, b.y, b.w, b.h);
    ctx.strokeStyle = "rgb(0,120,255)"; ctx.lineWidth = 1.5;
    ctx.strokeRect(b.x + v.x0 * b.k, b.y + v.y0 * b.k, Math.max(2, w / v.s * b.k), Math.max(2, h / v.s * b.k));
    ctx.restore();
  }
  function minimapJump(sx, sy) {
    if (!state.info || state.info.error) return false;
    const b = minimapBox(), { w, h } = size();
    if (state.view.s <= b.k * 1.5 || sx < b.x || sy < b.y || sx > b.x + b.w || sy > b.y + b.h) return false;
    const x = (sx - b.x) / b.k, y = (sy - b.y) / b.k;
    state.view.x0 = x - w / 2 / state.view.s; state.view.y0 = y - h / 2 / state.view.s;
    redraw();
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // Frame
  // ------------------------------------------------------------------------------------------
  function frame() {
    if (dirty) {
      dirty = false;
      const dpr = window.devicePixelRatio || 1, { w, h } = size();
      if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
        canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
      }
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
      if (state.info && !state.info.error) {
        const v = state.view;
        ctx.setTransform(dpr * v.s, 0, 0, dpr * v.s, -v.x0 * v.s * dpr, -v.y0 * v.s * dpr);
        drawTiles(dpr);
        drawOverlays();
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        drawRuler();
        drawScaleBar();
        drawMinimap();
      }
    }
    requestAnimationFrame(frame);
  }

  // ------------------------------------------------------------------------------------------
  // The slide list
  // ------------------------------------------------------------------------------------------
  function rowValue(s, key) {
    if (key === "feature") return state.featureColumn ? s.features[state.featureColumn] : undefined;
    return s[key];
  }

  function renderList() {
    const q = $("filter").value.trim().toLowerCase();
    const terms = q ? q.split(/\s+/) : [];
    const key = state.sortKey, dir = state.sortDir;
    state.order = state.slides
      .filter((s) => {
        const hay = [s.name, s.centre, s.reference_label, s.reference_stage, s.predicted_label, s.predicted_stage].join(" ").toLowerCase();
        return terms.every((t) => hay.includes(t));
      })
      .sort((a, b) => {
        const x = rowValue(a, key), y = rowValue(b, key);
        if (x === y) return a.name < b.name ? -1 : 1;
        if (x === undefined || x === "") return 1;
        if (y === undefined || y === "") return -1;
        return (x < y ? -1 : 1) * dir;
      });
    const body = $("slides").tBodies[0];
    body.textContent = "";
    for (const s of state.order) {
      const tr = document.createElement("tr");
      tr.dataset.name = s.name;
      if (s.name === state.current) tr.className = "current";
      const f = state.featureColumn ? s.features[state.featureColumn] : undefined;
      const cells = [s.name, s.centre, s.reference_label, s.reference_stage, s.predicted_label, s.predicted_stage,
        f === undefined ? "" : (+f).toPrecision(3)];
      cells.forEach((c, i) => {
        const td = document.createElement("td");
        td.textContent = c;
        if (i === 2 || i === 4) td.className = `lab-${c}`;
        if (i === 4 && c && s.reference_label && c !== s.reference_label) td.classList.add("mismatch");
        if (i >= 4) td.classList.add(i === 6 ? "feature" : "run");
        tr.appendChild(td);
      });
      tr.addEventListener("click", () => open(s.name));
      body.appendChild(tr);
    }
    for (const th of $("slides").tHead.rows[0].cells) {
      th.classList.toggle("sorted-asc", th.dataset.key === key && dir > 0);
      th.classList.toggle("sorted-desc", th.dataset.key === key && dir < 0);
    }
    text($("count"), `${state.order.length} of ${state.slides.length} slides`);
  }

  function step(delta) {
    if (!state.order.length) return;
    const i = state.order.findIndex((s) => s.name === state.current);
    const j = i < 0 ? 0 : Math.max(0, Math.min(state.order.length - 1, i + delta));
    open(state.order[j].name);
  }

  function renderDetails() {
    const el = $("details");
    el.textContent = "";
    const s = state.slides.find((x) => x.name === state.current);
    if (!s) return;
    const head = document.createElement("div");
    const i = state.info || {};
    const bits = [`<b></b>`];
    head.innerHTML = bits.join("");
    head.firstChild.textContent = s.file;
    const dims = i.width ? ` \u00b7 ${i.width} \u00d7 ${i.height} px` : "";
    const um = i.mpp ? ` \u00b7 ${i.mpp[0].toFixed(3)} \u00b5m/px \u00b7 ${(i.width * i.mpp[0] / 1000).toFixed(1)} \u00d7 ${(i.height * i.mpp[1] / 1000).toFixed(1)} mm` : " \u00b7 um/px unknown";
    head.append(document.createTextNode(dims + (i.error ? "" : um)));
    el.appendChild(head);
    const names = Object.keys(s.features).sort();
    if (names.length) {
      const t = document.createElement("table");
      for (const n of names) {
        const tr = t.insertRow();
        tr.insertCell().textContent = n;
        tr.insertCell().textContent = (+s.features[n]).toPrecision(4);
      }
      el.appendChild(t);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Opening a slide
  // ------------------------------------------------------------------------------------------
  async function open(name, keepView) {
    state.generation += 1;
    const gen = state.generation;
    state.current = name;
    state.info = null; state.data = {}; state.heatmapCanvas = null; state.heatmapImage = null;
    state.ruler.a = state.ruler.b = null; state.pending = 0; state.tileError = false;
    tiles.clear();
    text($("measure"), ""); setMessage("");
    $("error-panel").hidden = true;
    renderList();
    const row = document.querySelector(`#slides tr[data-name="${CSS.escape(name)}"]`);
    if (row) row.scrollIntoView({ block: "nearest" });
    const info = await getJSON(`/slide/${encodeURIComponent(name)}/info.json`);
    if (gen !== state.generation) return;
    state.info = info;
    text($("title"), info.file || name);
    history.replaceState(null, "", `#slide=${encodeURIComponent(name)}`);
    if (info.error) {
      const p = $("error-panel");
      p.textContent = `Cannot show ${info.file || name}: ${info.error}`;
      p.hidden = false;
      renderDetails();
      redraw();
      return;
    }
    for (const n of OVERLAYS) {
      const box = $(`ov-${n}`);
      box.disabled = !info.overlays[n];
      box.parentElement.style.opacity = info.overlays[n] ? 1 : 0.45;
    }
    if (!keepView) home();
    renderDetails();
    const current = document.querySelector("#slides tr.current");
    if (current) current.scrollIntoView({ block: "nearest" });
    await Promise.all(OVERLAYS.filter((n) => state.overlays[n]).map(loadOverlay));
    redraw();
  }

  function setThreshold(t) {
    if (!(t >= 0 && t <= 1) || t === state.threshold) return;
    state.threshold = t;
    $("threshold").value = t;
    delete state.data.lesions;
    if (state.overlays.lesions) loadOverlay("lesions");
    redraw();
  }

  function setOverlay(name, on) {
    state.overlays[name] = on;
    $(`ov-${name}`).checked = on;
    if (on) loadOverlay(name);
    updateLegend();
    redraw();
  }

  // ------------------------------------------------------------------------------------------
  // Input
  // ------------------------------------------------------------------------------------------
  function setRuler(on) {
    state.ruler.on = on;
    $("ruler").classList.toggle("active", on);
    view.classList.toggle("ruler", on);
  }

  function showMeasure() {
    const len = rulerLength(), r = state.ruler;
    if (len) text($("measure"), `ruler ${len.mm.toFixed(3)} mm (${len.px.toFixed(0)} px) \u2192 ${len.label}`);
    else if (r.a && r.b) {
      const px = Math.hypot(r.b[0] - r.a[0], r.b[1] - r.a[1]);
      text($("measure"), `ruler ${px.toFixed(0)} px (the slide does not record its \u00b5m/px: start with --mpp)`);
    } else text($("measure"), "");
  }

  let drag = null;
  const touches = new Map(); // pointerId -> [x, y] of the fingers on the canvas (pinch zoom)
  function pinch() {
    const [a, b] = [...touches.values()];
    return { d: Math.hypot(b[0] - a[0], b[1] - a[1]), mid: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2] };
  }
  let lastPinch = null;
  canvas.addEventListener("pointerdown", (e) => {
    view.focus();
    if (!state.info || state.info.error) return;
    const p = [e.offsetX, e.offsetY];
    if (e.pointerType === "touch") {
      touches.set(e.pointerId, p);
      if (touches.size === 2) { drag = null; state.ruler.drawing = false; lastPinch = pinch(); return; }
    }
    if (!state.ruler.on && minimapJump(...p)) return;
    canvas.setPointerCapture(e.pointerId);
    if (state.ruler.on) {
      state.ruler.a = toLevel0(...p); state.ruler.b = state.ruler.a.slice(); state.ruler.drawing = true;
      showMeasure();
    } else {
      drag = p;
    }
    redraw();
  });
  canvas.addEventListener("pointermove", (e) => {
    const p = [e.offsetX, e.offsetY];
    if (state.info && !state.info.error) {
      const [x, y] = toLevel0(...p), m = mpp();
      state.pointer = [x, y];
      text($("pos"), `x ${x.toFixed(0)}  y ${y.toFixed(0)} px` +
        (m ? `  \u00b7  ${(x * m[0]).toFixed(1)}, ${(y * m[1]).toFixed(1)} \u00b5m` : ""));
    }
    if (touches.has(e.pointerId)) touches.set(e.pointerId, p);
    if (touches.size === 2 && lastPinch) {
      const now = pinch();
      if (lastPinch.d > 0) zoomAt(now.d / lastPinch.d, lastPinch.mid[0], lastPinch.mid[1]);  // the point under the old midpoint ...
      // ... follows the fingers to the new one
      pan(now.mid[0] - lastPinch.mid[0], now.mid[1] - lastPinch.mid[1]);
      lastPinch = now;
      return;
    }
    if (state.ruler.drawing) { state.ruler.b = toLevel0(...p); showMeasure(); redraw(); }
    else if (drag) { pan(p[0] - drag[0], p[1] - drag[1]); drag = p; }
  });
  const release = (e) => {
    touches.delete(e.pointerId);
    if (touches.size < 2) lastPinch = null;
    if (state.ruler.drawing) { state.ruler.b = toLevel0(e.offsetX, e.offsetY); state.ruler.drawing = false; showMeasure(); redraw(); }
    drag = null;
  };
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", (e) => {
    touches.delete(e.pointerId); lastPinch = null; drag = null; state.ruler.drawing = false;
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    zoomAt(Math.pow(1.2, -e.deltaY / 100), e.offsetX, e.offsetY);
  }, { passive: false });
  canvas.addEventListener("dblclick", (e) => animateZoom(2, e.offsetX, e.offsetY));
  window.addEventListener("resize", redraw);

  document.addEventListener("keydown", (e) => {
    const inInput = e.target instanceof HTMLInputElement && e.target.type !== "checkbox" && e.target.type !== "range";
    if (e.key === "/" && !inInput) { e.preventDefault(); $("filter").focus(); return; }
    if (inInput && e.key === "Enter") { e.preventDefault(); if (state.order.length) open(state.order[0].name); return; }
    if (e.key === "ArrowDown" && (!e.shiftKey || inInput)) { e.preventDefault(); step(1); return; }
    if (e.key === "ArrowUp" && (!e.shiftKey || inInput)) { e.preventDefault(); step(-1); return; }
    if (inInput || e.target instanceof HTMLSelectElement || e.ctrlKey || e.metaKey || e.altKey) return;
    const { w, h } = size();
    switch (e.key) {
      case "j": step(1); break;
      case "k": step(-1); break;
      case "+": case "=": animateZoom(1.5, w / 2, h / 2); break;
      case "-": case "_": animateZoom(1 / 1.5, w / 2, h / 2); break;
      case "ArrowLeft": pan(w / 5, 0); break;
      case "ArrowRight": pan(-w / 5, 0); break;
      case "ArrowUp": pan(0, h / 5); break;
      case "ArrowDown": pan(0, -h / 5); break;
      case "h": case "0": home(); break;
      case "r": setRuler(!state.ruler.on); break;
      case "Escape": state.ruler.a = state.ruler.b = null; showMeasure(); setRuler(false); redraw(); break;
      default: {
        const name = OVERLAY_KEYS[e.key];
        if (name && !$(`ov-${name}`).disabled) setOverlay(name, !state.overlays[name]);
        else return;
      }
    }
    e.preventDefault();
  });

  for (const n of OVERLAYS) {
    const box = $(`ov-${n}`);
    state.overlays[n] = box.checked;
    box.addEventListener("change", () => setOverlay(n, box.checked));
  }
  $("opacity").addEventListener("input", () => { state.opacity = $("opacity").value / 100; redraw(); });
  $("threshold").addEventListener("change", () => {
    if ($("threshold").value.trim() !== "") setThreshold(+$("threshold").value);  // an emptied box changes nothing
  });
  $("cmap").addEventListener("change", () => { state.cmap = $("cmap").value; colourHeatmap(); });
  $("ruler").addEventListener("click", () => setRuler(!state.ruler.on));
  $("zoom-in").addEventListener("click", () => animateZoom(1.5, size().w / 2, size().h / 2));
  $("zoom-out").addEventListener("click", () => animateZoom(1 / 1.5, size().w / 2, size().h / 2));
  $("home").addEventListener("click", home);
  $("filter").addEventListener("input", renderList);
  $("feature-column").addEventListener("change", () => {
    state.featureColumn = $("feature-column").value;
    document.body.classList.toggle("no-feature", !state.featureColumn);
    text($("feature-head"), state.featureColumn);
    renderList();
  });
  for (const th of $("slides").tHead.rows[0].cells) {
    th.addEventListener("click", () => {
      if (state.sortKey === th.dataset.key) state.sortDir = -state.sortDir;
      else { state.sortKey = th.dataset.key; state.sortDir = 1; }
      renderList();
    });
  }

  // ------------------------------------------------------------------------------------------
  // Start
  // ------------------------------------------------------------------------------------------
  async function start() {
    const params = new URLSearchParams(location.search);
    if (params.get("embed")) document.body.classList.add("embed");
    document.body.classList.add("no-feature");
    for (const n of (params.get("overlays") || "").split(",").filter((x) => OVERLAYS.includes(x))) setOverlay(n, true);
    const [config, list] = await Promise.all([getJSON("/config.json"), getJSON("/slides.json")]);
    state.config = config;
    for (const name of Object.keys(config.colour_maps || {})) {
      const o = document.createElement("option"); o.value = o.textContent = name; $("cmap").appendChild(o);
    }
    state.cmap = $("cmap").value;
    state.slides = list.slides || [];
    const hasRun = state.slides.some((s) => s.predicted_label || s.predicted_stage);
    document.body.classList.toggle("no-run", !hasRun);
    const feats = new Set();
    state.slides.forEach((s) => Object.keys(s.features).forEach((f) => feats.add(f)));
    for (const f of [...feats].sort()) {
      const o = document.createElement("option"); o.value = o.textContent = f; $("feature-column").appendChild(o);
    }
    $("warnings").textContent = (list.warnings || []).join("\n");
    renderList();
    const wanted = params.get("slide") || new URLSearchParams(location.hash.slice(1)).get("slide");
    const first = state.slides.find((s) => s.name === wanted) || state.order[0];
    if (first) await open(first.name);
    state.started = true;
  }

  window.camelyonViewer = {
    state,
    open,
    setOverlay,
    setView(x0, y0, s) { state.view = { x0, y0, s }; redraw(); },
    getView() { return { ...state.view }; },
    toScreen, toLevel0, home, rulerLength,
    setOpacity(p) { $("opacity").value = Math.round(p * 100); state.opacity = p; redraw(); },
    setThreshold,
    setColourMap(name) { $("cmap").value = name; state.cmap = name; colourHeatmap(); },
    /** True when the page has nothing left to load for the current view and has drawn it. */
    idle() {
      if (!state.started || state.fetches > 0 || state.pending > 0 || dirty || state.animating) return false;
      return Object.values(state.data).every((v) => v !== "loading");
    },
  };
  requestAnimationFrame(frame);
  start();
})();
