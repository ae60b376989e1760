// The one HTTP client of the portal. Every request goes to the same origin with
// `credentials: "same-origin"` (so an admin session cookie works once OIDC sign-in exists) and
// `X-Gatehouse-Client: portal`; an API key, when one is stored, is sent as a bearer token.

import type { Page } from "./types";

/** The header every portal request carries, so the server and its logs can tell the portal apart. */
export const CLIENT_HEADER = "X-Gatehouse-Client";
export const CLIENT_NAME = "portal";

export interface ApiErrorInit {
  status: number;
  code: string;
  message: string;
  field?: string | undefined;
  requestId?: string | undefined;
}

/** A failed API call: the server's `{"error":{"code","message","field"?}}`, or a transport failure. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  readonly requestId: string | undefined;

  constructor(init: ApiErrorInit) {
    super(init.message);
    this.name = "ApiError";
    this.status = init.status;
    this.code = init.code;
    this.field = init.field;
    this.requestId = init.requestId;
  }

  /** True for failures that never reached the server (offline, connection refused). */
  get isNetwork(): boolean {
    return this.status === 0;
  }
}

/** Turns a non-2xx response into an [`ApiError`], whatever its body looks like. */
export async function parseError(response: Response): Promise<ApiError> {
  const requestId = response.headers.get("x-request-id") ?? undefined;
  let text = "";
  try {
    text = await response.text();
  } catch {
    // The body could not be read; fall through to the status-based message.
  }
  if (text) {
    try {
      const body: unknown = JSON.parse(text);
      const detail = (body as { error?: unknown } | null)?.error;
      if (detail && typeof detail === "object") {
        const { code, message, field } = detail as Record<string, unknown>;
        if (typeof message === "string" && message) {
          return new ApiError({
            status: response.status,
            code: typeof code === "string" && code ? code : `http_${response.status}`,
            message,
            field: typeof field === "string" && field ? field : undefined,
            requestId,
          });
        }
      }
    } catch {
      // Not JSON (e.g. a proxy's HTML error page): use the generic message below.
    }
  }
  const reason = response.statusText ? ` ${response.statusText}` : "";
  return new ApiError({
    status: response.status,
    code: `http_${response.status}`,
    message: `The server answered ${response.status}${reason}.`,
    requestId,
  });
}

export type QueryValue = string | number | boolean | null | undefined | readonly string[];
export type Query = Record<string, QueryValue>;

/** `path?query`, leaving out empty values; lists become comma-separated values. */
export function buildUrl(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) {
      const items = value.map((v: string) => v.trim()).filter(Boolean);
      if (items.length) params.set(key, items.join(","));
    } else {
      params.set(key, String(value));
    }
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export interface ClientOptions {
  /** The API key to send, or `null` to rely on the session cookie. Read on every request. */
  credential: () => string | null;
  /** Called when the server refuses the credential (401), e.g. to sign the user out. */
  onUnauthorized?: (error: ApiError) => void;
  fetch?: typeof fetch;
}

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal | undefined;
  /** Overrides the stored credential for this request (`null`: cookie only). */
  credential?: string | null;
  /** Do not report a 401 to `onUnauthorized` (sign-in probes). */
  quiet401?: boolean;
  accept?: string;
}

export class ApiClient {
  private readonly options: ClientOptions;

  constructor(options: ClientOptions) {
    this.options = options;
  }

  private async send(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers = new Headers({
      Accept: opts.accept ?? "application/json",
      [CLIENT_HEADER]: CLIENT_NAME,
    });
    const token = opts.credential !== undefined ? opts.credential : this.options.credential();
    if (token) headers.set("Authorization", `Bearer ${token}`);
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers.set("Content-Type", "application/json");
      body = JSON.stringify(opts.body);
    }
    const doFetch = this.options.fetch ?? globalThis.fetch.bind(globalThis);
    let response: Response;
    try {
      response = await doFetch(buildUrl(path, opts.query), {
        method,
        headers,
        body,
        credentials: "same-origin",
        cache: "no-store",
        signal: opts.signal,
      });
    } catch (err) {
      if (err instanceof DOMException && err.name === "AbortError") throw err;
      throw new ApiError({
        status: 0,
        code: "network_error",
        message: "Could not reach the Gatehouse server. Check that it is running and try again.",
      });
    }
    if (!response.ok) {
      const error = await parseError(response);
      if (response.status === 401 && !opts.quiet401) this.options.onUnauthorized?.(error);
      throw error;
    }
    return response;
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, opts);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError({
        status: response.status,
        code: "invalid_response",
        message: "The server sent a response the portal could not read.",
        requestId: response.headers.get("x-request-id") ?? undefined,
      });
    }
  }

  get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return this.request<T>("GET", path, { query, signal });
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, { body });
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, { body });
  }

  delete(path: string): Promise<void> {
    return this.request<void>("DELETE", path);
  }

  /** One page of a list endpoint. */
  list<T>(path: string, query?: Query, signal?: AbortSignal): Promise<Page<T>> {
    return this.get<Page<T>>(path, query, signal);
  }

  /**
   * Follows `list_metadata.after` until the list ends or `maxItems` were read.
   * `truncated` says whether more items exist beyond what was returned.
   */
  async collect<T>(
    path: string,
    query: Query = {},
    { maxItems = 1000, signal }: { maxItems?: number; signal?: AbortSignal } = {},
  ): Promise<{ items: T[]; truncated: boolean }> {
    const items: T[] = [];
    let after: string | null = null;
    for (;;) {
      const limit = Math.min(100, Math.max(1, maxItems - items.length));
      const page: Page<T> = await this.list<T>(path, { ...query, limit, after }, signal);
      items.push(...page.data);
      const next = page.list_metadata.after;
      if (!next || page.data.length === 0) return { items, truncated: false };
      if (items.length >= maxItems) return { items, truncated: true };
      // A cursor that does not move would loop forever (the events feed returns its cursor
      // even at the end); stop there.
      if (next === after) return { items, truncated: false };
      after = next;
    }
  }

  /** Downloads a file response (e.g. the audit export) with the same credentials. */
  async download(
    path: string,
    query?: Query,
    accept = "*/*",
  ): Promise<{ blob: Blob; filename: string | null }> {
    const response = await this.send("GET", path, { query, accept });
    const blob = await response.blob();
    return { blob, filename: filenameFrom(response.headers.get("content-disposition")) };
  }
}

/** The `filename` of a `Content-Disposition: attachment; filename="…"` header. */
export function filenameFrom(disposition: string | null): string | null {
  if (!disposition) return null;
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  if (!match?.[1]) return null;
  const name = decodeURIComponent(match[1]).replace(/[/\\]/g, "_").trim();
  return name || null;
}

/** Server field errors keyed by field path (`name`, `redirect_uris[1]`, …). */
export type FieldErrors = Record<string, string>;

/** The field error of `error`, if the API named a field; otherwise `null`. */
export function fieldErrorOf(error: unknown): FieldErrors | null {
  if (error instanceof ApiError && error.field) return { [error.field]: error.message };
  return null;
}

/** A user-facing message for any thrown value. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error && error.message) return error.message;
  return "Something went wrong.";
}
