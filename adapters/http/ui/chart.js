// Requests per second by task: GET /metrics (Prometheus text) is polled,
// nomad_iis_requests_total summed over each task's pools and status
// classes, and the rate between two samples drawn on a canvas.

import { call } from './api.js';
import { el } from './dom.js';

const COUNTER = 'nomad_iis_requests_total';
const POINTS = 90;
const COLORS = ['#1f6feb', '#d73a49', '#2da44e', '#bf8700', '#8250df', '#0598bc', '#e16f24', '#6e7781'];

/// Parses `name{a="x",b="y"} value` lines of one metric into [{labels, value}].
export function parseCounter(text, name) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const close = line.lastIndexOf('}');
    const labels = {};
    if (close > 0) {
      const re = /(\w+)="((?:[^"\\]|\\.)*)"/g;
      let m;
      while ((m = re.exec(line.slice(name.length + 1, close)))) {
        labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
      }
    }
    const value = Number(line.slice(close > 0 ? close + 1 : name.length).trim().split(' ')[0]);
    if (Number.isFinite(value)) out.push({ labels, value });
  }
  return out;
}

export class RateChart {
  constructor(canvas, legend) {
    this.canvas = canvas;
    this.legend = legend;
    this.last = null; // {at, totals: Map}
    this.series = new Map(); // task key -> [rate]
  }

  async sample() {
    const text = await (await call('/metrics')).text();
    const at = performance.now();
    const totals = new Map();
    for (const { labels, value } of parseCounter(text, COUNTER)) {
      const key = `${labels.job}/${labels.task} (${String(labels.alloc_id).slice(0, 8)})`;
      totals.set(key, (totals.get(key) || 0) + value);
    }
    if (this.last) {
      const seconds = (at - this.last.at) / 1000;
      for (const [key, total] of totals) {
        const before = this.last.totals.get(key);
        const rate = before === undefined || total < before ? 0 : (total - before) / seconds;
        const s = this.series.get(key) || [];
        s.push(rate);
        if (s.length > POINTS) s.shift();
        this.series.set(key, s);
      }
      for (const key of this.series.keys()) if (!totals.has(key)) this.series.delete(key);
    }
    this.last = { at, totals };
    this.draw();
  }

  draw() {
    const { canvas } = this;
    const ctx = canvas.getContext('2d');
    const w = canvas.width;
    const h = canvas.height;
    const pad = 28;
    ctx.clearRect(0, 0, w, h);
    let max = 1;
    for (const s of this.series.values()) for (const v of s) max = Math.max(max, v);
    max = Math.ceil(max);
    ctx.strokeStyle = '#d0d7de';
    ctx.fillStyle = '#57606a';
    ctx.font = '11px sans-serif';
    ctx.beginPath();
    ctx.moveTo(pad, 4);
    ctx.lineTo(pad, h - pad);
    ctx.lineTo(w - 4, h - pad);
    ctx.stroke();
    ctx.fillText(String(max), 2, 12);
    ctx.fillText('0', 2, h - pad);
    ctx.fillText(`last ${POINTS} samples`, pad + 4, h - 8);
    const legend = [];
    let i = 0;
    for (const [key, s] of this.series) {
      const color = COLORS[i % COLORS.length];
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      s.forEach((v, j) => {
        const x = pad + ((w - pad - 4) * (j + POINTS - s.length)) / (POINTS - 1);
        const y = h - pad - ((h - pad - 8) * v) / max;
        if (j === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      ctx.stroke();
      const now = s.length ? s[s.length - 1] : 0;
      legend.push(el('li', { class: `c${i % COLORS.length}`, 'data-series': key }, `${key}: ${now.toFixed(1)} req/s`));
      i++;
    }
    if (!legend.length) legend.push(el('li', {}, this.last ? 'measuring…' : 'no data yet'));
    this.legend.replaceChildren(...legend);
  }
}
