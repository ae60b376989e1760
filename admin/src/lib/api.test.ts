import { describe, expect, it, vi } from "vitest";

import { ApiClient, ApiError, buildUrl, fieldErrorOf, filenameFrom, parseError } from "./api";

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** A fetch double that records calls and answers from a queue. */
function fakeFetch(...responses: (Response | Error | DOMException)[]) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fn = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    const next = responses.shift();
    if (!next) throw new Error(`unexpected request ${String(url)}`);
    if (next instanceof Response) return next;
    throw next;
  });
  return { fetch: fn as unknown as typeof fetch, calls };
}

describe("parseError", () => {
  it("reads the API's error body, field and request id", async () => {
    const error = await parseError(
      json(
        422,
        { error: { code: "invalid_request", message: "http is only allowed for loopback hosts", field: "redirect_uris[1]" } },
        { "x-request-id": "req_123" },
      ),
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(422);
    expect(error.code).toBe("invalid_request");
    expect(error.message).toBe("http is only allowed for loopback hosts");
    expect(error.field).toBe("redirect_uris[1]");
    expect(error.requestId).toBe("req_123");
    expect(fieldErrorOf(error)).toEqual({ "redirect_uris[1]": "http is only allowed for loopback hosts" });
  });

  it("falls back to the status for bodies that are not the API's", async () => {
    const html = await parseError(new Response("<html>Bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    expect(html.code).toBe("http_502");
    expect(html.message).toBe("The server answered 502 Bad Gateway.");
    expect(html.field).toBeUndefined();

    const empty = await parseError(new Response(null, { status: 404 }));
    expect(empty.message).toBe("The server answered 404.");

    const otherJson = await parseError(json(400, { message: "nope" }));
    expect(otherJson.code).toBe("http_400");

    const noCode = await parseError(json(409, { error: { message: "taken" } }));
    expect(noCode.code).toBe("http_409");
    expect(noCode.message).toBe("taken");
    expect(fieldErrorOf(noCode)).toBeNull();
  });
});

describe("ApiClient", () => {
  it("sends the portal header, same-origin credentials and the stored key", async () => {
    const { fetch, calls } = fakeFetch(json(200, { ok: true }));
    const client = new ApiClient({ credential: () => "ghk_abc", fetch });
    await client.post("/v1/tenants", { name: "Acme" });
    const { url, init } = calls[0]!;
    const headers = new Headers(init.headers);
    expect(url).toBe("/v1/tenants");
    expect(init.method).toBe("POST");
    expect(init.credentials).toBe("same-origin");
    expect(headers.get("X-Gatehouse-Client")).toBe("portal");
    expect(headers.get("Authorization")).toBe("Bearer ghk_abc");
    expect(headers.get("Content-Type")).toBe("application/json");
    expect(init.body).toBe('{"name":"Acme"}');
  });

  it("relies on the session cookie when no key is stored", async () => {
    const { fetch, calls } = fakeFetch(json(200, { data: [], list_metadata: { after: null } }));
    const client = new ApiClient({ credential: () => null, fetch });
    await client.list("/v1/tenants");
    const headers = new Headers(calls[0]!.init.headers);
    expect(headers.has("Authorization")).toBe(false);
    expect(headers.get("X-Gatehouse-Client")).toBe("portal");
    expect(calls[0]!.init.credentials).toBe("same-origin");
  });

  it("reports a refused credential once, except for quiet probes", async () => {
    const unauthorized = () => json(401, { error: { code: "unauthorized", message: "invalid or revoked credentials" } });
    const { fetch } = fakeFetch(unauthorized(), unauthorized());
    const onUnauthorized = vi.fn();
    const client = new ApiClient({ credential: () => "ghk_old", fetch, onUnauthorized });
    await expect(client.get("/v1/tenants")).rejects.toMatchObject({ status: 401, code: "unauthorized" });
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    await expect(client.request("GET", "/v1/tenants", { quiet401: true })).rejects.toBeInstanceOf(ApiError);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });

  it("turns transport failures into a network error and keeps aborts as aborts", async () => {
    const abort = new DOMException("aborted", "AbortError");
    const { fetch } = fakeFetch(new TypeError("Failed to fetch"), abort);
    const client = new ApiClient({ credential: () => null, fetch });
    const error = await client.get("/v1/tenants").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).isNetwork).toBe(true);
    expect((error as ApiError).code).toBe("network_error");
    await expect(client.get("/v1/tenants")).rejects.toBe(abort);
  });

  it("returns undefined for 204 and refuses unreadable bodies", async () => {
    const { fetch } = fakeFetch(new Response(null, { status: 204 }), new Response("{oops", { status: 200 }));
    const client = new ApiClient({ credential: () => null, fetch });
    await expect(client.delete("/v1/tenants/ten_1")).resolves.toBeUndefined();
    await expect(client.get("/v1/tenants")).rejects.toMatchObject({ code: "invalid_response" });
  });
});

describe("cursor paging", () => {
  const page = (ids: string[], after: string | null) => json(200, { data: ids.map((id) => ({ id })), list_metadata: { after } });

  it("follows list_metadata.after until the last page", async () => {
    const { fetch, calls } = fakeFetch(page(["a", "b"], "b"), page(["c", "d"], "d"), page(["e"], null));
    const client = new ApiClient({ credential: () => null, fetch });
    const { items, truncated } = await client.collect<{ id: string }>("/v1/tenants", { order: "desc" });
    expect(items.map((i) => i.id)).toEqual(["a", "b", "c", "d", "e"]);
    expect(truncated).toBe(false);
    expect(calls.map((c) => c.url)).toEqual([
      "/v1/tenants?order=desc&limit=100",
      "/v1/tenants?order=desc&limit=100&after=b",
      "/v1/tenants?order=desc&limit=100&after=d",
    ]);
  });

  it("stops at maxItems and says more exist", async () => {
    const { fetch, calls } = fakeFetch(page(["a", "b"], "b"), page(["c"], "c"));
    const client = new ApiClient({ credential: () => null, fetch });
    const { items, truncated } = await client.collect<{ id: string }>("/v1/tenants", {}, { maxItems: 3 });
    expect(items.map((i) => i.id)).toEqual(["a", "b", "c"]);
    expect(truncated).toBe(true);
    expect(calls[1]!.url).toBe("/v1/tenants?limit=1&after=b");
  });

  it("ends on a feed whose cursor stays put at its end", async () => {
    // The events feed returns its cursor even on an empty page.
    const { fetch, calls } = fakeFetch(page(["e1", "e2"], "e2"), page([], "e2"));
    const client = new ApiClient({ credential: () => null, fetch });
    const { items } = await client.collect<{ id: string }>("/v1/events");
    expect(items.map((i) => i.id)).toEqual(["e1", "e2"]);
    expect(calls).toHaveLength(2);
  });
});

describe("helpers", () => {
  it("builds query strings without empty values", () => {
    expect(buildUrl("/v1/audit-logs", { action: "", tenant_id: undefined, limit: 25, after: null })).toBe("/v1/audit-logs?limit=25");
    expect(buildUrl("/v1/events", { types: ["tenant.*", " app.created ", ""] })).toBe("/v1/events?types=tenant.*%2Capp.created");
    expect(buildUrl("/v1/tenants")).toBe("/v1/tenants");
  });

  it("reads download file names safely", () => {
    expect(filenameFrom('attachment; filename="gatehouse-audit.csv"')).toBe("gatehouse-audit.csv");
    expect(filenameFrom("attachment; filename=\"../../etc/passwd\"")).toBe(".._.._etc_passwd");
    expect(filenameFrom(null)).toBeNull();
    expect(filenameFrom("inline")).toBeNull();
  });
});
