// jobsched dashboard: a job's parents and children drawn as a small graph (SVG, no library):
// parents on the left, the job in the middle, children on the right, each a box colored by its
// state that links to its job page. The neighbours' states are read with GET /v1/jobs/{id}
// (at most DAG_SIDE a side, each at most every 2 s) and follow the event stream. Uses $, el and
// api of app.js; jobs.js calls dagElement from renderJob.
'use strict';

const DAG_SIDE = 8; // boxes drawn a side; the rest is "+N more"
const DAG_W = 190, DAG_H = 38, DAG_GAP = 10, DAG_COL = 270;
const SVG = 'http://www.w3.org/2000/svg';
const dag = { jobs: new Map(), fetching: new Set(), current: null, seq: 0 };

// dagLearn records a neighbour's state; seq orders what was learnt, so that a GET answered
// after a newer event (its request left before the event came) does not bring back an old state.
function dagLearn(id, state, kind) {
  dag.jobs.set(id, { state, kind, at: Date.now(), seq: ++dag.seq });
}

function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) if (k !== null && k !== undefined) e.append(k.nodeType ? k : document.createTextNode(String(k)));
  return e;
}

// dagElement returns the graph of job j, or null when it has neither parents nor children.
function dagElement(j) {
  // An event's job has no children (only GET /v1/jobs/{id} reads them): keep those drawn.
  if (!j.children && dag.current && dag.current.id === j.id) j = Object.assign({}, j, { children: dag.current.children });
  const parents = j.parents || [], children = j.children || [];
  if (!parents.length && !children.length) { dag.current = null; return null; }
  dag.current = j;
  dagLearn(j.id, j.state, j.kind);
  dagFetch([...parents.slice(0, DAG_SIDE), ...children.slice(0, DAG_SIDE)]);
  return el('div', { id: 'job-dag', class: 'dag' }, dagSVG(j));
}

// dagJobsChanged takes the jobs of an event: a neighbour drawn follows its state (jobs.js).
function dagJobsChanged(jobs) {
  let hit = false;
  for (const j of jobs) {
    if (dag.jobs.has(j.id)) { dagLearn(j.id, j.state, j.kind); hit = true; }
  }
  if (hit) dagRedraw();
}

// While a graph is shown, its neighbours are read again every 2 s: an event the stream did not
// bring (a slow page's events are dropped, a reconnect misses some) is caught up with.
setInterval(() => {
  const j = dag.current;
  if (!j || !$('#job-dag')) return;
  dagFetch([...(j.parents || []).slice(0, DAG_SIDE), ...(j.children || []).slice(0, DAG_SIDE)]);
}, 2000);

function dagRedraw() {
  const box = $('#job-dag');
  if (box && dag.current) box.replaceChildren(dagSVG(dag.current));
}

// dagFetch reads the neighbours not known or not read for 2 s, then redraws.
function dagFetch(ids) {
  const now = Date.now();
  const stale = ids.filter((id) => !dag.fetching.has(id) && !(dag.jobs.get(id) && now - dag.jobs.get(id).at < 2000));
  if (!stale.length) return;
  stale.forEach((id) => dag.fetching.add(id));
  const asked = dag.seq; // an event learnt after this is newer than the answer
  const learn = (id, state, kind) => {
    const known = dag.jobs.get(id);
    if (!known || known.seq <= asked) dagLearn(id, state, kind);
  };
  Promise.all(stale.map((id) => api('GET', '/v1/jobs/' + encodeURIComponent(id))
    .then((n) => learn(id, n.state, n.kind))
    .catch((err) => learn(id, err.status === 404 ? 'deleted' : 'unknown', ''))
    .finally(() => dag.fetching.delete(id)))).then(dagRedraw);
}

function dagSVG(j) {
  const cols = [dagColumn(j.parents || []), [j.id], dagColumn(j.children || [])];
  const rows = Math.max(...cols.map((c) => c.length));
  const height = rows * (DAG_H + DAG_GAP) + DAG_GAP;
  const width = 2 * DAG_COL + DAG_W + 20;
  const pos = cols.map((c, x) => c.map((_, i) => ({
    x: 10 + x * DAG_COL, y: DAG_GAP + (height - DAG_GAP - c.length * (DAG_H + DAG_GAP)) / 2 + i * (DAG_H + DAG_GAP) })));
  const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `${(j.parents || []).length} parents, ${(j.children || []).length} children` },
  svg('defs', {}, svg('marker', { id: 'dag-arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' },
    svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'dag-arrowhead' }))));
  const me = pos[1][0];
  const edge = (a, b) => {
    const x1 = a.x + DAG_W, y1 = a.y + DAG_H / 2, x2 = b.x, y2 = b.y + DAG_H / 2, mx = (x1 + x2) / 2;
    root.append(svg('path', { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, class: 'dag-edge', 'marker-end': 'url(#dag-arrow)' }));
  };
  pos[0].forEach((p) => edge(p, me));
  pos[2].forEach((p) => edge(me, p));
  cols.forEach((c, x) => c.forEach((id, i) => root.append(dagNode(id, pos[x][i], id === j.id && x === 1))));
  return root;
}

// dagColumn is the ids drawn on one side: at most DAG_SIDE, the last standing for the rest.
function dagColumn(ids) {
  if (ids.length <= DAG_SIDE) return ids;
  return [...ids.slice(0, DAG_SIDE - 1), { more: ids.length - DAG_SIDE + 1 }];
}

function dagNode(id, p, self) {
  if (typeof id === 'object') {
    return svg('g', { class: 'dag-node dag-more' }, svg('rect', { x: p.x, y: p.y, width: DAG_W, height: DAG_H, rx: 5 }),
      svg('text', { x: p.x + 10, y: p.y + 23 }, `+${id.more.toLocaleString()} more`));
  }
  const info = dag.jobs.get(id) || { state: 'loading', kind: '' };
  const g = svg('g', { class: `dag-node dag-${info.state}${self ? ' dag-self' : ''}` },
    svg('title', {}, `${id}: ${info.state}`),
    svg('rect', { x: p.x, y: p.y, width: DAG_W, height: DAG_H, rx: 5 }),
    svg('text', { x: p.x + 8, y: p.y + 15, class: 'dag-kind' }, `${info.kind || '…'} · ${info.state}`),
    svg('text', { x: p.x + 8, y: p.y + 31, class: 'dag-id' }, '…' + id.slice(-12)));
  if (self) return g;
  return svg('a', { href: '#job/' + encodeURIComponent(id), 'data-job': id, class: 'dag-link' }, g);
}
