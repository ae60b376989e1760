import { ChevronDown, ChevronRight, Download, Filter, X } from "lucide-react";
import { Fragment, useState, type FormEvent } from "react";

import { ErrorAlert } from "@/components/error-alert";
import { LoadingRows } from "@/components/loading";
import { EmptyState, PageHeader } from "@/components/page-header";
import { Pager } from "@/components/pager";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input, Select } from "@/components/ui/input";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { useToast } from "@/components/ui/toast";
import { useAsync } from "@/hooks/use-async";
import { useCursorPages } from "@/hooks/use-cursor-pages";
import { messageOf } from "@/lib/api";
import { useClient } from "@/lib/auth";
import { saveBlob } from "@/lib/download";
import { formatTime, localInputToRfc3339, rfc3339ToLocalInput } from "@/lib/format";
import { audit, type AuditFilters, type ExportFormat } from "@/lib/resources";
import { Link, navigate, useLocation } from "@/lib/router";
import type { AuditEntry, Tenant } from "@/lib/types";

/** Actions the server records today; the field accepts any value (comma-separated). */
const KNOWN_ACTIONS = [
  "tenant.created",
  "tenant.updated",
  "tenant.deleted",
  "app.created",
  "app.updated",
  "app.deleted",
  "app.secret_rotated",
  "api_key.created",
  "api_key.revoked",
];

function filtersFrom(search: URLSearchParams): AuditFilters {
  const f: AuditFilters = {};
  for (const key of ["action", "tenant_id", "since", "until"] as const) {
    const value = search.get(key);
    if (value) f[key] = value;
  }
  return f;
}

function searchOf(f: AuditFilters): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(f)) if (value) params.set(key, value);
  const qs = params.toString();
  return qs ? `?${qs}` : "";
}

export function AuditLogPage() {
  const client = useClient();
  const toast = useToast();
  const { search } = useLocation();
  const filters = filtersFrom(search);
  const list = useCursorPages((after, signal) => audit.list(client, filters, { limit: 25, after }, signal), [client, filters]);
  const tenantList = useAsync((signal) => client.collect<Tenant>("/v1/tenants", {}, { maxItems: 1000, signal }), [client]);
  const tenantName = new Map((tenantList.data?.items ?? []).map((t) => [t.id, t.name]));
  const [exporting, setExporting] = useState<ExportFormat | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const rows = list.page?.data ?? [];
  const filtered = Object.keys(filters).length > 0;

  const exportAs = async (format: ExportFormat) => {
    setExporting(format);
    try {
      const { blob, filename } = await audit.export(client, filters, format);
      saveBlob(blob, filename ?? `gatehouse-audit.${format}`);
      toast({ title: "Export ready", description: `Saved ${filename ?? `gatehouse-audit.${format}`}.`, variant: "success" });
    } catch (err) {
      toast({ title: "Export failed", description: messageOf(err), variant: "error" });
    } finally {
      setExporting(null);
    }
  };

  return (
    <>
      <PageHeader
        title="Audit log"
        description="Every change made through the API, the CLI or this portal: who did what, to what, and when."
        actions={
          <>
            <Button variant="outline" onClick={() => exportAs("csv")} loading={exporting === "csv"} disabled={exporting !== null}>
              <Download aria-hidden="true" /> Export CSV
            </Button>
            <Button variant="outline" onClick={() => exportAs("jsonl")} loading={exporting === "jsonl"} disabled={exporting !== null}>
              <Download aria-hidden="true" /> Export JSONL
            </Button>
          </>
        }
      />
      <FilterBar key={searchOf(filters)} filters={filters} tenants={tenantList.data?.items ?? []} />
      <Card>
        <CardContent className="pt-5">
          {list.error !== undefined ? (
            <ErrorAlert error={list.error} onRetry={list.reload} />
          ) : list.loading && !list.page ? (
            <LoadingRows label="Loading audit entries" />
          ) : rows.length === 0 ? (
            <EmptyState title={filtered ? "No entries match these filters" : "No audit entries yet"} />
          ) : (
            <>
              <Table aria-busy={list.loading} aria-label="Audit entries">
                <TableHeader>
                  <TableRow>
                    <TableHead>
                      <span className="sr-only">Details</span>
                    </TableHead>
                    <TableHead>When</TableHead>
                    <TableHead>Action</TableHead>
                    <TableHead>Actor</TableHead>
                    <TableHead>Targets</TableHead>
                    <TableHead>Tenant</TableHead>
                  </TableRow>
                </TableHeader>
                <TableBody>
                  {rows.map((e) => (
                    <AuditRow
                      key={e.id}
                      entry={e}
                      tenantName={e.tenant_id ? tenantName.get(e.tenant_id) : undefined}
                      open={open === e.id}
                      onToggle={() => setOpen(open === e.id ? null : e.id)}
                    />
                  ))}
                </TableBody>
              </Table>
              <Pager
                label="Audit log"
                pageNumber={list.pageNumber}
                hasPrevious={list.hasPrevious}
                hasNext={list.hasNext}
                onPrevious={list.previous}
                onNext={list.next}
              />
            </>
          )}
        </CardContent>
      </Card>
    </>
  );
}

function AuditRow({ entry: e, tenantName, open, onToggle }: { entry: AuditEntry; tenantName: string | undefined; open: boolean; onToggle: () => void }) {
  const detailsId = `audit-${e.id}`;
  return (
    <Fragment>
      <TableRow data-action={e.action}>
        <TableCell className="w-8">
          <Button variant="ghost" size="icon" onClick={onToggle} aria-expanded={open} aria-controls={detailsId} aria-label={`Details of ${e.action} at ${formatTime(e.occurred_at)}`}>
            {open ? <ChevronDown aria-hidden="true" /> : <ChevronRight aria-hidden="true" />}
          </Button>
        </TableCell>
        <TableCell className="whitespace-nowrap text-muted-foreground">{formatTime(e.occurred_at)}</TableCell>
        <TableCell>
          <Badge variant="outline" className="font-mono">
            {e.action}
          </Badge>
        </TableCell>
        <TableCell>
          <span className="grid">
            <span>{e.actor.name ?? e.actor.id}</span>
            <span className="text-xs text-muted-foreground">{e.actor.type.replace("_", " ")}</span>
          </span>
        </TableCell>
        <TableCell className="max-w-64">
          {e.targets.map((t) => (
            <span key={`${t.type}:${t.id}`} className="block truncate" title={`${t.type} ${t.id}`}>
              <span className="text-xs text-muted-foreground">{t.type}</span> {t.name ?? t.id}
            </span>
          ))}
        </TableCell>
        <TableCell>
          {e.tenant_id ? (
            <Link to={`/tenants/${e.tenant_id}`} className="hover:underline">
              {tenantName ?? e.tenant_id}
            </Link>
          ) : (
            <span className="text-muted-foreground">—</span>
          )}
        </TableCell>
      </TableRow>
      {open && (
        <TableRow id={detailsId} className="bg-muted/30 hover:bg-muted/30">
          <TableCell />
          <TableCell colSpan={5}>
            <dl className="grid grid-cols-[8rem_1fr] gap-x-4 gap-y-1 text-xs">
              <dt className="text-muted-foreground">Entry id</dt>
              <dd className="font-mono">{e.id}</dd>
              <dt className="text-muted-foreground">Actor id</dt>
              <dd className="font-mono">{e.actor.id}</dd>
              <dt className="text-muted-foreground">IP address</dt>
              <dd className="font-mono">{e.context.location ?? "—"}</dd>
              <dt className="text-muted-foreground">User agent</dt>
              <dd className="break-all">{e.context.user_agent ?? "—"}</dd>
              <dt className="text-muted-foreground">Request id</dt>
              <dd className="font-mono">{e.context.request_id ?? "—"}</dd>
              <dt className="text-muted-foreground">Metadata</dt>
              <dd>
                <pre className="overflow-x-auto rounded-md bg-muted p-2 font-mono">{JSON.stringify(e.metadata, null, 2)}</pre>
              </dd>
            </dl>
          </TableCell>
        </TableRow>
      )}
    </Fragment>
  );
}

function FilterBar({ filters, tenants }: { filters: AuditFilters; tenants: Tenant[] }) {
  const [action, setAction] = useState(filters.action ?? "");
  const [tenantId, setTenantId] = useState(filters.tenant_id ?? "");
  const [since, setSince] = useState(rfc3339ToLocalInput(filters.since));
  const [until, setUntil] = useState(rfc3339ToLocalInput(filters.until));
  const [error, setError] = useState<string | undefined>();

  const apply = (event: FormEvent) => {
    event.preventDefault();
    const next: AuditFilters = {};
    if (action.trim()) next.action = action.split(",").map((a) => a.trim()).filter(Boolean).join(",");
    if (tenantId) next.tenant_id = tenantId;
    const s = localInputToRfc3339(since);
    const u = localInputToRfc3339(until);
    if (s && u && s >= u) {
      setError("“Until” must be later than “since”.");
      return;
    }
    setError(undefined);
    if (s) next.since = s;
    if (u) next.until = u;
    navigate(`/audit${searchOf(next)}`);
  };

  const hasFilters = Object.keys(filters).length > 0;
  return (
    <Card className="mb-4">
      <CardContent className="pt-5">
        <form className="flex flex-wrap items-start gap-4" onSubmit={apply} aria-label="Filter the audit log">
          <Field label="Action" className="min-w-56 flex-1">
            <Input
              name="action"
              list="audit-actions"
              value={action}
              onChange={(e) => setAction(e.target.value)}
              placeholder="e.g. app.created, tenant.deleted"
              spellCheck={false}
            />
          </Field>
          <datalist id="audit-actions">
            {KNOWN_ACTIONS.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
          <Field label="Tenant" className="min-w-48 flex-1">
            <Select name="tenant_id" value={tenantId} onChange={(e) => setTenantId(e.target.value)}>
              <option value="">All tenants</option>
              {tenantId && !tenants.some((t) => t.id === tenantId) && <option value={tenantId}>{tenantId}</option>}
              {tenants.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.name}
                </option>
              ))}
            </Select>
          </Field>
          <Field label="Since" className="min-w-52">
            <Input type="datetime-local" name="since" value={since} onChange={(e) => setSince(e.target.value)} />
          </Field>
          <Field label="Until" error={error} className="min-w-52">
            <Input type="datetime-local" name="until" value={until} onChange={(e) => setUntil(e.target.value)} />
          </Field>
          <div className="flex gap-2 self-end">
            <Button type="submit">
              <Filter aria-hidden="true" /> Apply
            </Button>
            {hasFilters && (
              <Button variant="ghost" onClick={() => navigate("/audit")}>
                <X aria-hidden="true" /> Clear
              </Button>
            )}
          </div>
        </form>
      </CardContent>
    </Card>
  );
}
