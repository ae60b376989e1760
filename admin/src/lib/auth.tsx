// Authentication state. Two methods share one client:
// - an API key pasted on the sign-in page (kept in sessionStorage, sent as a bearer token);
// - an admin session cookie (HttpOnly, set by the server's OIDC sign-in at /admin/login), used
//   whenever no API key is stored: requests always go out with `credentials: "same-origin"`.

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";

import { ApiClient, ApiError } from "./api";
import { credentialStore, tokenHint } from "./credential";

/** The server's admin sign-in through the IdP; it sets the session cookie and returns here. */
export const SESSION_LOGIN_PATH = "/admin/login";
/** Ends a cookie session; answers `{signed_out, end_session_url}` to JSON callers. */
export const SESSION_LOGOUT_PATH = "/admin/logout";

/** The IdP sign-in URL that brings the admin back to the portal page they are on. */
export function sessionLoginHref(): string {
  const here = window.location.pathname + window.location.search;
  const back = here.startsWith("/admin") ? here : "/admin/";
  return `${SESSION_LOGIN_PATH}?return_to=${encodeURIComponent(back)}`;
}

/** A cheap authenticated read that any valid credential may make. */
const PROBE_PATH = "/v1/tenants";

export type AuthState =
  | { status: "checking" }
  | { status: "signed-out"; notice?: string }
  | { status: "signed-in"; method: "api-key"; hint: string }
  | { status: "signed-in"; method: "session" };

interface AuthContextValue {
  state: AuthState;
  client: ApiClient;
  /** Checks `token` against the server and keeps it for this tab. Throws `ApiError` if refused. */
  signIn: (token: string) => Promise<void>;
  signOut: () => Promise<void>;
}

const AuthContext = createContext<AuthContextValue | null>(null);

export function AuthProvider({ children, client: injected }: { children: ReactNode; client?: ApiClient }) {
  const [state, setState] = useState<AuthState>({ status: "checking" });

  const client = useMemo(
    () =>
      injected ??
      new ApiClient({
        credential: () => credentialStore.get(),
        onUnauthorized: () => {
          credentialStore.clear();
          setState({
            status: "signed-out",
            notice: "Your credential was refused (revoked, expired or invalid). Sign in again.",
          });
        },
      }),
    [injected],
  );

  useEffect(() => {
    let cancelled = false;
    const stored = credentialStore.get();
    if (stored) {
      // Trust the stored key until the server refuses it (onUnauthorized signs out then).
      setState({ status: "signed-in", method: "api-key", hint: tokenHint(stored) });
      return;
    }
    // No key: is there an admin session cookie?
    client
      .request("GET", PROBE_PATH, { query: { limit: 1 }, credential: null, quiet401: true })
      .then(
        () => !cancelled && setState({ status: "signed-in", method: "session" }),
        () => !cancelled && setState({ status: "signed-out" }),
      );
    return () => {
      cancelled = true;
    };
  }, [client]);

  const signIn = useCallback(
    async (raw: string) => {
      const token = raw.trim();
      if (!token) {
        throw new ApiError({ status: 0, code: "missing", message: "Paste an API key first.", field: "token" });
      }
      if (/\s/.test(token)) {
        throw new ApiError({
          status: 0,
          code: "malformed",
          message: "An API key has no spaces or line breaks; paste only the key.",
          field: "token",
        });
      }
      await client.request("GET", PROBE_PATH, { query: { limit: 1 }, credential: token, quiet401: true });
      credentialStore.set(token);
      setState({ status: "signed-in", method: "api-key", hint: tokenHint(token) });
    },
    [client],
  );

  const signOut = useCallback(async () => {
    const wasSession = state.status === "signed-in" && state.method === "session";
    credentialStore.clear();
    if (wasSession) {
      let endSession: string | null = null;
      try {
        const result = await client.request<{ end_session_url?: string | null } | undefined>("POST", SESSION_LOGOUT_PATH, {
          credential: null,
          quiet401: true,
        });
        endSession = result?.end_session_url ?? null;
      } catch {
        // The cookie may already be gone; the portal is signed out either way.
      }
      if (endSession && /^https?:\/\//.test(endSession)) {
        // End the IdP's own session too; it sends the browser back to the portal.
        window.location.assign(endSession);
        return;
      }
    }
    setState({ status: "signed-out", notice: "You are signed out." });
  }, [client, state]);

  const value = useMemo(() => ({ state, client, signIn, signOut }), [state, client, signIn, signOut]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside <AuthProvider>");
  return value;
}

/** The API client of the signed-in user. */
export function useClient(): ApiClient {
  return useAuth().client;
}
