// The node's tasks as the token may see them: each pool's state, workers,
// CPU and memory, start / stop / recycle with a confirmation, a process
// dump, a screenshot thumbnail taken on demand, and the task's files.

import { call, json, saveResponse, taskPath } from './api.js';
import { el, showError, confirmAction, formatBytes } from './dom.js';
import { FileBrowser } from './files.js';

const keyOf = (t) => `${t.allocId}/${t.taskName}`;

class TaskCard {
  constructor(task, files) {
    this.task = task;
    this.files = files;
    this.busy = false;
    this.shot = null; // the screenshot's object URL
    this.message = el('p', { class: 'error', role: 'alert' });
    this.note = el('p', { class: 'note', role: 'status' });
    this.pools = el('tbody');
    this.img = el('img', { class: 'shot', alt: `screenshot of ${task.jobName}/${task.taskName}`, hidden: true });
    this.node = el('article', { class: 'task panel', 'data-task': keyOf(task) },
      el('h2', {}, `${task.jobName} / ${task.taskName}`),
      el('p', { class: 'meta' }, `allocation ${task.allocId} · namespace ${task.namespace} · group ${task.taskGroupName}`),
      el('table', { class: 'pools' },
        el('thead', {}, el('tr', {}, ['Pool', 'State', 'Workers', 'CPU', 'Memory', ''].map((h) => el('th', {}, h)))),
        this.pools),
      el('div', { class: 'toolbar' },
        el('button', { type: 'button', onclick: () => this.screenshot() }, 'Screenshot'),
        el('button', { type: 'button', onclick: () => this.files.open(task) }, 'Files')),
      this.note, this.message, this.img);
  }

  async refresh() {
    if (this.busy) return;
    try {
      this.render(await json(taskPath(this.task, 'status')));
      showError(null, this.message);
    } catch (err) {
      showError(err, this.message);
    }
  }

  render(status) {
    const rows = (status.applicationPools || []).map((p) => el('tr', { 'data-pool': p.name },
      el('td', {}, p.name),
      el('td', { class: `state ${String(p.status).toLowerCase()}` }, p.status),
      el('td', {}, p.isWorkerProcessRunning ? (p.workerProcessIds || []).join(', ') || 'yes' : '—'),
      el('td', {}, `${Number(p.cpuPercent || 0).toFixed(1)} %`),
      el('td', {}, formatBytes(p.memoryBytes || 0)),
      el('td', { class: 'actions' },
        ['start', 'stop', 'recycle'].map((op) => el('button', {
          type: 'button', disabled: this.busy, onclick: () => this.pool(op, p.name),
        }, op[0].toUpperCase() + op.slice(1))),
        el('button', { type: 'button', disabled: this.busy, onclick: () => this.dump(p.name) }, 'Dump'))));
    this.pools.replaceChildren(...rows);
  }

  async pool(op, name) {
    if (!(await confirmAction(`${op} the pool "${name}" of ${this.task.jobName}/${this.task.taskName}?`))) return;
    this.busy = true;
    this.note.textContent = `${op}: working…`;
    try {
      const res = await call(`${taskPath(this.task, op)}?appPoolName=${encodeURIComponent(name)}`, { method: 'PUT' });
      this.busy = false;
      this.render(await res.json());
      this.note.textContent = `${op}: done`;
      showError(null, this.message);
    } catch (err) {
      this.busy = false;
      this.note.textContent = '';
      showError(err, this.message);
    }
  }

  async dump(name) {
    if (!(await confirmAction(`Take a process dump of the pool "${name}"? It pauses its worker briefly.`))) return;
    this.note.textContent = 'dump: working…';
    try {
      const res = await call(`${taskPath(this.task, 'procdump')}?appPoolName=${encodeURIComponent(name)}`);
      this.note.textContent = `dump: saved ${await saveResponse(res, 'core')}`;
    } catch (err) {
      this.note.textContent = '';
      showError(err, this.message);
    }
  }

  async screenshot() {
    this.note.textContent = 'screenshot: taking…';
    try {
      const blob = await (await call(taskPath(this.task, 'screenshot'))).blob();
      if (this.shot) URL.revokeObjectURL(this.shot);
      this.shot = URL.createObjectURL(blob);
      this.img.src = this.shot;
      this.img.hidden = false;
      this.note.textContent = `screenshot: ${new Date().toLocaleTimeString()}`;
      showError(null, this.message);
    } catch (err) {
      this.note.textContent = '';
      showError(err, this.message);
    }
  }

  drop() {
    if (this.shot) URL.revokeObjectURL(this.shot);
    this.node.remove();
  }
}

export class Tasks {
  constructor(root, filesRoot) {
    this.root = root;
    this.cards = new Map();
    this.files = new FileBrowser(filesRoot);
  }

  /// Shows the tasks of GET /allocs, keeping the cards of those still there.
  show(allocs) {
    const seen = new Set();
    for (const t of allocs) {
      const key = keyOf(t);
      seen.add(key);
      if (!this.cards.has(key)) {
        const card = new TaskCard(t, this.files);
        this.cards.set(key, card);
        this.root.append(card.node);
      }
    }
    for (const [key, card] of this.cards) {
      if (!seen.has(key)) {
        card.drop();
        this.cards.delete(key);
      }
    }
    if (allocs.length === 0 && !this.root.querySelector('.empty'))
      this.root.append(el('p', { class: 'empty' }, 'No tasks this token may see.'));
    else if (allocs.length) this.root.querySelector('.empty')?.remove();
  }

  async refresh() {
    this.show(await json('/allocs'));
    await Promise.all([...this.cards.values()].map((c) => c.refresh()));
  }
}
