import { Eye, Pencil, RefreshCw, RotateCcw, Trash2 } from "lucide-react";
import { useState, type FormEvent } from "react";

import { ConfirmDialog } from "@/components/confirm-dialog";
import { CopyButton } from "@/components/copy-button";
import { ErrorAlert } from "@/components/error-alert";
import { LoadingRows } from "@/components/loading";
import { PageHeader } from "@/components/page-header";
import { SecretDialog } from "@/components/secret-dialog";
import { SyncBadge } from "@/components/sync-badge";
import { SyncDetails } from "@/components/sync-details";
import { compactUris, errorForRows, UriList } from "@/components/uri-list";
import { Alert, AlertDescription } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { useToast } from "@/components/ui/toast";
import { useAsync } from "@/hooks/use-async";
import { ApiError } from "@/lib/api";
import { useClient } from "@/lib/auth";
import { formatTime } from "@/lib/format";
import { apps, tenants } from "@/lib/resources";
import { Link, navigate } from "@/lib/router";
import type { App } from "@/lib/types";

export function AppDetailPage({ tenantId, appId }: { tenantId: string; appId: string }) {
  const client = useClient();
  const toast = useToast();
  const app = useAsync((signal) => apps.get(client, tenantId, appId, signal), [client, tenantId, appId]);
  const tenant = useAsync((signal) => tenants.get(client, tenantId, signal), [client, tenantId]);
  const [secret, setSecret] = useState<{ value: string; title: string } | null>(null);
  const [rotating, setRotating] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [revealing, setRevealing] = useState(false);
  const [secretError, setSecretError] = useState<unknown>(null);
  const [editing, setEditing] = useState(false);
  const a = app.data;

  const eyebrow = (
    <span className="flex gap-1.5">
      <Link to="/tenants" className="hover:underline">
        Tenants
      </Link>
      /
      <Link to={`/tenants/${tenantId}`} className="hover:underline">
        {tenant.data?.name ?? "Tenant"}
      </Link>
    </span>
  );

  if (app.error !== undefined) {
    return (
      <>
        <PageHeader title="App" eyebrow={eyebrow} />
        <ErrorAlert error={app.error} onRetry={app.reload} />
      </>
    );
  }
  if (!a) return <LoadingRows rows={4} label="Loading app" />;

  const reveal = async () => {
    setRevealing(true);
    setSecretError(null);
    try {
      const result = await apps.revealSecret(client, tenantId, appId);
      setSecret({ value: result.client_secret, title: "Client secret" });
    } catch (err) {
      setSecretError(err);
    } finally {
      setRevealing(false);
    }
  };

  return (
    <>
      <PageHeader
        eyebrow={eyebrow}
        title={a.name}
        description={
          <span className="flex flex-wrap items-center gap-2">
            <Badge variant="outline">{a.type}</Badge>
            {a.dev_mode && <Badge variant="warning">dev mode</Badge>}
            <SyncBadge sync={a.sync} />
          </span>
        }
        actions={
          <Button variant="outline" onClick={app.reload} loading={app.loading}>
            <RefreshCw aria-hidden="true" /> Refresh
          </Button>
        }
      />
      <div className="grid gap-4 lg:grid-cols-[1fr_22rem]">
        <div className="grid content-start gap-4">
          <Card>
            <CardHeader>
              <CardTitle>Credentials</CardTitle>
              <CardDescription>What the application needs to start a sign-in.</CardDescription>
            </CardHeader>
            <CardContent className="grid gap-4">
              <div className="grid gap-1">
                <span className="text-xs font-medium text-muted-foreground">Client id</span>
                {a.client_id ? (
                  <div className="flex items-center gap-2">
                    <code className="rounded-md bg-muted px-3 py-2 font-mono text-sm break-all" data-client-id="">
                      {a.client_id}
                    </code>
                    <CopyButton value={a.client_id} label="Copy" />
                  </div>
                ) : (
                  <p className="text-sm text-muted-foreground">Issued once the app syncs with the identity provider.</p>
                )}
              </div>
              {a.type === "web" && (
                <div className="grid gap-2" data-secret-status={a.has_client_secret ? "issued" : "none"}>
                  <span className="text-xs font-medium text-muted-foreground">Client secret</span>
                  {a.has_client_secret ? (
                    <p className="text-sm">
                      <span aria-hidden="true" className="font-mono tracking-widest">
                        ••••••••••••
                      </span>{" "}
                      <span className="text-muted-foreground">
                        Each secret is shown once. If this one was never shown (it was issued after the app was
                        created), reveal it; otherwise rotate to get a new one.
                      </span>
                    </p>
                  ) : (
                    <p className="text-sm text-muted-foreground">
                      Not issued yet: the identity provider issues it when the app syncs. Then reveal it here, once.
                    </p>
                  )}
                  {secretError !== null && <ErrorAlert error={secretError} title="No secret to show" />}
                  <div className="flex flex-wrap gap-2">
                    {a.has_client_secret && (
                      <Button variant="outline" onClick={reveal} loading={revealing}>
                        <Eye aria-hidden="true" /> Reveal secret
                      </Button>
                    )}
                    <Button variant="outline" onClick={() => setRotating(true)}>
                      <RotateCcw aria-hidden="true" /> Rotate secret
                    </Button>
                  </div>
                </div>
              )}
              {a.type !== "web" && (
                <p className="text-sm text-muted-foreground">
                  {a.type === "spa" ? "Single-page apps" : "Native apps"} are public clients: they use PKCE and have no
                  client secret.
                </p>
              )}
            </CardContent>
          </Card>
          <UrisCard app={a} tenantId={tenantId} editing={editing} setEditing={setEditing} onSaved={app.setData} />
        </div>
        <div className="grid content-start gap-4">
          <Card>
            <CardHeader>
              <CardTitle>Details</CardTitle>
            </CardHeader>
            <CardContent>
              <dl className="grid grid-cols-[6rem_1fr] gap-x-4 gap-y-2 text-sm">
                <dt className="text-muted-foreground">Id</dt>
                <dd className="font-mono text-xs break-all">{a.id}</dd>
                <dt className="text-muted-foreground">Created</dt>
                <dd>{formatTime(a.created_at)}</dd>
                <dt className="text-muted-foreground">Updated</dt>
                <dd>{formatTime(a.updated_at)}</dd>
              </dl>
            </CardContent>
          </Card>
          <Card>
            <CardHeader>
              <CardTitle>Identity provider sync</CardTitle>
            </CardHeader>
            <CardContent>
              <SyncDetails sync={a.sync} />
            </CardContent>
          </Card>
          <Card className="border-destructive/40">
            <CardHeader>
              <CardTitle>Delete app</CardTitle>
              <CardDescription>Its users can no longer sign in through it.</CardDescription>
            </CardHeader>
            <CardContent>
              <Button variant="destructive" onClick={() => setDeleting(true)}>
                <Trash2 aria-hidden="true" /> Delete app
              </Button>
            </CardContent>
          </Card>
        </div>
      </div>

      <ConfirmDialog
        open={rotating}
        title="Rotate the client secret?"
        description="The identity provider issues a new secret and the current one stops working. Update the application right after."
        confirmLabel="Rotate secret"
        onCancel={() => setRotating(false)}
        onConfirm={async () => {
          const result = await apps.rotateSecret(client, tenantId, appId);
          setRotating(false);
          const { client_secret, ...rest } = result;
          app.setData(rest);
          setSecretError(null);
          if (client_secret) setSecret({ value: client_secret, title: "New client secret" });
          else
            toast({
              title: "Rotation requested",
              description: "The new secret is issued when the app syncs; reveal it here then.",
            });
        }}
      />
      <ConfirmDialog
        open={deleting}
        title={`Delete ${a.name}?`}
        description="This removes the app here and in the identity provider. It cannot be undone."
        confirmLabel="Delete app"
        typeToConfirm={a.name}
        onCancel={() => setDeleting(false)}
        onConfirm={async () => {
          await apps.remove(client, tenantId, appId);
          setDeleting(false);
          toast({ title: "App deleted", description: a.name, variant: "success" });
          navigate(`/tenants/${tenantId}`, { replace: true });
        }}
      />
      <SecretDialog
        secret={secret?.value ?? null}
        title={secret?.title ?? ""}
        what="client secret"
        details={a.client_id ? [{ label: "Client id", value: a.client_id }] : []}
        onDone={() => setSecret(null)}
      />
    </>
  );
}

function UrisCard({
  app,
  tenantId,
  editing,
  setEditing,
  onSaved,
}: {
  app: App;
  tenantId: string;
  editing: boolean;
  setEditing: (editing: boolean) => void;
  onSaved: (app: App) => void;
}) {
  const client = useClient();
  const toast = useToast();
  const [redirects, setRedirects] = useState<string[]>(app.redirect_uris);
  const [logouts, setLogouts] = useState<string[]>(app.post_logout_redirect_uris);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const start = () => {
    setRedirects(app.redirect_uris.length ? app.redirect_uris : [""]);
    setLogouts(app.post_logout_redirect_uris.length ? app.post_logout_redirect_uris : [""]);
    setErrors({});
    setError(null);
    setEditing(true);
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    const r = compactUris(redirects);
    const l = compactUris(logouts);
    setBusy(true);
    setErrors({});
    setError(null);
    try {
      const saved = await apps.update(client, tenantId, app.id, {
        redirect_uris: r.uris,
        post_logout_redirect_uris: l.uris,
      });
      onSaved(saved);
      setEditing(false);
      toast({ title: "Redirect URIs saved", variant: "success" });
    } catch (err) {
      if (err instanceof ApiError && err.field && /^(post_logout_)?redirect_uris/.test(err.field)) {
        setErrors(errorForRows(err.field, err.message, { redirect_uris: r.rowOf, post_logout_redirect_uris: l.rowOf }));
      } else {
        setError(err);
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card>
      <CardHeader className="flex-row items-start justify-between">
        <div className="grid gap-1.5">
          <CardTitle>Redirect URIs</CardTitle>
          <CardDescription>Checked by the identity provider on every sign-in.</CardDescription>
        </div>
        {!editing && (
          <Button variant="outline" size="sm" onClick={start}>
            <Pencil aria-hidden="true" /> Edit
          </Button>
        )}
      </CardHeader>
      <CardContent>
        {editing ? (
          <form className="grid gap-5" onSubmit={save} noValidate>
            <UriList label="Redirect URIs" name="redirect_uris" values={redirects} onChange={setRedirects} errors={errors} />
            <UriList
              label="Post-logout redirect URIs"
                itemLabel="post-logout URI"
              name="post_logout_redirect_uris"
              values={logouts}
              onChange={setLogouts}
              errors={errors}
            />
            {error !== null && <ErrorAlert error={error} title="Could not save" />}
            <div className="flex gap-2">
              <Button type="submit" loading={busy}>
                Save
              </Button>
              <Button variant="outline" onClick={() => setEditing(false)} disabled={busy}>
                Cancel
              </Button>
            </div>
          </form>
        ) : (
          <div className="grid gap-4 text-sm">
            <UriView title="Sign-in" uris={app.redirect_uris} />
            <UriView title="Post-logout" uris={app.post_logout_redirect_uris} />
            {app.redirect_uris.length === 0 && (
              <Alert variant="warning">
                <AlertDescription>No redirect URI yet: sign-ins through this app will be refused.</AlertDescription>
              </Alert>
            )}
          </div>
        )}
      </CardContent>
    </Card>
  );
}

function UriView({ title, uris }: { title: string; uris: string[] }) {
  return (
    <div className="grid gap-1">
      <span className="text-xs font-medium text-muted-foreground">{title}</span>
      {uris.length ? (
        <ul className="grid gap-1">
          {uris.map((u) => (
            <li key={u} className="font-mono text-xs break-all">
              {u}
            </li>
          ))}
        </ul>
      ) : (
        <span className="text-muted-foreground">—</span>
      )}
    </div>
  );
}
