// The API client: where the API is, the token, and one `api()` call that
// every screen uses.
//
// Invariants:
// - every /api/ request carries `Authorization: Bearer <token>`; the token
//   is never put in a URL;
// - inside the Tauri app the URL and token come from `invoke('api_info')`;
//   in a browser the base is `location.origin` and the token comes from
//   localStorage (`printscout.token`) after the sign-in screen checked it;
// - a 401 clears the stored token and sends the user back to sign-in
//   (`onSignedOut` listeners); in the desktop app it asks `api_info` again.
// - errors are `ApiError`s with a stable `code` and a message in words.

import type { ErrorDetail } from './types';

export const TOKEN_KEY = 'printscout.token';

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

interface ApiInfo { url: string; token: string }

let base = '';
let token: string | null = null;
const signedOutListeners = new Set<() => void>();

export function inTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}

/** Reads the API's address and token from the desktop app or the browser. */
export async function initApi(): Promise<void> {
  if (inTauri()) {
    await loadTauriInfo();
  } else {
    base = `${location.origin}/`;
    try { token = localStorage.getItem(TOKEN_KEY); } catch { token = null; }
  }
}

async function loadTauriInfo(): Promise<void> {
  const { invoke } = await import('@tauri-apps/api/core');
  const info = await invoke<ApiInfo>('api_info');
  base = info.url.endsWith('/') ? info.url : `${info.url}/`;
  token = info.token;
}

export function hasToken(): boolean {
  return !!token;
}

export function apiBase(): string {
  return base;
}

export function onSignedOut(f: () => void): () => void {
  signedOutListeners.add(f);
  return () => signedOutListeners.delete(f);
}

export function signOut(): void {
  token = null;
  try { localStorage.removeItem(TOKEN_KEY); } catch { /* storage blocked */ }
  for (const f of signedOutListeners) f();
}

/** Checks a token with GET /api/v1/status and stores it when it works. */
export async function signIn(candidate: string): Promise<void> {
  const t = candidate.trim();
  if (!/^[0-9a-fA-F]{16,256}$/.test(t)) {
    throw new ApiError(0, 'token_format', 'That does not look like a PrintScout token: it is a line of hexadecimal digits (0-9, a-f).');
  }
  const res = await rawFetch('GET', 'status', undefined, t);
  if (res.status === 401) {
    throw new ApiError(401, 'token_invalid', 'PrintScout refused that token. Copy the whole line from the api-token file and try again.');
  }
  if (!res.ok) throw await errorOf(res);
  token = t;
  try { localStorage.setItem(TOKEN_KEY, t); } catch { /* stays for this page only */ }
}

async function rawFetch(method: string, path: string, body: unknown, tok: string | null, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (tok) headers.Authorization = `Bearer ${tok}`;
  const init: RequestInit = { method, headers, signal, cache: 'no-store', credentials: 'omit' };
  if (method !== 'GET' && method !== 'HEAD') {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body ?? {});
  }
  try {
    return await fetch(`${base}api/v1/${path}`, init);
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', `PrintScout is not answering at ${base} — is it still running?`);
  }
}

async function errorOf(res: Response): Promise<ApiError> {
  try {
    const j = (await res.json()) as { error?: ErrorDetail };
    if (j.error) return new ApiError(res.status, j.error.code, j.error.message);
  } catch { /* not JSON */ }
  return new ApiError(res.status, 'http_' + res.status, `PrintScout answered ${res.status} ${res.statusText}`.trim());
}

let retriedTauri = false;

/** One API call: `api<Status>('GET', 'status')`. Throws ApiError. */
export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let res = await rawFetch(method, path, body, token, signal);
  if (res.status === 401 && inTauri() && !retriedTauri) {
    // The app may have made a new token; ask once more.
    retriedTauri = true;
    await loadTauriInfo();
    res = await rawFetch(method, path, body, token, signal);
  }
  if (res.status === 401) {
    const err = await errorOf(res);
    if (!inTauri()) signOut();
    throw err;
  }
  retriedTauri = false;
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204 || res.status === 202 && res.headers.get('content-length') === '0') return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** The stream request (SSE), with the token; the caller reads the body. */
export async function openStream(signal: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'text/event-stream' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(`${base}api/v1/events/stream`, { headers, signal, cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', `PrintScout is not answering at ${base}`);
  }
  if (res.status === 401) {
    if (!inTauri()) signOut();
    throw await errorOf(res);
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

/** Words for an error, for people. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
