// Where the pasted API key lives: this tab's sessionStorage, so it is gone when the tab closes
// and never shared with other tabs or written to disk by the portal.

const STORAGE_KEY = "gatehouse.portal.apiKey";

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    // Storage disabled by the browser's privacy settings.
    return null;
  }
}

export const credentialStore = {
  get(): string | null {
    try {
      return storage()?.getItem(STORAGE_KEY) ?? null;
    } catch {
      return null;
    }
  },
  set(token: string): void {
    storage()?.setItem(STORAGE_KEY, token);
  },
  clear(): void {
    try {
      storage()?.removeItem(STORAGE_KEY);
    } catch {
      // Nothing stored, nothing to clear.
    }
  },
};

/** A short, non-secret label for a token: its prefix, as the API shows it (`token_prefix`). */
export function tokenHint(token: string): string {
  return token.length > 12 ? `${token.slice(0, 12)}…` : "API key";
}
