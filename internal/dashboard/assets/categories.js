// jobsched dashboard: the category editor. It creates a category (PUT /v1/categories/{name}),
// changes its settings, pauses and resumes it, retries its dead jobs, and deletes it (DELETE,
// refused with 409 while the category holds unfinished jobs). Uses $, el and api of app.js; the
// categories table (app.js) opens a row here with its Edit button.
'use strict';

const editor = { cats: new Map(), fields: ['priority', 'min_workers', 'max_workers', 'queue_limit', 'rate_limit', 'rate_burst'] };

function editorInput(field) { return $('#ce-' + field.replace('_', '-')); }

function editorMsg(text, bad) {
  const m = $('#ce-msg');
  m.textContent = text;
  m.className = bad ? 'error' : '';
}

function editorDisarm() {
  const del = $('#ce-delete');
  del.classList.remove('armed');
  del.textContent = 'Delete';
}

// editCategory fills the editor with a category's current settings.
function editCategory(c) {
  $('#ce-name').value = c.name;
  for (const f of editor.fields) editorInput(f).value = c[f];
  editorDisarm();
  editorMsg('');
  editorButtons();
  $('#ce-h').scrollIntoView({ block: 'start' });
}

// editorCategories follows the stream's categories (app.js calls it).
function editorCategories(cats) {
  editor.cats = new Map(cats.map((c) => [c.name, c]));
  editorButtons();
}

// editorButtons shows the buttons that apply to the name in the editor: a stored category can
// be paused or resumed, have its dead jobs retried, and be deleted.
function editorButtons() {
  const c = editor.cats.get($('#ce-name').value.trim());
  $('#ce-pause').textContent = c && c.paused ? 'Resume' : 'Pause';
  for (const id of ['#ce-pause', '#ce-retry-dead', '#ce-delete']) $(id).disabled = !c;
  $('#ce-save').textContent = c ? 'Save' : 'Create';
}

function editorName() {
  const name = $('#ce-name').value.trim();
  if (!name) editorMsg('name: required', true);
  return name;
}

$('#ce-name').addEventListener('input', () => { editorDisarm(); editorButtons(); });

$('#ce-new').addEventListener('click', () => {
  $('#ce-name').value = '';
  for (const f of editor.fields) editorInput(f).value = '';
  editorDisarm();
  editorMsg('');
  editorButtons();
  $('#ce-name').focus();
});

$('#cat-edit').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = editorName();
  if (!name) return;
  const body = {};
  for (const f of editor.fields) {
    const v = editorInput(f).value.trim();
    if (v === '') continue; // the default
    const n = Number(v);
    if (!Number.isFinite(n)) { editorMsg(`${f}: not a number`, true); return; }
    body[f] = n;
  }
  const existed = editor.cats.has(name);
  // A PUT replaces the category: keep what the editor does not show (the fairness weights).
  const weights = existed ? editor.cats.get(name).fairness_weights : undefined;
  if (weights) body.fairness_weights = weights;
  try {
    const c = await api('PUT', '/v1/categories/' + encodeURIComponent(name), body);
    editor.cats.set(c.name, c);
    editCategory(c);
    editorMsg(existed ? `saved ${name}` : `created ${name}: its supervisor starts in the tree`);
  } catch (err) {
    editorMsg(`${name}: ${err.message}`, true);
  }
});

$('#ce-pause').addEventListener('click', async () => {
  const name = editorName();
  const c = editor.cats.get(name);
  if (!c) return;
  try {
    const now = await api('POST', `/v1/categories/${encodeURIComponent(name)}/${c.paused ? 'resume' : 'pause'}`);
    editor.cats.set(name, now);
    editorButtons();
    editorMsg(`${name} ${now.paused ? 'paused' : 'resumed'}`);
  } catch (err) {
    editorMsg(`${name}: ${err.message}`, true);
  }
});

$('#ce-retry-dead').addEventListener('click', async () => {
  const name = editorName();
  try {
    const res = await api('POST', '/v1/jobs/retry', { category: name, state: 'dead' });
    editorMsg(`${name}: retried ${res.count} dead jobs`);
  } catch (err) {
    editorMsg(`${name}: ${err.message}`, true);
  }
});

// Delete takes two clicks: the first arms the button, the second deletes.
$('#ce-delete').addEventListener('click', async () => {
  const del = $('#ce-delete');
  const name = editorName();
  if (!name) return;
  if (!del.classList.contains('armed')) { del.classList.add('armed'); del.textContent = `Really delete ${name}?`; return; }
  editorDisarm();
  try {
    await api('DELETE', '/v1/categories/' + encodeURIComponent(name));
    editor.cats.delete(name);
    editorButtons();
    editorMsg(`deleted ${name}`);
  } catch (err) {
    if (err.status === 409) editorMsg(`in use, not deleted: ${err.message}`, true);
    else editorMsg(`${name}: ${err.message}`, true);
  }
});

editorButtons();
