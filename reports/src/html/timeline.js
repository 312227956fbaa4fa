// faultline timeline: draws packed ops on a canvas; see timeline.rs.
(function () {
  'use strict';
  function bytes(id) {
    var s = atob(document.getElementById(id).textContent.trim());
    var n = s.length, u = new Uint8Array(n);
    for (var i = 0; i < n; i++) u[i] = s.charCodeAt(i);
    return u;
  }
  var M = JSON.parse(document.getElementById('tl-meta').textContent);
  var start = new Uint32Array(bytes('tl-start').buffer);
  var dur = new Uint32Array(bytes('tl-dur').buffer);
  var idx = new Uint32Array(bytes('tl-idx').buffer);
  var out = bytes('tl-out'), fi = bytes('tl-f'), node = bytes('tl-node');
  var values = null; // parsed on first use
  var cited = new Set(M.cited);
  var N = M.count, rows = M.rows, rs = M.rowStart, unit = M.unit;
  var COL = ['#5cb85c', '#d9534f', '#f0ad4e', '#b0b7c3'];
  var WORD = ['ok', 'fail', 'info', 'never completed'];
  var host = document.getElementById('timeline');
  var cv = document.getElementById('tl-canvas');
  var tip = document.getElementById('tl-tip');
  var detail = document.getElementById('tl-detail');
  var range = document.getElementById('tl-range');
  var ctx = cv.getContext('2d');
  var GUT = 70, AX = 22, TOPF = 16;
  var citedJ = [];
  for (var ci = 0; ci < N; ci++) if (cited.has(idx[ci])) citedJ.push(ci);
  var maxT = 1;
  for (var i = 0; i < N; i++) { var e = start[i] + dur[i]; if (e > maxT) maxT = e; }
  if (M.end / unit > maxT) maxT = M.end / unit;
  var v0 = 0, v1 = maxT * 1.01, yoff = 0, rowH = 16, W = 800, H = 300;
  var sel = -1;

  function fmt(ticks) {
    if (!M.timed) return 'event ' + Math.round(ticks);
    if (ticks === 0) return '0 s';
    var s = ticks * unit, a = Math.abs(s);
    if (a >= 10) return s.toFixed(1) + ' s';
    if (a >= 1) return s.toFixed(2) + ' s';
    if (a >= 1e-3) return (s * 1e3).toFixed(1) + ' ms';
    return (s * 1e6).toFixed(0) + ' µs';
  }
  function layout() {
    ctx.font = '11px system-ui, sans-serif';
    GUT = 40;
    for (var q = 0; q < rows.length && q < 2000; q++) GUT = Math.max(GUT, ctx.measureText(rows[q]).width + 10);
    GUT = Math.min(GUT, 160);
    var dpr = window.devicePixelRatio || 1;
    W = Math.max(300, host.clientWidth);
    rowH = Math.max(3, Math.min(18, Math.floor(560 / Math.max(1, rows.length))));
    H = Math.min(620, rows.length * rowH + AX + TOPF + 2);
    cv.width = W * dpr; cv.height = H * dpr;
    cv.style.width = W + 'px'; cv.style.height = H + 'px';
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }
  function xOf(t) { return GUT + (t - v0) / (v1 - v0) * (W - GUT); }
  function tOf(x) { return v0 + (x - GUT) / (W - GUT) * (v1 - v0); }
  function plotH() { return H - AX - TOPF; }
  function clampY() {
    var max = Math.max(0, rows.length * rowH - plotH());
    yoff = Math.max(0, Math.min(max, yoff));
  }
  // First op of row r whose end >= t (ends are sorted within a row).
  function firstVisible(r, t) {
    var lo = rs[r], hi = rs[r + 1];
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (start[mid] + dur[mid] < t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
  function draw() {
    ctx.clearRect(0, 0, W, H);
    ctx.font = '11px system-ui, sans-serif';
    var ph = plotH();
    var r0 = Math.floor(yoff / rowH), r1 = Math.min(rows.length - 1, Math.floor((yoff + ph) / rowH));
    var scale = (W - GUT) / (v1 - v0);
    var bh = Math.max(1, rowH - (rowH > 6 ? 3 : 1));
    ctx.save();
    ctx.beginPath(); ctx.rect(GUT, TOPF, W - GUT, ph); ctx.clip();
    for (var r = r0; r <= r1; r++) {
      if (r % 2 === 0) { ctx.fillStyle = '#f6f7f9'; ctx.fillRect(GUT, TOPF + r * rowH - yoff, W - GUT, rowH); }
    }
    for (r = r0; r <= r1; r++) {
      var y = TOPF + r * rowH - yoff + 1;
      // Ops narrower than a pixel are counted per pixel column and drawn
      // once: a full bar in the majority outcome's colour, with a mark at the
      // bottom for the share that failed or ended unknown.
      var px = -1, cnt = [0, 0, 0, 0];
      var flush = function () {
        if (px < 0) return;
        var tot = cnt[0] + cnt[1] + cnt[2] + cnt[3], best = 0;
        for (var q = 1; q < 4; q++) if (cnt[q] > cnt[best]) best = q;
        ctx.fillStyle = COL[best]; ctx.fillRect(px, y, 1, bh);
        var bad = cnt[1] + cnt[2];
        if (bad > 0 && best === 0) {
          var mh = Math.max(1, Math.round(bh * bad / tot));
          ctx.fillStyle = COL[cnt[1] >= cnt[2] ? 1 : 2]; ctx.fillRect(px, y + bh - mh, 1, mh);
        }
        px = -1; cnt[0] = cnt[1] = cnt[2] = cnt[3] = 0;
      };
      for (var j = firstVisible(r, v0), e = rs[r + 1]; j < e && start[j] <= v1; j++) {
        var x0 = GUT + (start[j] - v0) * scale, w = dur[j] * scale, o = out[j];
        if (w < 1) {
          var c = Math.floor(x0);
          if (c !== px) { flush(); px = c; }
          cnt[o]++;
          continue;
        }
        flush();
        ctx.fillStyle = COL[o];
        ctx.fillRect(x0, y, w, bh);
        if (w > 3 && cited.has(idx[j])) {
          ctx.strokeStyle = '#111'; ctx.lineWidth = 1.5; ctx.strokeRect(x0, y, w, bh);
        }
      }
      flush();
    }
    if (sel >= 0) {
      var sr = rowOf(sel), sy = TOPF + sr * rowH - yoff + 1;
      var sx = GUT + (start[sel] - v0) * scale;
      ctx.strokeStyle = '#1f6fb2'; ctx.lineWidth = 2;
      ctx.strokeRect(sx - 1, sy - 1, Math.max(2, dur[sel] * scale) + 2, bh + 2);
    }
    ctx.restore();
    // faults: a band in the top strip and a veil over the rows
    for (var k = 0; k < M.faults.length; k++) {
      var f = M.faults[k], a = xOf(f.t0 / unit), b = xOf(f.t1 / unit);
      if (b < GUT || a > W) continue;
      a = Math.max(a, GUT); b = Math.min(b, W);
      ctx.fillStyle = 'rgba(240,173,78,0.18)';
      ctx.fillRect(a, TOPF, Math.max(1, b - a), ph);
      ctx.fillStyle = 'rgba(240,173,78,0.9)';
      ctx.fillRect(a, 0, Math.max(2, b - a), TOPF - 2);
      ctx.fillStyle = '#4a2a00';
      ctx.fillText(f.name, a + 3, TOPF - 4);
    }
    // marks (a node exited on its own): a red line through the rows
    var marks = M.marks || [];
    for (var mk = 0; mk < marks.length; mk++) {
      var mx = xOf(marks[mk].t / unit);
      if (mx < GUT || mx > W) continue;
      ctx.fillStyle = '#c62828';
      ctx.fillRect(mx - 1, 0, 2, TOPF + ph);
      var lw = ctx.measureText(marks[mk].label).width;
      ctx.fillStyle = 'rgba(255,255,255,0.9)';
      ctx.fillRect(mx + 2, TOPF + 2, lw + 4, 13);
      ctx.fillStyle = '#c62828';
      ctx.fillText(marks[mk].label, mx + 4, TOPF + 12);
    }
    // cited ops: a black tick in the top strip, whatever the zoom
    ctx.fillStyle = '#111';
    for (var m = 0; m < citedJ.length; m++) {
      var cx = xOf(start[citedJ[m]]);
      if (cx >= GUT && cx <= W) ctx.fillRect(cx - 1, TOPF - 6, 2, 6);
    }
    // row labels
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, GUT, H);
    ctx.fillStyle = '#333';
    if (rowH >= 9) {
      for (var q = r0; q <= r1; q++) ctx.fillText(rows[q], 4, TOPF + q * rowH - yoff + rowH - 4);
    }
    // axis
    ctx.strokeStyle = '#999'; ctx.beginPath(); ctx.moveTo(GUT, H - AX); ctx.lineTo(W, H - AX); ctx.stroke();
    var span = v1 - v0, target = span / 8, p = Math.pow(10, Math.floor(Math.log10(target)));
    var step = [1, 2, 5, 10].map(function (m) { return m * p; }).find(function (s) { return s >= target; }) || p * 10;
    ctx.fillStyle = '#555';
    for (var t = Math.ceil(v0 / step) * step; t <= v1; t += step) {
      var x = xOf(t);
      ctx.fillRect(x, H - AX, 1, 4);
      ctx.fillText(fmt(t), x + 2, H - 6);
    }
    range.textContent = fmt(v0) + ' – ' + fmt(v1);
  }
  function rowOf(j) {
    var lo = 0, hi = rows.length - 1;
    while (lo < hi) { var mid = (lo + hi + 1) >> 1; if (rs[mid] <= j) lo = mid; else hi = mid - 1; }
    return lo;
  }
  function hit(px, py) {
    var r = Math.floor((py - TOPF + yoff) / rowH);
    if (r < 0 || r >= rows.length || px < GUT || py > H - AX) return -1;
    var t = tOf(px), tol = 3 * (v1 - v0) / (W - GUT);
    var j = firstVisible(r, t - tol);
    if (j < rs[r + 1] && start[j] <= t + tol) return j;
    return -1;
  }
  function describe(j) {
    if (values === null) values = JSON.parse(document.getElementById('tl-values').textContent);
    var r = rowOf(j);
    return {
      head: 'op ' + idx[j] + ' · ' + rows[r] + ' · ' + M.fs[fi[j]] + ' · ' + WORD[out[j]] + (node[j] ? ' · ' + M.nodes[node[j]] : ''),
      when: fmt(start[j]) + ' → ' + fmt(start[j] + dur[j]) + ' (' + (M.timed ? 'latency ' : '') + fmt(dur[j]).replace('event ', '') + ')',
      value: values[j]
    };
  }
  function show(el, j) {
    var d = describe(j);
    el.textContent = '';
    var h = document.createElement('b'); h.textContent = d.head; el.appendChild(h);
    el.appendChild(document.createElement('br'));
    el.appendChild(document.createTextNode(d.when));
    el.appendChild(document.createElement('br'));
    var c = document.createElement('code'); c.textContent = d.value; el.appendChild(c);
    if (el === detail && document.getElementById('op-' + idx[j])) {
      el.appendChild(document.createTextNode(' '));
      var a = document.createElement('a'); a.href = '#op-' + idx[j]; a.textContent = 'cited: see details';
      el.appendChild(a);
    }
  }
  function zoom(f, cx) {
    var t = tOf(cx), n0 = t - (t - v0) * f, n1 = t + (v1 - t) * f;
    if (n1 - n0 < 2) return;
    v0 = n0; v1 = n1; draw();
  }
  cv.addEventListener('wheel', function (ev) {
    ev.preventDefault();
    if (ev.shiftKey) { yoff += ev.deltaY; clampY(); draw(); return; }
    zoom(ev.deltaY > 0 ? 1.25 : 0.8, ev.offsetX);
  }, { passive: false });
  var drag = null;
  cv.addEventListener('mousedown', function (ev) { drag = { x: ev.clientX, y: ev.clientY, v0: v0, v1: v1, yo: yoff, moved: false }; });
  window.addEventListener('mouseup', function (ev) {
    if (drag && !drag.moved) {
      var r = cv.getBoundingClientRect(), j = hit(ev.clientX - r.left, ev.clientY - r.top);
      if (j >= 0) { sel = j; show(detail, j); detail.classList.remove('muted'); draw(); }
    }
    drag = null;
  });
  window.addEventListener('mousemove', function (ev) {
    if (drag) {
      var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      var dt = dx / (W - GUT) * (drag.v1 - drag.v0);
      v0 = drag.v0 - dt; v1 = drag.v1 - dt; yoff = drag.yo - dy; clampY(); draw();
      tip.hidden = true;
      return;
    }
    if (ev.target !== cv) { tip.hidden = true; return; }
    var j = hit(ev.offsetX, ev.offsetY);
    if (j < 0) { tip.hidden = true; return; }
    show(tip, j);
    tip.style.left = Math.min(ev.offsetX + 14, W - 320) + 'px';
    tip.style.top = (ev.offsetY + 14) + 'px';
    tip.hidden = false;
  });
  cv.addEventListener('dblclick', function () { v0 = 0; v1 = maxT * 1.01; yoff = 0; draw(); });
  host.querySelectorAll('[data-z]').forEach(function (b) {
    b.addEventListener('click', function () {
      var z = b.getAttribute('data-z');
      if (z === 'reset') { v0 = 0; v1 = maxT * 1.01; yoff = 0; draw(); }
      else zoom(z === 'in' ? 0.5 : 2, (GUT + W) / 2);
    });
  });
  document.querySelectorAll('button.show').forEach(function (b) {
    b.addEventListener('click', function () {
      var a = parseFloat(b.getAttribute('data-t0')) / unit, z = parseFloat(b.getAttribute('data-t1')) / unit;
      var pad = Math.max((z - a) * 2, 50);
      v0 = a - pad; v1 = z + pad;
      var want = parseInt(b.getAttribute('data-idx'), 10);
      sel = -1;
      for (var j = 0; j < N; j++) { if (idx[j] === want) { sel = j; break; } }
      if (sel >= 0) { yoff = rowOf(sel) * rowH - plotH() / 2; clampY(); }
      draw();
      host.scrollIntoView({ behavior: 'smooth', block: 'center' });
    });
  });
  window.addEventListener('resize', function () { layout(); clampY(); draw(); });
  layout();
  draw();
  document.body.dataset.ready = '1';
})();
