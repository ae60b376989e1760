import { Plus, Trash2 } from "lucide-react";
import { useState } from "react";

import { ConfirmDialog } from "@/components/confirm-dialog";
import { CopyButton } from "@/components/copy-button";
import { ErrorAlert } from "@/components/error-alert";
import { LoadingRows } from "@/components/loading";
import { EmptyState, PageHeader } from "@/components/page-header";
import { Pager } from "@/components/pager";
import { SyncBadge } from "@/components/sync-badge";
import { SyncDetails } from "@/components/sync-details";
import { Badge } from "@/components/ui/badge";
import { Button, ButtonLink } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { useToast } from "@/components/ui/toast";
import { useAsync } from "@/hooks/use-async";
import { useCursorPages } from "@/hooks/use-cursor-pages";
import { useClient } from "@/lib/auth";
import { formatTime } from "@/lib/format";
import { apps, tenants } from "@/lib/resources";
import { Link, navigate } from "@/lib/router";

export function TenantDetailPage({ tenantId }: { tenantId: string }) {
  const client = useClient();
  const toast = useToast();
  const tenant = useAsync((signal) => tenants.get(client, tenantId, signal), [client, tenantId]);
  const appList = useCursorPages((after, signal) => apps.list(client, tenantId, { limit: 20, after }, signal), [client, tenantId]);
  const [deleting, setDeleting] = useState(false);
  const t = tenant.data;

  if (tenant.error !== undefined) {
    return (
      <>
        <PageHeader title="Tenant" eyebrow={<Link to="/tenants" className="hover:underline">Tenants</Link>} />
        <ErrorAlert error={tenant.error} onRetry={tenant.reload} />
      </>
    );
  }
  if (!t) return <LoadingRows rows={4} label="Loading tenant" />;

  const rows = appList.page?.data ?? [];
  return (
    <>
      <PageHeader
        eyebrow={
          <Link to="/tenants" className="hover:underline">
            Tenants
          </Link>
        }
        title={t.name}
        description={
          <span className="flex flex-wrap items-center gap-2">
            <code className="font-mono text-xs">{t.slug}</code>
            <Badge variant={t.status === "active" ? "secondary" : "warning"}>{t.status}</Badge>
            <SyncBadge sync={t.sync} />
          </span>
        }
        actions={
          <ButtonLink to={`/tenants/${t.id}/apps/new`}>
            <Plus aria-hidden="true" /> New app
          </ButtonLink>
        }
      />
      <div className="grid gap-4 lg:grid-cols-[1fr_22rem]">
        <Card>
          <CardHeader>
            <CardTitle>Apps</CardTitle>
            <CardDescription>Applications that sign users in through this tenant.</CardDescription>
          </CardHeader>
          <CardContent>
            {appList.error !== undefined ? (
              <ErrorAlert error={appList.error} onRetry={appList.reload} />
            ) : appList.loading && !appList.page ? (
              <LoadingRows label="Loading apps" />
            ) : rows.length === 0 ? (
              <EmptyState title="No apps yet">Register the first application for {t.name}.</EmptyState>
            ) : (
              <>
                <Table aria-busy={appList.loading}>
                  <TableHeader>
                    <TableRow>
                      <TableHead>Name</TableHead>
                      <TableHead>Type</TableHead>
                      <TableHead>Client id</TableHead>
                      <TableHead>Sync</TableHead>
                    </TableRow>
                  </TableHeader>
                  <TableBody>
                    {rows.map((a) => (
                      <TableRow key={a.id}>
                        <TableCell className="font-medium">
                          <Link to={`/tenants/${t.id}/apps/${a.id}`} className="hover:underline">
                            {a.name}
                          </Link>
                        </TableCell>
                        <TableCell>
                          <Badge variant="outline">{a.type}</Badge>
                        </TableCell>
                        <TableCell className="font-mono text-xs text-muted-foreground">{a.client_id ?? "not issued yet"}</TableCell>
                        <TableCell>
                          <SyncBadge sync={a.sync} />
                        </TableCell>
                      </TableRow>
                    ))}
                  </TableBody>
                </Table>
                <Pager
                  label="App"
                  pageNumber={appList.pageNumber}
                  hasPrevious={appList.hasPrevious}
                  hasNext={appList.hasNext}
                  onPrevious={appList.previous}
                  onNext={appList.next}
                />
              </>
            )}
          </CardContent>
        </Card>
        <div className="grid content-start gap-4">
          <Card>
            <CardHeader>
              <CardTitle>Details</CardTitle>
            </CardHeader>
            <CardContent>
              <dl className="grid grid-cols-[6rem_1fr] gap-x-4 gap-y-2 text-sm">
                <dt className="text-muted-foreground">Id</dt>
                <dd className="flex items-center gap-2">
                  <code className="font-mono text-xs break-all">{t.id}</code>
                  <CopyButton value={t.id} label="Copy id" variant="ghost" />
                </dd>
                <dt className="text-muted-foreground">Domains</dt>
                <dd>{t.domains.length ? t.domains.join(", ") : "—"}</dd>
                <dt className="text-muted-foreground">Created</dt>
                <dd>{formatTime(t.created_at)}</dd>
                <dt className="text-muted-foreground">Updated</dt>
                <dd>{formatTime(t.updated_at)}</dd>
              </dl>
            </CardContent>
          </Card>
          <Card>
            <CardHeader>
              <CardTitle>Identity provider sync</CardTitle>
            </CardHeader>
            <CardContent>
              <SyncDetails sync={t.sync} />
            </CardContent>
          </Card>
          <Card className="border-destructive/40">
            <CardHeader>
              <CardTitle>Delete tenant</CardTitle>
              <CardDescription>Removes the tenant and everything it owns, here and in the identity provider.</CardDescription>
            </CardHeader>
            <CardContent>
              <Button variant="destructive" onClick={() => setDeleting(true)}>
                <Trash2 aria-hidden="true" /> Delete tenant
              </Button>
            </CardContent>
          </Card>
        </div>
      </div>
      <ConfirmDialog
        open={deleting}
        title={`Delete ${t.name}?`}
        description="This cannot be undone. Users of this tenant's apps will no longer be able to sign in."
        confirmLabel="Delete tenant"
        typeToConfirm={t.slug}
        onCancel={() => setDeleting(false)}
        onConfirm={async () => {
          await tenants.remove(client, t.id);
          setDeleting(false);
          toast({ title: "Tenant deleted", description: t.name, variant: "success" });
          navigate("/tenants", { replace: true });
        }}
      />
    </>
  );
}
