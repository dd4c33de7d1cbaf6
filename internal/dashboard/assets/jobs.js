// jobsched dashboard: the job browser (filters, pages by next_cursor), the job page (attempts,
// errors, progress, result; Retry / Cancel / Delete) and "retry all dead" of a category. Uses
// $, el, api and state of app.js. The job page's address is #job/<id>, so it can be shared.
'use strict';

const FINISHED = ['succeeded', 'dead', 'cancelled'];
const RETRYABLE = ['dead', 'cancelled', 'retrying', 'scheduled'];
const browse = { cursors: [''], page: 0, next: '', reload: null, seq: 0 }; // cursors[i] opens page i
const jobView = { id: '', poll: null };

function filter() {
  const f = { state: $('#f-state').value, category: $('#f-cat').value, kind: $('#f-kind').value.trim() };
  for (const k of Object.keys(f)) if (!f[k]) delete f[k];
  return f;
}

// ---- the browser --------------------------------------------------------------------------
async function loadPage() {
  const limit = +$('#f-limit').value;
  const msg = $('#jobs-msg');
  const seq = ++browse.seq; // only the latest request may draw
  const started = Date.now();
  try {
    // With a million jobs stored, a rare filter's call stops after a bounded read (the store's
    // List) and returns a short page with a cursor: follow it for up to 1.5 s to fill the page.
    let jobs = [], cursor = browse.cursors[browse.page], next = '';
    for (;;) {
      const q = new URLSearchParams(filter());
      q.set('limit', limit - jobs.length);
      if (cursor) q.set('cursor', cursor);
      const res = await api('GET', '/v1/jobs?' + q.toString());
      if (seq !== browse.seq) return;
      jobs = jobs.concat(res.jobs);
      next = res.next_cursor || '';
      if (jobs.length >= limit || !next || Date.now() - started > 1500) break;
      cursor = next;
    }
    browse.next = next;
    $('#jobs tbody').replaceChildren(...jobs.map(jobRow));
    if (jobs.length < limit && next) msg.textContent = `${jobs.length} found so far: the search stopped after ${((Date.now() - started) / 1000).toFixed(1)} s; Older searches further back`;
    else msg.textContent = jobs.length ? '' : 'no job matches';
  } catch (err) {
    if (seq !== browse.seq) return;
    msg.textContent = 'error: ' + err.message;
  }
  $('#jobs-page').textContent = `page ${browse.page + 1}`;
  $('#jobs-prev').disabled = browse.page === 0;
  $('#jobs-first').disabled = browse.page === 0;
  $('#jobs-next').disabled = !browse.next;
}

function jobRow(j) {
  const link = el('a', { href: '#job/' + encodeURIComponent(j.id), class: 'job-link' }, j.id);
  // The last error says why a job is dead or retrying; a job that succeeded since has none.
  const last = (j.state !== 'succeeded' && j.errors && j.errors.length) ? j.errors[j.errors.length - 1].error : '';
  return el('tr', { 'data-job': j.id },
    el('td', {}, link), el('td', {}, j.kind), el('td', {}, j.category),
    el('td', { class: 'state state-' + j.state }, j.state), el('td', { class: 'attempt' }, `${j.attempt}/${j.max_attempts}`),
    el('td', {}, new Date(j.created_at).toLocaleString()), el('td', { class: 'err', title: last }, last.length > 80 ? last.slice(0, 80) + '…' : last));
}

$('#jobs-filter').addEventListener('submit', (e) => {
  e.preventDefault();
  browse.cursors = ['']; browse.page = 0;
  loadPage();
});
$('#jobs-next').addEventListener('click', () => {
  if (!browse.next) return;
  browse.cursors[browse.page + 1] = browse.next; browse.page++;
  loadPage();
});
$('#jobs-prev').addEventListener('click', () => { if (browse.page > 0) { browse.page--; loadPage(); } });
$('#jobs-first').addEventListener('click', () => { browse.page = 0; loadPage(); });
$('#f-retry').addEventListener('click', async () => {
  const f = filter();
  try {
    const res = await api('POST', '/v1/jobs/retry', f);
    $('#jobs-msg').textContent = `retried ${res.count} jobs`;
    loadPage();
  } catch (err) {
    $('#jobs-msg').textContent = 'error: ' + err.message;
  }
});

// retryDead is the "Retry all dead" button of a category's row (app.js draws it).
async function retryDead(category) {
  const msg = $('#cat-msg');
  try {
    const res = await api('POST', '/v1/jobs/retry', { category, state: 'dead' });
    msg.textContent = `${category}: retried ${res.count} dead jobs`;
  } catch (err) {
    msg.textContent = `${category}: ${err.message}`;
  }
}

// categoriesChanged keeps the category filter's choices in step (app.js calls it).
function categoriesChanged(cats) {
  const sel = $('#f-cat');
  if (sel.options.length === cats.length + 1) return;
  const cur = sel.value;
  sel.replaceChildren(el('option', { value: '' }, 'any'), ...cats.map((c) => el('option', { value: c.name }, c.name)));
  sel.value = cur;
}

// jobsChanged takes the jobs of an event: rows on the page and the open job follow them live,
// and the first page reloads (at most every 2 s) when a job it does not show matches the filter.
function jobsChanged(jobs) {
  const f = filter();
  let fresh = false;
  for (const j of jobs) {
    const row = document.querySelector(`#jobs tr[data-job="${CSS.escape(j.id)}"]`);
    if (row) row.replaceWith(jobRow(j));
    else if ((!f.state || f.state === j.state) && (!f.category || f.category === j.category) && (!f.kind || f.kind === j.kind)) fresh = true;
    if (j.id === jobView.id) renderJob(j);
  }
  dagJobsChanged(jobs); // dag.js
  if (fresh && browse.page === 0 && !browse.reload) {
    browse.reload = setTimeout(() => { browse.reload = null; if (browse.page === 0) loadPage(); }, 2000);
  }
}

// jobsResync re-reads what the events would have updated: they were dropped for this stream.
function jobsResync() {
  if (jobView.id) loadJob();
  loadPage();
}

// ---- the job page -------------------------------------------------------------------------
$('#lookup').addEventListener('submit', (e) => {
  e.preventDefault();
  const id = $('#job-id').value.trim();
  if (location.hash === '#job/' + encodeURIComponent(id)) openJob(id); else location.hash = 'job/' + encodeURIComponent(id);
});
window.addEventListener('hashchange', route);

function route() {
  const m = location.hash.match(/^#job\/(.+)$/);
  if (m) openJob(decodeURIComponent(m[1]));
}

async function openJob(id) {
  jobView.id = id;
  $('#job-id').value = id;
  $('#job-msg').textContent = '';
  clearInterval(jobView.poll);
  if (!id) return;
  await loadJob();
  jobView.poll = setInterval(loadJob, 1000); // events carry changes too; this covers a lost one
  $('#job-h').scrollIntoView({ block: 'start' });
}

async function loadJob() {
  const id = jobView.id;
  try {
    renderJob(await api('GET', '/v1/jobs/' + encodeURIComponent(id)));
  } catch (err) {
    if (id !== jobView.id) return;
    clearInterval(jobView.poll);
    $('#job').replaceChildren(el('p', { id: 'job-missing' }, err.message));
  }
}

function renderJob(j) {
  if (j.id !== jobView.id) return;
  if (FINISHED.includes(j.state)) clearInterval(jobView.poll);
  const dl = el('dl', { class: 'job' });
  const row = (k, v) => { if (v !== undefined && v !== null && v !== '') dl.append(el('dt', {}, k), el('dd', {}, v)); };
  row('state', el('span', { class: 'state-' + j.state, id: 'job-state' }, j.state + (j.cancel_requested ? ' (cancel requested)' : '')));
  row('kind / category', `${j.kind} / ${j.category}`);
  row('attempt', el('span', { id: 'job-attempt' }, `${j.attempt} of ${j.max_attempts}`));
  if (j.args !== undefined) row('args', el('code', {}, JSON.stringify(j.args)));
  if (j.progress) {
    const bar = el('div', { class: 'bar', role: 'progressbar', 'aria-valuenow': j.progress.percent, 'aria-valuemin': 0, 'aria-valuemax': 100 }, el('div'));
    bar.firstChild.style.width = j.progress.percent + '%';
    row('progress', el('span', {}, bar, `${j.progress.percent}% ${j.progress.message || ''}`));
  }
  if (j.result !== undefined) row('result', el('code', { id: 'job-result' }, JSON.stringify(j.result)));
  row('created', j.created_at);
  row('run at', j.run_at);
  if (j.started_at) row('started', j.started_at);
  if (j.finished_at) row('finished', j.finished_at);
  if (j.unique_key) row('unique key', j.unique_key);
  // At most 20 links a list: a fan-out job may have 10,000 children (the graph counts them all).
  const links = (ids, id) => el('span', { id }, ...ids.slice(0, 20).flatMap((p, i) => [i ? ', ' : '', el('a', { href: '#job/' + encodeURIComponent(p), class: 'job-link' }, p)]),
    ids.length > 20 ? ` and ${(ids.length - 20).toLocaleString()} more` : '');
  if (j.parents && j.parents.length) row('parents' + (j.on_parent_failure === 'run' ? ' (runs if one fails)' : ''), links(j.parents, 'job-parents'));
  if (j.children && j.children.length) row('children', links(j.children, 'job-children'));

  const attempts = el('table', { class: 'attempts', id: 'job-attempts' },
    el('thead', {}, el('tr', {}, el('th', {}, 'attempt'), el('th', {}, 'at'), el('th', {}, 'error'))),
    el('tbody', {}, ...(j.errors || []).map((e) => el('tr', {}, el('td', {}, e.attempt), el('td', {}, new Date(e.at).toLocaleString()),
      el('td', { class: 'err' }, (e.panic ? 'panic: ' : '') + e.error)))));

  const buttons = el('p', { class: 'actions' });
  const act = (id, label, method, path, then) => buttons.append(el('button', { type: 'button', id, onclick: async () => {
    try {
      const res = await api(method, path);
      then(res);
    } catch (err) {
      $('#job-msg').textContent = 'error: ' + err.message;
    }
  } }, label), ' ');
  const path = '/v1/jobs/' + encodeURIComponent(j.id);
  if (RETRYABLE.includes(j.state)) {
    act('job-retry', 'Retry now', 'POST', path + '/retry', (nj) => {
      $('#job-msg').textContent = 'retried: it runs again now';
      renderJob(nj);
      clearInterval(jobView.poll);
      jobView.poll = setInterval(loadJob, 1000);
    });
  }
  if (!FINISHED.includes(j.state) && !j.cancel_requested) {
    act('job-cancel', 'Cancel', 'POST', path + '/cancel', (nj) => { $('#job-msg').textContent = 'cancelled'; renderJob(nj); });
  }
  if (FINISHED.includes(j.state)) {
    // Two clicks: the first arms the button, the second deletes.
    const del = el('button', { type: 'button', id: 'job-delete', onclick: async () => {
      if (!del.classList.contains('armed')) { del.classList.add('armed'); del.textContent = 'Really delete?'; return; }
      try {
        await api('DELETE', path);
        clearInterval(jobView.poll);
        $('#job').replaceChildren(el('p', { id: 'job-missing' }, `job ${j.id} deleted`));
        $('#job-msg').textContent = 'deleted';
        document.querySelector(`#jobs tr[data-job="${CSS.escape(j.id)}"]`)?.remove();
      } catch (err) {
        $('#job-msg').textContent = 'error: ' + err.message;
      }
    } }, 'Delete');
    buttons.append(del);
  }
  $('#job').replaceChildren(dl, dagElement(j) || '', (j.errors && j.errors.length) ? attempts : '', buttons); // dag.js
}

route();
loadPage();
