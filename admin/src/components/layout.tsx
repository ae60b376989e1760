import { Activity, KeyRound, LayoutDashboard, LogOut, Monitor, Moon, ScrollText, Sun, Building2 } from "lucide-react";
import { useState, type ReactNode } from "react";

import { Button } from "@/components/ui/button";
import { useAuth } from "@/lib/auth";
import { Link, useLocation } from "@/lib/router";
import { saveTheme, storedTheme, type Theme } from "@/lib/theme";
import { cn } from "@/lib/utils";

const NAV = [
  { to: "/", label: "Dashboard", icon: LayoutDashboard, match: (p: string) => p === "/" },
  { to: "/tenants", label: "Tenants", icon: Building2, match: (p: string) => p.startsWith("/tenants") },
  { to: "/api-keys", label: "API keys", icon: KeyRound, match: (p: string) => p.startsWith("/api-keys") },
  { to: "/audit", label: "Audit log", icon: ScrollText, match: (p: string) => p.startsWith("/audit") },
  { to: "/events", label: "Events", icon: Activity, match: (p: string) => p.startsWith("/events") },
];

function Logo() {
  return (
    <span className="flex items-center gap-2 font-semibold tracking-tight">
      <svg viewBox="0 0 32 32" className="size-6" aria-hidden="true">
        <rect width="32" height="32" rx="7" className="fill-primary" />
        <path d="M9 25V13l7-5 7 5v12h-5v-6h-4v6z" className="fill-primary-foreground" />
      </svg>
      Gatehouse
    </span>
  );
}

const THEMES: { value: Theme; label: string; icon: typeof Sun }[] = [
  { value: "light", label: "Light", icon: Sun },
  { value: "dark", label: "Dark", icon: Moon },
  { value: "system", label: "System", icon: Monitor },
];

function ThemeSwitch() {
  const [theme, setTheme] = useState<Theme>(storedTheme);
  return (
    <div role="group" aria-label="Colour theme" className="flex rounded-md border p-0.5">
      {THEMES.map(({ value, label, icon: Icon }) => (
        <button
          key={value}
          type="button"
          aria-pressed={theme === value}
          title={`${label} theme`}
          onClick={() => {
            saveTheme(value);
            setTheme(value);
          }}
          className={cn(
            "rounded-sm p-1.5 text-muted-foreground hover:text-foreground focus-visible:outline-2 focus-visible:outline-ring",
            theme === value && "bg-accent text-foreground",
          )}
        >
          <Icon className="size-3.5" aria-hidden="true" />
          <span className="sr-only">{label}</span>
        </button>
      ))}
    </div>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  const { path } = useLocation();
  const { state, signOut } = useAuth();
  const who =
    state.status === "signed-in"
      ? state.method === "api-key"
        ? `API key ${state.hint}`
        : "Admin session"
      : "";
  return (
    <div className="min-h-screen md:grid md:grid-cols-[15rem_1fr]">
      <a
        href="#main"
        className="sr-only z-50 rounded-md bg-primary px-3 py-2 text-primary-foreground focus:not-sr-only focus:fixed focus:top-2 focus:left-2"
      >
        Skip to content
      </a>
      <aside className="border-b bg-card md:sticky md:top-0 md:flex md:h-screen md:flex-col md:border-r md:border-b-0">
        <div className="flex items-center justify-between px-5 py-4">
          <Link to="/" className="rounded-sm focus-visible:outline-2 focus-visible:outline-ring">
            <Logo />
          </Link>
        </div>
        <nav aria-label="Main" className="flex gap-1 overflow-x-auto px-3 pb-3 md:flex-1 md:flex-col md:overflow-visible">
          {NAV.map(({ to, label, icon: Icon, match }) => {
            const active = match(path);
            return (
              <Link
                key={to}
                to={to}
                aria-current={active ? "page" : undefined}
                className={cn(
                  "flex items-center gap-2.5 rounded-md px-3 py-2 text-sm font-medium whitespace-nowrap text-muted-foreground transition-colors hover:bg-accent hover:text-accent-foreground focus-visible:outline-2 focus-visible:outline-ring",
                  active && "bg-accent text-accent-foreground",
                )}
              >
                <Icon className="size-4" aria-hidden="true" />
                {label}
              </Link>
            );
          })}
        </nav>
        <div className="hidden border-t p-4 md:grid md:gap-3">
          <p className="truncate text-xs text-muted-foreground" title={who}>
            Signed in with {who}
          </p>
          <div className="flex items-center justify-between gap-2">
            <ThemeSwitch />
            <Button variant="outline" size="sm" onClick={() => void signOut()}>
              <LogOut aria-hidden="true" /> Sign out
            </Button>
          </div>
        </div>
      </aside>
      <div className="min-w-0">
        <div className="flex items-center justify-end gap-2 border-b px-4 py-2 md:hidden">
          <ThemeSwitch />
          <Button variant="outline" size="sm" onClick={() => void signOut()}>
            <LogOut aria-hidden="true" /> Sign out
          </Button>
        </div>
        <main id="main" tabIndex={-1} className="mx-auto w-full max-w-6xl px-4 py-8 focus:outline-none sm:px-8">
          {children}
        </main>
      </div>
    </div>
  );
}
