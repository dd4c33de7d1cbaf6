// jobsched dashboard: each category's jobs per minute over the last hour, from the stream's
// "throughput" event (60 minutes, oldest first): succeeded above the axis, failed attempts below.
'use strict';

function renderThroughput(perCat) {
  const figs = Object.keys(perCat).sort().map((name) => {
    const mins = perCat[name];
    const ok = mins.reduce((n, m) => n + m.succeeded, 0);
    const bad = mins.reduce((n, m) => n + m.failed, 0);
    const dead = mins.reduce((n, m) => n + m.dead, 0);
    const canvas = el('canvas', { width: '480', height: '120', 'data-category': name, 'data-succeeded': ok, 'data-failed': bad,
      role: 'img', 'aria-label': `${name}: ${ok} succeeded, ${bad} failed attempts, ${dead} dead in the last hour` });
    bars(canvas, mins);
    return el('figure', {}, canvas, el('figcaption', {}, el('b', {}, name), ` ${ok} succeeded · ${bad} failed attempts · ${dead} dead`));
  });
  $('#hour').replaceChildren(...figs);
}

function bars(canvas, mins) {
  const g = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height, mid = Math.round(h * 0.7);
  g.clearRect(0, 0, w, h);
  const peak = Math.max(1, ...mins.map((m) => Math.max(m.succeeded, m.failed)));
  const bw = w / mins.length;
  mins.forEach((m, i) => {
    const x = i * bw + 1;
    g.fillStyle = '#1a7f37';
    const up = (m.succeeded / peak) * (mid - 14);
    g.fillRect(x, mid - up, bw - 2, up);
    g.fillStyle = '#cf222e';
    g.fillRect(x, mid + 1, bw - 2, (m.failed / peak) * (h - mid - 14));
  });
  g.fillStyle = '#8c959f';
  g.fillRect(0, mid, w, 1);
  g.font = '11px system-ui, sans-serif';
  g.fillText(`${peak}/min`, 2, 11);
  g.fillText('−60 min', 2, h - 2);
  g.fillText('now', w - 22, h - 2);
}
