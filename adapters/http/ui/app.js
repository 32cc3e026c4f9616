// The dashboard's entry: sign-in with the API key or a JWT (kept in this
// tab's sessionStorage only), then the node's tasks, their request rate and
// a file browser.

import { json, token, isJwt, ApiError } from './api.js';
import { $, showError } from './dom.js';
import { Tasks } from './tasks.js';
import { RateChart } from './chart.js';

const POLL_MS = 2000;
let timer = null;
let tasks = null;
let chart = null;

function showSignIn(message = '') {
  clearInterval(timer);
  timer = null;
  $('dashboard').hidden = true;
  $('sign-out').hidden = true;
  $('who').textContent = '';
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message;
  $('token').focus();
}

async function poll() {
  try {
    await Promise.all([tasks.refresh(), chart.sample()]);
    showError(null);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      token.clear();
      return showSignIn(err.message);
    }
    showError(err);
  }
}

async function showDashboard(allocs) {
  $('sign-in').hidden = true;
  $('dashboard').hidden = false;
  $('sign-out').hidden = false;
  $('who').textContent = isJwt(token.get()) ? 'signed in with a JWT' : 'signed in with the API key';
  $('tasks').replaceChildren();
  $('files').replaceChildren();
  $('files').hidden = true;
  $('rps-legend').replaceChildren();
  tasks = new Tasks($('tasks'), $('files'));
  chart = new RateChart($('rps'), $('rps-legend'));
  tasks.show(allocs);
  await poll();
  timer = setInterval(poll, POLL_MS);
}

async function signIn(t) {
  try {
    const allocs = await json('/allocs', { t });
    token.set(t);
    await showDashboard(allocs);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) token.clear();
    showSignIn(err.message);
  }
}

$('sign-in-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const t = $('token').value.trim();
  $('token').value = '';
  if (t) signIn(t);
});

$('sign-out').addEventListener('click', () => {
  token.clear();
  showSignIn();
});

const saved = token.get();
if (saved) signIn(saved);
else showSignIn();
