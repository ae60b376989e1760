import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import { SignInPage } from "@/pages/sign-in";

import { ApiClient } from "./api";
import { AuthProvider, useAuth } from "./auth";
import { credentialStore } from "./credential";

function Shell() {
  const { state, signOut } = useAuth();
  if (state.status === "checking") return <p>checking</p>;
  if (state.status === "signed-out") return <SignInPage notice={state.notice} />;
  return (
    <div>
      <p>signed in with {state.method}</p>
      <button type="button" onClick={() => void signOut()}>
        Sign out
      </button>
    </div>
  );
}

const ok = () => new Response(JSON.stringify({ data: [], list_metadata: { after: null } }), { headers: { "content-type": "application/json" } });
const refused = () =>
  new Response(JSON.stringify({ error: { code: "unauthorized", message: "invalid or revoked credentials" } }), {
    status: 401,
    headers: { "content-type": "application/json" },
  });

function setup(handler: (auth: string | null) => Response) {
  const seen: (string | null)[] = [];
  const fetch = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
    const auth = new Headers(init?.headers).get("Authorization");
    seen.push(auth);
    return handler(auth);
  });
  const client = new ApiClient({ credential: () => credentialStore.get(), fetch: fetch as unknown as typeof globalThis.fetch });
  render(
    <AuthProvider client={client}>
      <Shell />
    </AuthProvider>,
  );
  return seen;
}

describe("AuthProvider", () => {
  it("signs in with a pasted key, keeps it for the tab, and signs out", async () => {
    const user = userEvent.setup();
    const seen = setup((auth) => (auth === "Bearer ghk_good" ? ok() : refused()));
    // No key stored: the cookie probe (no Authorization) is refused.
    await screen.findByRole("heading", { name: "Sign in to Gatehouse" });
    expect(seen).toEqual([null]);

    await user.type(screen.getByLabelText("API key"), "ghk_wrong");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    await screen.findByText("This key was refused: it is unknown or revoked.");
    expect(credentialStore.get()).toBeNull();

    await user.clear(screen.getByLabelText("API key"));
    await user.type(screen.getByLabelText("API key"), "  ghk_good  ");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    await screen.findByText("signed in with api-key");
    expect(sessionStorage.getItem("gatehouse.portal.apiKey")).toBe("ghk_good");
    expect(localStorage.length).toBe(0);

    await user.click(screen.getByRole("button", { name: "Sign out" }));
    await screen.findByText("You are signed out.");
    expect(sessionStorage.getItem("gatehouse.portal.apiKey")).toBeNull();
  });

  it("uses the session cookie when no key is stored", async () => {
    setup((auth) => (auth === null ? ok() : refused()));
    await screen.findByText("signed in with session");
  });

  it("refuses keys with spaces before asking the server", async () => {
    const user = userEvent.setup();
    const seen = setup(() => refused());
    await screen.findByRole("heading", { name: "Sign in to Gatehouse" });
    await user.type(screen.getByLabelText("API key"), "ghk_a ghk_b");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    await screen.findByText(/has no spaces or line breaks/);
    await waitFor(() => expect(seen).toHaveLength(1));
  });
});

describe("session sign-out", () => {
  it("ends the cookie session and goes to the IdP's end-session page", async () => {
    const user = userEvent.setup();
    const assign = vi.fn();
    vi.stubGlobal("location", { ...window.location, assign, pathname: "/admin/tenants", search: "" });
    const calls: { method: string; url: string; accept: string | null }[] = [];
    const fetch = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
      calls.push({ method: init?.method ?? "GET", url: String(url), accept: new Headers(init?.headers).get("Accept") });
      if (init?.method === "POST") {
        return new Response(JSON.stringify({ signed_out: true, end_session_url: "https://idp.example.com/end?client_id=x" }), {
          headers: { "content-type": "application/json" },
        });
      }
      return ok();
    });
    const client = new ApiClient({ credential: () => credentialStore.get(), fetch: fetch as unknown as typeof globalThis.fetch });
    render(
      <AuthProvider client={client}>
        <Shell />
      </AuthProvider>,
    );
    await screen.findByText("signed in with session");
    await user.click(screen.getByRole("button", { name: "Sign out" }));
    await waitFor(() => expect(assign).toHaveBeenCalledWith("https://idp.example.com/end?client_id=x"));
    expect(calls.at(-1)).toEqual({ method: "POST", url: "/admin/logout", accept: "application/json" });
    vi.unstubAllGlobals();
  });

  it("links the IdP sign-in back to the page the admin is on", async () => {
    vi.stubGlobal("location", { ...window.location, pathname: "/admin/audit", search: "?action=app.created" });
    setup(() => refused());
    const link = await screen.findByRole("link", { name: "Sign in with your identity provider" });
    expect(link.getAttribute("href")).toBe("/admin/login?return_to=%2Fadmin%2Faudit%3Faction%3Dapp.created");
    vi.unstubAllGlobals();
  });
});
