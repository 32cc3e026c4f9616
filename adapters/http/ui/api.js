// The Management API as the dashboard calls it: the token from sessionStorage
// as a header (never in a URL or a cookie), errors as the API's own JSON
// message.

const KEY = 'nomad-iis-token';
export const API = '/api/v1';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

/// A JWT is three base64url parts; anything else is an API key.
export function isJwt(t) {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(t);
}

export function authHeaders(t = token.get()) {
  if (!t) return {};
  return isJwt(t) ? { Authorization: `Bearer ${t}` } : { 'X-Api-Key': t };
}

async function errorOf(res) {
  let code = 'http_' + res.status;
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && typeof body.message === 'string') {
      code = body.error;
      message = body.message;
    }
  } catch {
    // not JSON: the status line says it
  }
  return new ApiError(res.status, code, message);
}

/// fetch below /api/v1 with the credentials; throws ApiError unless 2xx.
export async function call(path, { method = 'GET', t } = {}) {
  const res = await fetch(API + path, {
    method,
    headers: authHeaders(t),
    credentials: 'omit',
    cache: 'no-store',
    referrerPolicy: 'no-referrer',
  });
  if (!res.ok) throw await errorOf(res);
  return res;
}

export const json = async (path, opts) => (await call(path, opts)).json();

/// The file name of a Content-Disposition header (filename* first).
export function filenameOf(res, fallback) {
  const cd = res.headers.get('Content-Disposition') || '';
  const star = /filename\*=UTF-8''([^;]+)/i.exec(cd);
  if (star) {
    try {
      return decodeURIComponent(star[1]);
    } catch {
      // fall through to the plain name
    }
  }
  const plain = /filename="([^"]*)"/i.exec(cd);
  return plain ? plain[1] : fallback;
}

/// Downloads a response's body under its Content-Disposition name.
export async function saveResponse(res, fallback) {
  const name = filenameOf(res, fallback);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return name;
}

/// PUT or PATCH a body with XMLHttpRequest, for its upload progress.
export function upload(path, method, body, contentType, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, API + path);
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader('Content-Type', contentType);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    };
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // left null
      }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(body);
      reject(new ApiError(xhr.status, body?.error ?? 'http_' + xhr.status,
        body?.message ?? `${xhr.status} ${xhr.statusText}`));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'the upload failed (connection lost)'));
    xhr.send(body);
  });
}

/// The URL path of a task's route.
export function taskPath(task, rest) {
  return `/allocs/${encodeURIComponent(task.allocId)}/${encodeURIComponent(task.taskName)}/${rest}`;
}

/// fs/{path} with each segment encoded.
export function fsPath(task, path) {
  const segs = path.split('/').filter((s) => s !== '').map(encodeURIComponent);
  return taskPath(task, 'fs/' + segs.join('/'));
}
