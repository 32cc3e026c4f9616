// A task directory's file browser: folders listed with GET fs/{path}?list=true,
// downloads (a file, or a folder as a zip), deletes, and uploads dropped or
// picked (a .zip extracted into the folder, or files as they are) with
// their progress, by PATCH (merge, pools keep running) or PUT (replace, the
// pools serving the path stop for the swap).

import { call, json, upload, saveResponse, fsPath } from './api.js';
import { el, showError, confirmAction, formatBytes } from './dom.js';

const join = (dir, name) => (dir ? `${dir}/${name}` : name);

export class FileBrowser {
  constructor(root) {
    this.root = root;
    this.task = null;
    this.path = '';
    this.title = el('h2');
    this.crumbs = el('nav', { class: 'crumbs', 'aria-label': 'folder' });
    this.rows = el('tbody');
    this.message = el('p', { class: 'error', role: 'alert' });
    this.note = el('p', { class: 'note', role: 'status' });
    this.progress = el('progress', { max: 1, value: 0, hidden: true });
    this.mode = el('select', { 'aria-label': 'upload method' },
      el('option', { value: 'PATCH' }, 'PATCH: merge, pools keep running'),
      el('option', { value: 'PUT' }, 'PUT: replace, serving pools stop for the swap'));
    this.extract = el('input', { type: 'checkbox', checked: true, id: 'extract-zip' });
    this.picker = el('input', { type: 'file', multiple: true, 'aria-label': 'files to upload', onchange: () => {
      this.upload([...this.picker.files]);
      this.picker.value = '';
    } });
    this.drop = el('div', { class: 'drop', tabindex: 0 }, 'Drop a .zip or files here to upload them into this folder, or ', this.picker);
    for (const type of ['dragenter', 'dragover']) {
      this.drop.addEventListener(type, (e) => {
        e.preventDefault();
        this.drop.classList.add('over');
      });
    }
    this.drop.addEventListener('dragleave', () => this.drop.classList.remove('over'));
    this.drop.addEventListener('drop', (e) => {
      e.preventDefault();
      this.drop.classList.remove('over');
      this.upload([...(e.dataTransfer?.files || [])]);
    });
    root.append(this.title, this.crumbs,
      el('div', { class: 'toolbar' },
        el('button', { type: 'button', onclick: () => this.downloadFolder() }, 'Download folder (zip)'),
        el('button', { type: 'button', onclick: () => this.load(this.path) }, 'Reload'),
        el('button', { type: 'button', onclick: () => this.close() }, 'Close')),
      el('table', { class: 'listing' },
        el('thead', {}, el('tr', {}, ['Name', 'Type', 'Size', 'Modified', ''].map((h) => el('th', {}, h)))),
        this.rows),
      el('div', { class: 'upload' }, this.mode,
        el('label', { for: 'extract-zip' }, this.extract, ' extract .zip files into the folder')),
      this.drop, this.progress, this.note, this.message);
  }

  open(task) {
    this.task = task;
    this.root.hidden = false;
    this.title.textContent = `Files of ${task.jobName} / ${task.taskName}`;
    this.load('');
    this.root.scrollIntoView({ block: 'nearest' });
  }

  close() {
    this.root.hidden = true;
    this.task = null;
  }

  async load(path) {
    try {
      const listing = await json(`${fsPath(this.task, path)}?list=true`);
      this.path = listing.path;
      this.renderCrumbs();
      this.rows.replaceChildren(...listing.entries.map((e) => this.row(e)));
      if (!listing.entries.length) this.rows.append(el('tr', {}, el('td', { colspan: 5 }, '(empty)')));
      showError(null, this.message);
    } catch (err) {
      showError(err, this.message);
    }
  }

  renderCrumbs() {
    const parts = this.path ? this.path.split('/') : [];
    const items = [el('button', { type: 'button', class: 'link', onclick: () => this.load('') }, 'task dir')];
    parts.forEach((p, i) => {
      const to = parts.slice(0, i + 1).join('/');
      items.push(' / ', el('button', { type: 'button', class: 'link', onclick: () => this.load(to) }, p));
    });
    this.crumbs.replaceChildren(...items);
  }

  row(e) {
    const path = join(this.path, e.name);
    const isDir = e.type === 'directory';
    const name = isDir
      ? el('button', { type: 'button', class: 'link', onclick: () => this.load(path) }, `${e.name}/`)
      : e.name;
    return el('tr', { 'data-name': e.name },
      el('td', {}, name),
      el('td', {}, e.type),
      el('td', {}, isDir ? '' : formatBytes(e.size)),
      el('td', {}, new Date(e.modified).toLocaleString()),
      el('td', { class: 'actions' },
        el('button', { type: 'button', onclick: () => this.download(path) }, isDir ? 'Download zip' : 'Download'),
        el('button', { type: 'button', onclick: () => this.remove(path, isDir) }, 'Delete')));
  }

  async download(path) {
    try {
      const name = await saveResponse(await call(fsPath(this.task, path)), path.split('/').pop());
      this.note.textContent = `downloaded ${name}`;
    } catch (err) {
      showError(err, this.message);
    }
  }

  downloadFolder() {
    return this.download(this.path);
  }

  async remove(path, isDir) {
    if (!(await confirmAction(`Delete ${isDir ? 'the folder' : ''} "${path}"${isDir ? ' and everything in it' : ''}?`))) return;
    try {
      await call(fsPath(this.task, path), { method: 'DELETE' });
      await this.load(this.path);
      /// After the reload, so that the note never shows beside the deleted row.
      this.note.textContent = `deleted ${path}`;
    } catch (err) {
      showError(err, this.message);
    }
  }

  /// Each file in turn: a .zip (when extracting) into this folder, anything
  /// else as the file of its name in it.
  async upload(files) {
    if (!files.length || !this.task) return;
    const method = this.mode.value;
    const folder = this.path;
    let failed = null;
    for (const f of files) {
      const zip = this.extract.checked && /\.zip$/i.test(f.name);
      const target = zip ? folder : join(folder, f.name);
      this.progress.hidden = false;
      this.progress.max = f.size || 1;
      this.progress.value = 0;
      this.note.textContent = `uploading ${f.name} (${method})…`;
      try {
        const r = await upload(fsPath(this.task, target), method, f,
          zip ? 'application/zip' : 'application/octet-stream',
          (loaded, total) => {
            this.progress.max = total;
            this.progress.value = loaded;
            this.note.textContent = `uploading ${f.name}: ${Math.round((100 * loaded) / total)} %`;
          });
        this.progress.value = this.progress.max;
        const stopped = r?.stoppedPools?.length ? `; pools stopped for the swap: ${r.stoppedPools.join(', ')}` : '';
        this.note.textContent = `uploaded ${f.name}: ${formatBytes(r?.bytesReceived ?? f.size)}, ${r?.files ?? 1} file(s)${stopped}`;
      } catch (err) {
        this.note.textContent = `upload of ${f.name} failed`;
        failed = err;
        break;
      }
    }
    await this.load(this.path);
    if (failed) showError(failed, this.message);
  }
}
