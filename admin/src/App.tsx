import { useEffect, useRef, type ReactNode } from "react";

import { Layout } from "@/components/layout";
import { LoadingRows } from "@/components/loading";
import { ToastProvider } from "@/components/ui/toast";
import { AuthProvider, useAuth } from "@/lib/auth";
import { match, useLocation } from "@/lib/router";
import { ApiKeysPage } from "@/pages/api-keys";
import { AppCreatePage } from "@/pages/app-create";
import { AppDetailPage } from "@/pages/app-detail";
import { AuditLogPage } from "@/pages/audit-log";
import { DashboardPage } from "@/pages/dashboard";
import { EventsPage } from "@/pages/events";
import { NotFoundPage } from "@/pages/not-found";
import { SignInPage } from "@/pages/sign-in";
import { TenantDetailPage } from "@/pages/tenant-detail";
import { TenantsPage } from "@/pages/tenants";

interface Route {
  pattern: string;
  title: string;
  render: (params: Record<string, string>) => ReactNode;
}

const ROUTES: Route[] = [
  { pattern: "/", title: "Dashboard", render: () => <DashboardPage /> },
  { pattern: "/tenants", title: "Tenants", render: () => <TenantsPage /> },
  { pattern: "/tenants/:tenant/apps/new", title: "New app", render: (p) => <AppCreatePage key={p.tenant} tenantId={p.tenant!} /> },
  {
    pattern: "/tenants/:tenant/apps/:app",
    title: "App",
    render: (p) => <AppDetailPage key={`${p.tenant}/${p.app}`} tenantId={p.tenant!} appId={p.app!} />,
  },
  { pattern: "/tenants/:tenant", title: "Tenant", render: (p) => <TenantDetailPage key={p.tenant} tenantId={p.tenant!} /> },
  { pattern: "/api-keys", title: "API keys", render: () => <ApiKeysPage /> },
  { pattern: "/audit", title: "Audit log", render: () => <AuditLogPage /> },
  { pattern: "/events", title: "Events", render: () => <EventsPage /> },
];

function resolve(path: string): { route: Route | null; params: Record<string, string> } {
  for (const route of ROUTES) {
    const params = match(route.pattern, path);
    if (params) return { route, params };
  }
  return { route: null, params: {} };
}

function Routes() {
  const { path } = useLocation();
  const { route, params } = resolve(path);
  const firstRender = useRef(true);
  useEffect(() => {
    document.title = `${route?.title ?? "Not found"} · Gatehouse admin`;
    if (firstRender.current) {
      // A fresh page load keeps the browser's own focus order (the skip link comes first).
      firstRender.current = false;
      return;
    }
    // After an in-app navigation, move focus to the new page's content so keyboard and
    // screen-reader users follow along.
    document.getElementById("main")?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [path, route]);
  return <Layout>{route ? route.render(params) : <NotFoundPage />}</Layout>;
}

function Gate() {
  const { state } = useAuth();
  if (state.status === "checking") {
    return (
      <div className="mx-auto max-w-md px-4 py-24">
        <LoadingRows label="Checking your session" />
      </div>
    );
  }
  if (state.status === "signed-out") return <SignInPage notice={state.notice} />;
  return <Routes />;
}

export function App() {
  return (
    <ToastProvider>
      <AuthProvider>
        <Gate />
      </AuthProvider>
    </ToastProvider>
  );
}
