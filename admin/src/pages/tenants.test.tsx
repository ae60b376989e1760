import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import { ToastProvider } from "@/components/ui/toast";
import { ApiClient } from "@/lib/api";
import { AuthProvider } from "@/lib/auth";
import { credentialStore } from "@/lib/credential";
import type { Tenant } from "@/lib/types";

import { TenantsPage } from "./tenants";

function tenant(n: number): Tenant {
  return {
    id: `ten_${n}`,
    name: `Tenant ${n}`,
    slug: `tenant-${n}`,
    domains: [],
    status: "active",
    created_at: "2026-11-25T10:00:00.000Z",
    updated_at: "2026-11-25T10:00:00.000Z",
    sync: { state: n % 2 ? "synced" : "pending", message: null, zitadel_ids: {}, attempts: 0, last_attempt_at: null, synced_at: null },
  };
}

/** Serves /v1/tenants from 45 tenants, 20 per page, with id cursors like the server. */
function server() {
  const all = Array.from({ length: 45 }, (_, i) => tenant(i + 1));
  const urls: string[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL) => {
    const url = new URL(String(input), "http://portal.test");
    urls.push(url.pathname + url.search);
    const limit = Number(url.searchParams.get("limit") ?? 20);
    const after = url.searchParams.get("after");
    const start = after ? all.findIndex((t) => t.id === after) + 1 : 0;
    const data = all.slice(start, start + limit);
    const more = start + limit < all.length;
    return new Response(JSON.stringify({ data, list_metadata: { after: more ? data.at(-1)!.id : null } }), {
      headers: { "content-type": "application/json" },
    });
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, urls };
}

describe("TenantsPage", () => {
  it("pages forward and back through cursors", async () => {
    credentialStore.set("ghk_test");
    const { fetch, urls } = server();
    const client = new ApiClient({ credential: () => credentialStore.get(), fetch });
    const user = userEvent.setup();
    render(
      <ToastProvider>
        <AuthProvider client={client}>
          <TenantsPage />
        </AuthProvider>
      </ToastProvider>,
    );

    await screen.findByText("Tenant 1");
    expect(screen.getAllByRole("row")).toHaveLength(21);
    expect(screen.getByText("Page 1")).toBeTruthy();
    expect(screen.getByRole("button", { name: /Previous/ })).toHaveProperty("disabled", true);

    await user.click(screen.getByRole("button", { name: /Next/ }));
    await screen.findByText("Tenant 21");
    expect(screen.queryByText("Tenant 1")).toBeNull();
    expect(urls.at(-1)).toBe("/v1/tenants?limit=20&after=ten_20");

    await user.click(screen.getByRole("button", { name: /Next/ }));
    await screen.findByText("Tenant 45");
    expect(screen.getAllByRole("row")).toHaveLength(6);
    expect(screen.getByRole("button", { name: /Next/ })).toHaveProperty("disabled", true);
    expect(screen.getByText("Page 3")).toBeTruthy();

    await user.click(screen.getByRole("button", { name: /Previous/ }));
    await screen.findByText("Tenant 21");
    expect(urls.at(-1)).toBe("/v1/tenants?limit=20&after=ten_20");
    await user.click(screen.getByRole("button", { name: /Previous/ }));
    await screen.findByText("Tenant 1");
    expect(urls.at(-1)).toBe("/v1/tenants?limit=20");
    await waitFor(() => expect(screen.getByRole("button", { name: /Previous/ })).toHaveProperty("disabled", true));
  });

  it("shows the API's field error inline when creating a tenant", async () => {
    credentialStore.set("ghk_test");
    const fetch = vi.fn(async (_input: RequestInfo | URL, init?: RequestInit) => {
      if (init?.method === "POST") {
        return new Response(
          JSON.stringify({ error: { code: "slug_taken", message: "a tenant with this slug already exists", field: "slug" } }),
          { status: 409, headers: { "content-type": "application/json" } },
        );
      }
      return new Response(JSON.stringify({ data: [], list_metadata: { after: null } }), { headers: { "content-type": "application/json" } });
    });
    const client = new ApiClient({ credential: () => credentialStore.get(), fetch: fetch as unknown as typeof globalThis.fetch });
    const user = userEvent.setup();
    render(
      <ToastProvider>
        <AuthProvider client={client}>
          <TenantsPage />
        </AuthProvider>
      </ToastProvider>,
    );
    await screen.findByText("No tenants yet");
    await user.click(screen.getByRole("button", { name: "New tenant" }));
    await user.type(screen.getByRole("textbox", { name: "Name" }), "Acme Corp");
    expect((screen.getByRole("textbox", { name: "Slug" }) as HTMLInputElement).value).toBe("acme-corp");
    await user.click(screen.getByRole("button", { name: "Create tenant" }));
    const slug = await screen.findByRole("textbox", { name: "Slug" });
    await waitFor(() => expect(slug.getAttribute("aria-invalid")).toBe("true"));
    expect(screen.getByText("a tenant with this slug already exists")).toBeTruthy();
    const body = JSON.parse(String(fetch.mock.calls.at(-1)![1]!.body));
    expect(body).toEqual({ name: "Acme Corp", slug: "acme-corp", domains: [] });
  });
});
