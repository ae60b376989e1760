import { Plus } from "lucide-react";
import { useState, type FormEvent } from "react";

import { ErrorAlert } from "@/components/error-alert";
import { LoadingRows } from "@/components/loading";
import { EmptyState, PageHeader } from "@/components/page-header";
import { Pager } from "@/components/pager";
import { SyncBadge } from "@/components/sync-badge";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { Dialog, DialogFooter } from "@/components/ui/dialog";
import { Field } from "@/components/ui/field";
import { Input, Textarea } from "@/components/ui/input";
import { useToast } from "@/components/ui/toast";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { useCursorPages } from "@/hooks/use-cursor-pages";
import { ApiError, type FieldErrors } from "@/lib/api";
import { useClient } from "@/lib/auth";
import { formatTime, slugify, splitList } from "@/lib/format";
import { tenants } from "@/lib/resources";
import { Link, navigate } from "@/lib/router";

const PAGE_SIZE = 20;

export function TenantsPage() {
  const client = useClient();
  const [creating, setCreating] = useState(false);
  const list = useCursorPages((after, signal) => tenants.list(client, { limit: PAGE_SIZE, after }, signal), [client]);
  const rows = list.page?.data ?? [];

  return (
    <>
      <PageHeader
        title="Tenants"
        description="Each tenant is one customer organization, mirrored as an organization in the identity provider."
        actions={
          <Button onClick={() => setCreating(true)}>
            <Plus aria-hidden="true" /> New tenant
          </Button>
        }
      />
      <Card>
        <CardContent className="pt-5">
          {list.error !== undefined ? (
            <ErrorAlert error={list.error} onRetry={list.reload} />
          ) : list.loading && !list.page ? (
            <LoadingRows label="Loading tenants" />
          ) : rows.length === 0 ? (
            <EmptyState title="No tenants yet">
              Create the first tenant to register apps and sign-in providers for it.
            </EmptyState>
          ) : (
            <>
              <Table aria-busy={list.loading}>
                <TableHeader>
                  <TableRow>
                    <TableHead>Name</TableHead>
                    <TableHead>Slug</TableHead>
                    <TableHead>Domains</TableHead>
                    <TableHead>Status</TableHead>
                    <TableHead>Sync</TableHead>
                    <TableHead>Created</TableHead>
                  </TableRow>
                </TableHeader>
                <TableBody>
                  {rows.map((t) => (
                    <TableRow key={t.id} data-tenant={t.slug}>
                      <TableCell className="font-medium">
                        <Link to={`/tenants/${t.id}`} className="hover:underline">
                          {t.name}
                        </Link>
                      </TableCell>
                      <TableCell className="font-mono text-xs">{t.slug}</TableCell>
                      <TableCell className="max-w-56 truncate text-muted-foreground" title={t.domains.join(", ")}>
                        {t.domains.length ? t.domains.join(", ") : "—"}
                      </TableCell>
                      <TableCell>
                        <Badge variant={t.status === "active" ? "secondary" : "warning"}>{t.status}</Badge>
                      </TableCell>
                      <TableCell>
                        <SyncBadge sync={t.sync} />
                      </TableCell>
                      <TableCell className="text-muted-foreground">{formatTime(t.created_at)}</TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
              <Pager
                label="Tenant"
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
      <CreateTenantDialog open={creating} onClose={() => setCreating(false)} />
    </>
  );
}

function CreateTenantDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const client = useClient();
  const toast = useToast();
  const [name, setName] = useState("");
  const [slug, setSlug] = useState("");
  const [slugEdited, setSlugEdited] = useState(false);
  const [domains, setDomains] = useState("");
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<unknown>(null);

  const reset = () => {
    setName("");
    setSlug("");
    setSlugEdited(false);
    setDomains("");
    setErrors({});
    setError(null);
    setBusy(false);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    setError(null);
    const domainList = splitList(domains);
    try {
      const tenant = await tenants.create(client, { name, slug, domains: domainList });
      toast({ title: "Tenant created", description: tenant.name, variant: "success" });
      reset();
      onClose();
      navigate(`/tenants/${tenant.id}`);
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError && err.field) {
        // `domains[2]` → show under the domains box, naming the entry.
        const m = /^domains\[(\d+)\]$/.exec(err.field);
        const entry = m ? domainList[Number(m[1])] : undefined;
        const key = m ? "domains" : err.field;
        if (["name", "slug", "domains"].includes(key)) {
          setErrors({ [key]: entry ? `${entry}: ${err.message}` : err.message });
          return;
        }
      }
      setError(err);
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
      title="New tenant"
      description="A customer organization. The slug is permanent and appears in URLs."
    >
      <form className="grid gap-4" onSubmit={submit} noValidate>
        <Field label="Name" error={errors.name}>
          <Input
            name="name"
            value={name}
            onChange={(e) => {
              setName(e.target.value);
              if (!slugEdited) setSlug(slugify(e.target.value));
            }}
            required
          />
        </Field>
        <Field label="Slug" error={errors.slug} hint="Lowercase letters, digits and hyphens.">
          <Input
            name="slug"
            value={slug}
            onChange={(e) => {
              setSlug(e.target.value);
              setSlugEdited(true);
            }}
            spellCheck={false}
            required
          />
        </Field>
        <Field label="Domains (optional)" error={errors.domains} hint="One per line, e.g. acme.example. Used for home-realm discovery.">
          <Textarea name="domains" value={domains} onChange={(e) => setDomains(e.target.value)} spellCheck={false} rows={3} />
        </Field>
        {error !== null && <ErrorAlert error={error} title="Could not create the tenant" />}
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
            Create tenant
          </Button>
        </DialogFooter>
      </form>
    </Dialog>
  );
}
