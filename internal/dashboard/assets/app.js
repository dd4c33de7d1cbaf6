// jobsched dashboard: plain JavaScript, no framework. Live data comes from GET /v1/events
// (Server-Sent Events, read with fetch so the bearer token can be sent), with reconnect.
'use strict';

const $ = (sel) => document.querySelector(sel);
const state = { token: localStorage.getItem('jobsched-token') || '', history: {}, lastCats: null, restarts: {} };

$('#token').value = state.token;
$('#token').addEventListener('change', (e) => {
  state.token = e.target.value.trim();
  localStorage.setItem('jobsched-token', state.token);
  reconnect();
});

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (state.token) h['Authorization'] = 'Bearer ' + state.token;
  return h;
}

async function api(method, path, body) {
  const opts = { method, headers: headers(body ? { 'Content-Type': 'application/json' } : {}) };
  if (body) opts.body = JSON.stringify(body);
  const r = await fetch(path, opts);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = new Error((data.error && data.error.message) || ('HTTP ' + r.status));
    err.status = r.status;
    err.code = data.error && data.error.code;
    throw err;
  }
  return data;
}

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k.nodeType ? k : String(k));
  return e;
}

// ---- event stream -------------------------------------------------------------------------
let abort = null;
function reconnect() { if (abort) abort.abort(); }

async function stream() {
  for (;;) {
    abort = new AbortController();
    try {
      const r = await fetch('/v1/events', { headers: headers(), signal: abort.signal });
      if (!r.ok) throw new Error('HTTP ' + r.status + (r.status === 401 ? ' (token?)' : ''));
      setConn(true, 'live');
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message', data = '';
          for (const line of frame.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data) handle(event, JSON.parse(data));
        }
      }
      setConn(false, 'reconnecting…');
    } catch (e) {
      setConn(false, e.name === 'AbortError' ? 'reconnecting…' : 'offline: ' + e.message);
    }
    await new Promise((res) => setTimeout(res, 1000));
  }
}

function setConn(on, text) {
  const c = $('#conn');
  c.textContent = text;
  c.className = 'badge ' + (on ? 'on' : 'off');
}

function handle(event, data) {
  if (event === 'tree') renderTree(data);
  else if (event === 'categories') renderCats(data.categories);
  else if (event === 'jobs') jobsChanged(data.jobs); // jobs.js
  else if (event === 'resize') logResize(data);
  else if (event === 'throughput') renderThroughput(data); // charts.js
  else if (event === 'resync') jobsResync(); // jobs.js: events were dropped for this stream
}

// ---- the tree -----------------------------------------------------------------------------
function renderTree(root) {
  const { ul, total } = treeElement(root, true);
  $('#tree').replaceChildren(ul);
  $('#restarts').textContent = `(${total} restarts)`;
}

// treeElement draws a tree; track flashes the nodes whose restarts grew since the last call
// (this node's live tree only: cluster.js draws the other nodes' without it).
function treeElement(root, track) {
  let total = 0;
  const grew = (pid, restarts) => {
    if (!track) return false;
    const prev = state.restarts[pid];
    state.restarts[pid] = restarts;
    return prev !== undefined && restarts > prev;
  };
  const build = (n) => {
    total += n.restarts;
    const hit = grew(n.pid, n.restarts);
    const li = el('li');
    if (n.role === 'Workers') {
      const sq = el('span', { class: 'workers', 'aria-label': n.children ? n.children.length + ' workers' : 'no workers' });
      let wr = 0;
      for (const w of n.children || []) {
        total += w.restarts; wr += w.restarts;
        const whit = grew(w.pid, w.restarts);
        sq.append(el('span', { class: 'w ' + (whit ? 'hit' : w.status), title: `${w.name}: ${w.status}, restarts ${w.restarts}` }));
      }
      li.append(nodeBox(n, hit, `${(n.children || []).length} workers, ${wr} worker restarts`), ' ', sq);
      return li;
    }
    li.append(nodeBox(n, hit));
    if (n.children && n.children.length) li.append(el('ul', {}, ...n.children.map(build)));
    return li;
  };
  const ul = el('ul', {}, build(root));
  return { ul, total };
}

function nodeBox(n, hit, extra) {
  return el('span', { class: 'node' + (hit ? ' flash' : ''), 'data-pid': n.pid, 'data-role': n.role },
    el('span', { class: 'role' }, n.role), el('span', { class: 'name' }, n.name),
    n.strategy ? el('span', { class: 'name' }, n.strategy) : null,
    el('span', { class: 'st ' + n.status }, n.status),
    el('span', { class: 'rs' }, extra || `restarts ${n.restarts}`));
}

// ---- categories ---------------------------------------------------------------------------
function renderCats(cats) {
  const now = Date.now();
  const sel = $('#enq-cat');
  if (sel.options.length !== cats.length) sel.replaceChildren(...cats.map((c) => el('option', { value: c.name }, c.name)));
  const rows = cats.map((c) => {
    const h = state.history[c.name] || (state.history[c.name] = { at: 0, ok: [], bad: [], last: null });
    if (now - h.at >= 1000) {
      const cur = { ok: c.counters.succeeded, bad: c.counters.dead };
      if (h.last) { h.ok.push(cur.ok - h.last.ok); h.bad.push(cur.bad - h.last.bad); }
      if (h.ok.length > 300) { h.ok.shift(); h.bad.shift(); }
      h.last = cur; h.at = now;
    }
    const canvas = el('canvas', { class: 'spark', width: '320', height: '64', 'aria-label': 'jobs per second' });
    spark(canvas, h.ok, h.bad);
    const rate = h.ok.length ? h.ok[h.ok.length - 1] : 0;
    const btn = el('button', { onclick: () => api('POST', `/v1/categories/${encodeURIComponent(c.name)}/${c.paused ? 'resume' : 'pause'}`).catch(alert) },
      c.paused ? 'Resume' : 'Pause');
    const retry = el('button', { class: 'retry-dead', title: 'run every dead job of this category again', onclick: () => retryDead(c.name) }, 'Retry all dead');
    const edit = el('button', { class: 'edit-cat', title: 'change this category\'s settings', onclick: () => editCategory(c) }, 'Edit'); // categories.js
    return el('tr', { 'data-category': c.name },
      el('td', {}, c.name + (c.paused ? ' (paused)' : '')), el('td', { class: 'queued' }, c.queued), el('td', {}, c.scheduled),
      el('td', {}, c.retrying), el('td', {}, c.running), el('td', { class: 'workers-cell' }, `${c.workers.busy} / ${c.workers.allocated}`),
      el('td', { class: 'succeeded' }, c.counters.succeeded), el('td', { class: 'dead' }, c.counters.dead),
      el('td', {}, canvas, ` ${rate}/s`), el('td', {}, btn, ' ', retry, ' ', edit));
  });
  $('#cats tbody').replaceChildren(...rows);
  categoriesChanged(cats); // jobs.js
  editorCategories(cats); // categories.js
}

function spark(canvas, ok, bad) {
  const g = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height;
  g.clearRect(0, 0, w, h);
  const peak = Math.max(1, ...ok, ...bad);
  const line = (vals, color) => {
    g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
    vals.forEach((v, i) => { const x = w - (vals.length - 1 - i) * (w / 300); const y = h - 2 - (v / peak) * (h - 4); i ? g.lineTo(x, y) : g.moveTo(x, y); });
    g.stroke();
  };
  line(ok, '#1a7f37'); line(bad, '#cf222e');
}

function logResize(r) {
  const li = el('li', {}, `${new Date(r.at).toLocaleTimeString()} ${r.category}: ${r.from} → ${r.to} workers`);
  const log = $('#resizes');
  log.prepend(li);
  while (log.children.length > 50) log.lastChild.remove();
}

// ---- enqueue test jobs ----------------------------------------------------------------------
$('#enqueue').addEventListener('submit', async (e) => {
  e.preventDefault();
  const n = Math.max(1, Math.min(100000, parseInt($('#enq-count').value, 10) || 1));
  const args = { ms: +$('#enq-ms').value, fail_rate: +$('#enq-fail').value, panic_rate: +$('#enq-panic').value };
  const category = $('#enq-cat').value;
  const msg = $('#enq-msg');
  $('#enq-go').disabled = true;
  try {
    let sent = 0, last = '';
    while (sent < n) {
      const k = Math.min(1000, n - sent);
      const jobs = Array.from({ length: k }, () => ({ kind: 'sleep', category, args, max_attempts: 3 }));
      const res = await api('POST', '/v1/jobs/batch', { jobs });
      sent += k; last = res.jobs[res.jobs.length - 1].id;
      msg.textContent = `enqueued ${sent} of ${n}`;
    }
    msg.textContent = `enqueued ${n} jobs; the last is ${last}`;
    $('#job-id').value = last;
  } catch (err) {
    msg.textContent = 'error: ' + err.message;
  } finally {
    $('#enq-go').disabled = false;
  }
});

stream();
