import { Activity, AppWindow, Building2, RefreshCw } from "lucide-react";
import type { ReactNode } from "react";

import { ErrorAlert } from "@/components/error-alert";
import { LoadingRows } from "@/components/loading";
import { EmptyState, PageHeader } from "@/components/page-header";
import { SyncBadge } from "@/components/sync-badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Skeleton } from "@/components/ui/skeleton";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { useAsync } from "@/hooks/use-async";
import { useClient } from "@/lib/auth";
import { mapLimit } from "@/lib/concurrency";
import { formatTime, timeAgo } from "@/lib/format";
import { Link } from "@/lib/router";
import type { App, GatehouseEvent, SyncState, Tenant } from "@/lib/types";

/** Upper bounds that keep the dashboard to a bounded number of requests on large installs. */
const MAX_TENANTS = 1000;
const MAX_TENANTS_FOR_APPS = 200;
const MAX_EVENTS = 1000;

interface Inventory {
  tenants: Tenant[];
  tenantsTruncated: boolean;
  apps: App[];
  /** Apps were counted over only part of the tenants, or a tenant had too many to list. */
  appsTruncated: boolean;
}

function Stat({ label, value, note, icon, loading }: { label: string; value: ReactNode; note?: ReactNode; icon: ReactNode; loading: boolean }) {
  return (
    <Card>
      <CardHeader className="flex-row items-center justify-between pb-2">
        <CardTitle className="text-sm font-medium text-muted-foreground">{label}</CardTitle>
        <span className="text-muted-foreground [&_svg]:size-4" aria-hidden="true">
          {icon}
        </span>
      </CardHeader>
      <CardContent>
        {loading ? <Skeleton className="h-8 w-16" /> : <div className="text-3xl font-semibold tabular-nums" data-stat={label}>{value}</div>}
        {note && !loading && <p className="pt-1 text-xs text-muted-foreground">{note}</p>}
      </CardContent>
    </Card>
  );
}

export function DashboardPage() {
  const client = useClient();

  const inventory = useAsync<Inventory>(async (signal) => {
    const { items: tenants, truncated: tenantsTruncated } = await client.collect<Tenant>("/v1/tenants", {}, { maxItems: MAX_TENANTS, signal });
    const scanned = tenants.slice(0, MAX_TENANTS_FOR_APPS);
    const perTenant = await mapLimit(scanned, 4, (t) =>
      client.collect<App>(`/v1/tenants/${encodeURIComponent(t.id)}/apps`, {}, { maxItems: 500, signal }),
    );
    return {
      tenants,
      tenantsTruncated,
      apps: perTenant.flatMap((r) => r.items),
      appsTruncated: tenants.length > scanned.length || perTenant.some((r) => r.truncated),
    };
  }, [client]);

  const since = new Date(Date.now() - 24 * 3600 * 1000).toISOString();
  const recent = useAsync(
    (signal) => client.collect<GatehouseEvent>("/v1/events", { since }, { maxItems: MAX_EVENTS, signal }),
    // `since` is computed per render; reload only on explicit refresh.
    [client],
  );

  const inv = inventory.data;
  const counts: Record<SyncState, number> = { synced: 0, pending: 0, failed: 0 };
  const unsynced: { kind: "Tenant" | "App"; name: string; to: string; sync: Tenant["sync"] }[] = [];
  for (const t of inv?.tenants ?? []) {
    counts[t.sync.state]++;
    if (t.sync.state !== "synced") unsynced.push({ kind: "Tenant", name: t.name, to: `/tenants/${t.id}`, sync: t.sync });
  }
  for (const a of inv?.apps ?? []) {
    counts[a.sync.state]++;
    if (a.sync.state !== "synced")
      unsynced.push({ kind: "App", name: a.name, to: `/tenants/${a.tenant_id}/apps/${a.id}`, sync: a.sync });
  }
  unsynced.sort((a, b) => (a.sync.state === "failed" ? 0 : 1) - (b.sync.state === "failed" ? 0 : 1));
  const total = counts.synced + counts.pending + counts.failed;
  const events = recent.data?.items ?? [];
  const latest = events.slice(-10).reverse();

  return (
    <>
      <PageHeader
        title="Dashboard"
        description="Your Gatehouse at a glance."
        actions={
          <Button
            variant="outline"
            onClick={() => {
              inventory.reload();
              recent.reload();
            }}
          >
            <RefreshCw aria-hidden="true" /> Refresh
          </Button>
        }
      />
      {inventory.error !== undefined && <div className="pb-4"><ErrorAlert error={inventory.error} onRetry={inventory.reload} /></div>}
      <section aria-label="Key numbers" className="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
        <Stat
          label="Tenants"
          icon={<Building2 />}
          loading={inventory.loading && !inv}
          value={inv ? `${inv.tenants.length}${inv.tenantsTruncated ? "+" : ""}` : "—"}
        />
        <Stat
          label="Apps"
          icon={<AppWindow />}
          loading={inventory.loading && !inv}
          value={inv ? `${inv.apps.length}${inv.appsTruncated ? "+" : ""}` : "—"}
          note={inv?.appsTruncated ? `Counted over the first ${MAX_TENANTS_FOR_APPS} tenants.` : undefined}
        />
        <Stat
          label="In sync"
          icon={<RefreshCw />}
          loading={inventory.loading && !inv}
          value={inv ? (total ? `${Math.round((counts.synced / total) * 100)}%` : "—") : "—"}
          note={inv && `${counts.synced} synced · ${counts.pending} pending · ${counts.failed} failed`}
        />
        <Stat
          label="Events (24 h)"
          icon={<Activity />}
          loading={recent.loading && !recent.data}
          value={recent.data ? `${events.length}${recent.data.truncated ? "+" : ""}` : "—"}
        />
      </section>

      <div className="grid gap-4 pt-6 lg:grid-cols-2">
        <Card>
          <CardHeader>
            <CardTitle>Sync health</CardTitle>
            <CardDescription>Tenants and apps not yet in sync with the identity provider.</CardDescription>
          </CardHeader>
          <CardContent>
            {inventory.loading && !inv ? (
              <LoadingRows />
            ) : unsynced.length === 0 ? (
              <EmptyState title={total ? "Everything is in sync" : "Nothing to sync yet"}>
                {total ? "Every tenant and app matches the identity provider." : "Create a tenant to get started."}
              </EmptyState>
            ) : (
              <ul className="divide-y" aria-label="Objects not in sync">
                {unsynced.slice(0, 8).map((o) => (
                  <li key={o.to} className="flex items-start justify-between gap-3 py-2.5">
                    <div className="min-w-0">
                      <Link to={o.to} className="font-medium hover:underline">
                        {o.name}
                      </Link>
                      <span className="pl-2 text-xs text-muted-foreground">{o.kind}</span>
                      {o.sync.message && <p className="truncate text-xs text-muted-foreground" title={o.sync.message}>{o.sync.message}</p>}
                    </div>
                    <SyncBadge sync={o.sync} />
                  </li>
                ))}
              </ul>
            )}
          </CardContent>
        </Card>

        <Card>
          <CardHeader className="flex-row items-start justify-between">
            <div className="grid gap-1.5">
              <CardTitle>Recent events</CardTitle>
              <CardDescription>The latest entries of the events feed.</CardDescription>
            </div>
            <Link to="/events" className="text-sm font-medium hover:underline">
              View all
            </Link>
          </CardHeader>
          <CardContent>
            {recent.error !== undefined ? (
              <ErrorAlert error={recent.error} onRetry={recent.reload} />
            ) : recent.loading && !recent.data ? (
              <LoadingRows />
            ) : latest.length === 0 ? (
              <EmptyState title="No events in the last 24 hours" />
            ) : (
              <Table>
                <TableHeader>
                  <TableRow>
                    <TableHead>Type</TableHead>
                    <TableHead>When</TableHead>
                  </TableRow>
                </TableHeader>
                <TableBody>
                  {latest.map((e) => (
                    <TableRow key={e.id}>
                      <TableCell className="font-mono text-xs">{e.type}</TableCell>
                      <TableCell className="text-muted-foreground" title={formatTime(e.occurred_at)}>
                        {timeAgo(e.occurred_at)}
                      </TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            )}
          </CardContent>
        </Card>
      </div>
    </>
  );
}
