// Talking to /app/api/ with the session token in a header (never a cookie: see
// bot/webapp/sessions.py for why that keeps other sites from acting for the user).

const KEY = "board-session";
let token = sessionStorage.getItem(KEY);

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

export function signedIn() {
  return Boolean(token);
}

export function forget() {
  token = null;
  sessionStorage.removeItem(KEY);
}

export async function openSession(credentials) {
  const resp = await fetch("/app/api/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(credentials),
  });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new ApiError(resp.status, body);
  token = body.token;
  sessionStorage.setItem(KEY, token);
  return body;
}

async function call(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token) headers.Authorization = `Session ${token}`;
  const resp = await fetch(path, Object.assign({}, options, { headers }));
  if (resp.status === 401) forget();
  return resp;
}

export async function get(path) {
  const resp = await call(path);
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new ApiError(resp.status, body);
  return body;
}

export async function post(path, data) {
  const isForm = data instanceof FormData;
  const resp = await call(path, {
    method: "POST",
    headers: isForm ? {} : { "Content-Type": "application/json" },
    body: isForm ? data : JSON.stringify(data || {}),
  });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new ApiError(resp.status, body);
  return body;
}

// A photo, fetched with the session and shown from memory (an <img src> sends no header).
export async function blobUrl(path) {
  const resp = await call(path);
  if (!resp.ok) throw new ApiError(resp.status, {});
  return URL.createObjectURL(await resp.blob());
}
