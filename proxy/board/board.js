// The reception board: staff of a site and their state, live (Server-Sent
// Events from the board, fed by Redis's fd:events), one click to set a
// state (through the presence Functions), today's calls when the call
// history exists. Plain JavaScript, no build step.
'use strict';
const STATES = [
  ['available', 'Available', '\u2714'], ['busy', 'Busy', '\u25CF'], ['break', 'On break', '\u2615'],
  ['wrapup', 'Wrap-up', '\u270E'], ['offline', 'Offline', '\u25CB'],
];
const $ = (id) => document.getElementById(id);
let site = null, events = null, loading = null;

async function api(path, opts) {
  const o = Object.assign({ credentials: 'same-origin' }, opts || {});
  o.headers = Object.assign({ 'X-Board': '1' }, o.headers || {});
  const r = await fetch(path, o);
  if (r.status === 401) { showLogin(); throw new Error('an access token is needed'); }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || ('error ' + r.status));
  return body;
}

function showLogin() {
  $('login').hidden = false;
  $('staff-section').hidden = true;
  $('today').hidden = true;
  $('conn').textContent = 'signed out';
  if (events) { events.close(); events = null; }
  $('token').focus();
}

function label(state) {
  const s = STATES.find((x) => x[0] === state);
  return s ? s : [state, state, '?'];
}

function render(staff) {
  const ul = $('staff');
  const focused = document.activeElement && document.activeElement.dataset.key;
  ul.replaceChildren();
  for (const p of staff) {
    const [, word, sym] = label(p.state);
    const li = document.createElement('li');
    li.className = 'person';
    li.dataset.state = p.state;
    li.dataset.id = p.id;
    const h = document.createElement('h3');
    h.textContent = p.id;
    const st = document.createElement('p');
    st.className = 'state';
    st.innerHTML = '<span class="sym" aria-hidden="true"></span><span class="word"></span>';
    st.querySelector('.sym').textContent = sym;
    st.querySelector('.word').textContent = word;
    if (p.offered) {
      const o = document.createElement('span');
      o.className = 'offered';
      o.textContent = 'offered a call';
      st.appendChild(o);
    }
    li.append(h, st);
    if (p.note) {
      const n = document.createElement('p');
      n.className = 'meta note';
      n.textContent = 'Note: ' + p.note;
      li.appendChild(n);
    }
    const sk = document.createElement('p');
    sk.className = 'meta';
    sk.textContent = 'Skills: ' + (p.skills || 'none');
    li.appendChild(sk);
    const g = document.createElement('div');
    g.className = 'actions';
    g.setAttribute('role', 'group');
    g.setAttribute('aria-label', 'Set the state of ' + p.id);
    for (const [key, w] of STATES) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = w;
      b.dataset.state = key;
      b.dataset.key = p.id + '/' + key;
      b.setAttribute('aria-pressed', String(key === p.state));
      b.addEventListener('click', () => setState(p.id, key));
      g.appendChild(b);
    }
    li.appendChild(g);
    ul.appendChild(li);
  }
  if (focused) {
    const again = ul.querySelector('button[data-key="' + CSS.escape(focused) + '"]');
    if (again) again.focus();
  }
}

async function loadStaff() {
  if (!site) return;
  const mine = site;
  try {
    const r = await api('api/staff?site=' + encodeURIComponent(mine));
    if (mine !== site) return;
    $('error').textContent = '';
    render(r.staff);
  } catch (e) {
    $('error').textContent = 'Cannot read the staff: ' + e.message;
  }
}

async function loadToday() {
  try {
    const r = await api('api/today?site=' + encodeURIComponent(site));
    const tb = $('today-rows');
    tb.replaceChildren();
    $('today').hidden = !r.history;
    for (const h of r.hours || []) {
      const tr = document.createElement('tr');
      const all = h.staff + h.fallback;
      const pct = all ? Math.round(100 * h.staff / all) : 0;
      tr.innerHTML = '<th scope="row"></th><td></td><td></td><td><div class="bars" role="img"></div></td>';
      tr.children[0].textContent = String(h.hour).padStart(2, '0') + ':00';
      tr.children[1].textContent = h.staff;
      tr.children[2].textContent = h.fallback;
      const bars = tr.querySelector('.bars');
      bars.setAttribute('aria-label', pct + '% reached staff');
      const a = document.createElement('span'), b = document.createElement('span');
      a.className = 'reached'; a.style.width = (all ? 100 * h.staff / all : 0) + '%';
      b.className = 'missed'; b.style.width = (all ? 100 * h.fallback / all : 0) + '%';
      bars.append(a, b);
      tb.appendChild(tr);
    }
  } catch (e) {
    $('today').hidden = true;
  }
}

async function setState(id, state) {
  try {
    await api('api/presence', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ site: site, id: id, state: state }).toString(),
    });
    $('announce').textContent = id + ' is now ' + label(state)[1];
    loadStaff();
  } catch (e) {
    $('error').textContent = 'Could not set ' + id + ': ' + e.message;
  }
}

function listen() {
  if (events) events.close();
  events = new EventSource('api/events');
  events.onopen = () => { $('conn').textContent = 'live'; };
  events.onerror = () => { $('conn').textContent = 'reconnecting\u2026'; };
  events.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    if (ev.site !== site) return;
    $('announce').textContent = ev.staff + ': ' + label(ev.state)[1];
    loadStaff();
  };
  events.addEventListener('away', () => { $('conn').textContent = 'Redis unreachable: changes wait'; });
  // Redis came back (or the board reconnected to it): read everything again
  events.addEventListener('resync', () => { $('conn').textContent = 'live'; loadStaff(); loadToday(); });
}

async function start() {
  let r;
  try { r = await api('api/sites'); } catch (e) { return; }
  $('login').hidden = true;
  $('staff-section').hidden = false;
  const sel = $('site');
  sel.replaceChildren();
  for (const s of r.sites) {
    const o = document.createElement('option');
    o.value = s; o.textContent = s;
    sel.appendChild(o);
  }
  const want = localStorage.getItem('board-site');
  site = r.sites.includes(want) ? want : r.sites[0];
  sel.value = site;
  sel.onchange = () => { site = sel.value; localStorage.setItem('board-site', site); loadStaff(); loadToday(); };
  listen();
  await loadStaff();
  loadToday();
  setInterval(loadToday, 60000);
}

$('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await fetch('login', {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Board': '1' },
    body: new URLSearchParams({ token: $('token').value }).toString(),
  });
  if (r.ok) { $('token').value = ''; $('login-error').textContent = ''; start(); }
  else $('login-error').textContent = 'That token is not valid here.';
});

start();
