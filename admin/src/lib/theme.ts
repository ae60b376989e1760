// Light / dark / system theme: a `.dark` class on <html>, chosen by the user or the OS.

export type Theme = "light" | "dark" | "system";

const STORAGE_KEY = "gatehouse.portal.theme";

export function storedTheme(): Theme {
  try {
    const value = window.localStorage.getItem(STORAGE_KEY);
    if (value === "light" || value === "dark" || value === "system") return value;
  } catch {
    // Storage disabled: follow the OS.
  }
  return "system";
}

function prefersDark(): boolean {
  return typeof window.matchMedia === "function" && window.matchMedia("(prefers-color-scheme: dark)").matches;
}

export function applyTheme(theme: Theme): void {
  const dark = theme === "dark" || (theme === "system" && prefersDark());
  document.documentElement.classList.toggle("dark", dark);
}

export function saveTheme(theme: Theme): void {
  try {
    window.localStorage.setItem(STORAGE_KEY, theme);
  } catch {
    // Not persisted; still applied for this page.
  }
  applyTheme(theme);
}

/** Applies the stored theme now and follows OS changes while it is "system". */
export function initTheme(): void {
  applyTheme(storedTheme());
  if (typeof window.matchMedia === "function") {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
      if (storedTheme() === "system") applyTheme("system");
    });
  }
}
