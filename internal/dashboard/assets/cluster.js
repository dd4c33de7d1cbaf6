// jobsched dashboard: every node's tree. On a shared store (PostgreSQL) GET /v1/cluster lists
// the nodes with the tree each publishes; this node's tree is drawn live above (app.js), the
// others' are stacked below it, each with its address, workers and last heartbeat. On a single
// node the section stays hidden. Uses $, el, api and treeElement of app.js.
'use strict';

const cluster = { boxes: new Map() };

async function loadCluster() {
  try {
    const res = await api('GET', '/v1/cluster');
    renderCluster(res.nodes || []);
  } catch (err) {
    if (err.status !== 401) $('#cluster-msg').textContent = 'cluster: ' + err.message; // a 401 shows in the badge
  }
}

function renderCluster(nodes) {
  const self = nodes.find((n) => n.address === location.host);
  $('#tree-node').textContent = nodes.length > 1 && self ? `node ${self.name}` : '';
  const others = nodes.length > 1 ? nodes.filter((n) => n !== self) : [];
  $('#cluster').hidden = others.length === 0;
  $('#cluster-h').textContent = `Other nodes (${others.length})`;
  const now = Date.now();
  const boxes = others.map((n) => {
    let box = cluster.boxes.get(n.name);
    if (!box) { box = el('details', { class: 'node-tree', open: '' }); cluster.boxes.set(n.name, box); }
    box.setAttribute('data-node', n.name);
    const ago = Math.max(0, Math.round((now - Date.parse(n.last_heartbeat)) / 1000));
    const summary = el('summary', {}, el('b', {}, n.name), ` ${n.address || 'no address yet'} · ${n.workers} workers · heartbeat ${ago} s ago`);
    const tree = el('div', { class: 'tree' }, n.tree ? treeElement(n.tree, false).ul : el('p', {}, 'no tree published yet'));
    box.replaceChildren(summary, tree);
    return box;
  });
  for (const name of cluster.boxes.keys()) if (!others.some((n) => n.name === name)) cluster.boxes.delete(name);
  $('#cluster-nodes').replaceChildren(...boxes);
  $('#cluster-msg').textContent = '';
}

loadCluster();
setInterval(loadCluster, 2000);
