import { Ban, Plus } from "lucide-react";
import { useState, type FormEvent } from "react";

import { ConfirmDialog } from "@/components/confirm-dialog";
import { ErrorAlert } from "@/components/error-alert";
import { LoadingRows } from "@/components/loading";
import { EmptyState, PageHeader } from "@/components/page-header";
import { Pager } from "@/components/pager";
import { SecretDialog } from "@/components/secret-dialog";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { Dialog, DialogFooter } from "@/components/ui/dialog";
import { Field } from "@/components/ui/field";
import { Input, Select } from "@/components/ui/input";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { useToast } from "@/components/ui/toast";
import { useAsync } from "@/hooks/use-async";
import { useCursorPages } from "@/hooks/use-cursor-pages";
import { ApiError, type FieldErrors } from "@/lib/api";
import { useAuth } from "@/lib/auth";
import { credentialStore } from "@/lib/credential";
import { formatTime, timeAgo } from "@/lib/format";
import { apiKeys } from "@/lib/resources";
import { Link } from "@/lib/router";
import type { ApiKey, CreatedApiKey, KeyScope, Tenant } from "@/lib/types";

export function ApiKeysPage() {
  const { client, state } = useAuth();
  // The key this tab signed in with, recognised by its display prefix (as the API lists it).
  const ownPrefix = state.status === "signed-in" && state.method === "api-key" ? credentialStore.get()?.slice(0, 12) : undefined;
  const toast = useToast();
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const list = useCursorPages((after, signal) => apiKeys.list(client, { limit: 20, after }, signal), [client]);
  const tenantList = useAsync((signal) => client.collect<Tenant>("/v1/tenants", {}, { maxItems: 1000, signal }), [client]);
  const tenantName = new Map((tenantList.data?.items ?? []).map((t) => [t.id, t.name]));
  const rows = list.page?.data ?? [];

  return (
    <>
      <PageHeader
        title="API keys"
        description="Credentials for the admin API and the CLI. Platform keys manage everything; tenant keys see one tenant."
        actions={
          <Button onClick={() => setCreating(true)}>
            <Plus aria-hidden="true" /> Create key
          </Button>
        }
      />
      <Card>
        <CardContent className="pt-5">
          {list.error !== undefined ? (
            <ErrorAlert error={list.error} onRetry={list.reload} />
          ) : list.loading && !list.page ? (
            <LoadingRows label="Loading API keys" />
          ) : rows.length === 0 ? (
            <EmptyState title="No API keys" />
          ) : (
            <>
              <Table aria-busy={list.loading}>
                <TableHeader>
                  <TableRow>
                    <TableHead>Name</TableHead>
                    <TableHead>Scope</TableHead>
                    <TableHead>Key</TableHead>
                    <TableHead>Created</TableHead>
                    <TableHead>Last used</TableHead>
                    <TableHead>Status</TableHead>
                    <TableHead>
                      <span className="sr-only">Actions</span>
                    </TableHead>
                  </TableRow>
                </TableHeader>
                <TableBody>
                  {rows.map((k) => (
                    <TableRow key={k.id} data-key={k.name}>
                      <TableCell className="font-medium">
                        {k.name}
                        {k.token_prefix === ownPrefix && (
                          <Badge variant="outline" className="ml-2">
                            this session
                          </Badge>
                        )}
                      </TableCell>
                      <TableCell>
                        {k.scope === "platform" ? (
                          <Badge variant="secondary">platform</Badge>
                        ) : (
                          <span className="flex items-center gap-2">
                            <Badge variant="outline">tenant</Badge>
                            {k.tenant_id && (
                              <Link to={`/tenants/${k.tenant_id}`} className="text-xs hover:underline">
                                {tenantName.get(k.tenant_id) ?? k.tenant_id}
                              </Link>
                            )}
                          </span>
                        )}
                      </TableCell>
                      <TableCell className="font-mono text-xs text-muted-foreground">{k.token_prefix}…</TableCell>
                      <TableCell className="text-muted-foreground">{formatTime(k.created_at)}</TableCell>
                      <TableCell className="text-muted-foreground" title={formatTime(k.last_used_at)}>
                        {timeAgo(k.last_used_at)}
                      </TableCell>
                      <TableCell>
                        {k.revoked_at ? (
                          <Badge variant="destructive" title={formatTime(k.revoked_at)}>
                            revoked
                          </Badge>
                        ) : (
                          <Badge variant="success">active</Badge>
                        )}
                      </TableCell>
                      <TableCell className="text-right">
                        {!k.revoked_at && (
                          <Button variant="ghost" size="sm" onClick={() => setRevoking(k)} aria-label={`Revoke ${k.name}`}>
                            <Ban aria-hidden="true" /> Revoke
                          </Button>
                        )}
                      </TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
              <Pager
                label="API key"
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
      <CreateKeyDialog
        open={creating}
        tenants={tenantList.data?.items ?? []}
        onClose={() => setCreating(false)}
        onCreated={(key) => {
          setCreating(false);
          setCreated(key);
          list.first();
        }}
      />
      <SecretDialog
        secret={created?.token ?? null}
        title="API key created"
        what="API key"
        details={created ? [{ label: "Name", value: created.name }] : []}
        onDone={() => setCreated(null)}
      />
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke ${revoking?.name ?? "key"}?`}
        description={
          revoking?.token_prefix === ownPrefix
            ? "You are signed in with this key: revoking it signs you out here too. It stops working immediately, for every client that uses it. This cannot be undone."
            : "It stops working immediately, for every client that uses it. This cannot be undone."
        }
        confirmLabel="Revoke key"
        onCancel={() => setRevoking(null)}
        onConfirm={async () => {
          if (!revoking) return;
          await apiKeys.revoke(client, revoking.id);
          toast({ title: "Key revoked", description: revoking.name, variant: "success" });
          setRevoking(null);
          list.reload();
        }}
      />
    </>
  );
}

function CreateKeyDialog({
  open,
  tenants,
  onClose,
  onCreated,
}: {
  open: boolean;
  tenants: Tenant[];
  onClose: () => void;
  onCreated: (key: CreatedApiKey) => void;
}) {
  const { client } = useAuth();
  const [name, setName] = useState("");
  const [scope, setScope] = useState<KeyScope>("platform");
  const [tenantId, setTenantId] = useState("");
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<unknown>(null);

  const reset = () => {
    setName("");
    setScope("platform");
    setTenantId("");
    setErrors({});
    setError(null);
    setBusy(false);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setErrors({});
    setError(null);
    if (scope === "tenant" && !tenantId) {
      setErrors({ tenant_id: "Choose the tenant this key is confined to." });
      return;
    }
    setBusy(true);
    try {
      const key = await apiKeys.create(client, { name, scope, tenant_id: scope === "tenant" ? tenantId : null });
      reset();
      onCreated(key);
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError && err.field && ["name", "scope", "tenant_id"].includes(err.field)) {
        setErrors({ [err.field]: err.message });
      } else {
        setError(err);
      }
    }
  };

  return (
    <Dialog
      open={open}
      onClose={() => {
        if (busy) return;
        reset();
        onClose();
      }}
      title="Create API key"
      description="The key is shown once, right after it is created."
    >
      <form className="grid gap-4" onSubmit={submit} noValidate>
        <Field label="Name" error={errors.name} hint="What uses it, e.g. “CI deploys”.">
          <Input name="name" value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field label="Scope" error={errors.scope}>
          <Select name="scope" value={scope} onChange={(e) => setScope(e.target.value as KeyScope)}>
            <option value="platform">Platform: every tenant</option>
            <option value="tenant">Tenant: one tenant only</option>
          </Select>
        </Field>
        {scope === "tenant" && (
          <Field label="Tenant" error={errors.tenant_id}>
            <Select name="tenant_id" value={tenantId} onChange={(e) => setTenantId(e.target.value)}>
              <option value="">Choose a tenant…</option>
              {tenants.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.name} ({t.slug})
                </option>
              ))}
            </Select>
          </Field>
        )}
        {error !== null && <ErrorAlert error={error} title="Could not create the key" />}
        <DialogFooter>
          <Button
            variant="outline"
            onClick={() => {
              reset();
              onClose();
            }}
            disabled={busy}
          >
            Cancel
          </Button>
          <Button type="submit" loading={busy}>
            Create key
          </Button>
        </DialogFooter>
      </form>
    </Dialog>
  );
}
