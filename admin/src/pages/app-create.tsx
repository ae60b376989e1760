import { useState, type FormEvent } from "react";

import { ErrorAlert } from "@/components/error-alert";
import { PageHeader } from "@/components/page-header";
import { SecretDialog } from "@/components/secret-dialog";
import { compactUris, errorForRows, UriList } from "@/components/uri-list";
import { Button, ButtonLink } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Checkbox, Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { useToast } from "@/components/ui/toast";
import { useAsync } from "@/hooks/use-async";
import { ApiError } from "@/lib/api";
import { useClient } from "@/lib/auth";
import { apps, tenants } from "@/lib/resources";
import { Link, navigate } from "@/lib/router";
import type { AppType, AppWithSecret } from "@/lib/types";
import { cn } from "@/lib/utils";

export const APP_TYPES: { value: AppType; title: string; description: string }[] = [
  { value: "web", title: "Web", description: "A server-side app that can keep a client secret." },
  { value: "spa", title: "Single-page app", description: "A browser app: public client, PKCE, no secret." },
  { value: "native", title: "Native", description: "A mobile or desktop app: public client, custom schemes allowed." },
];

const FORM_FIELDS = new Set(["name", "type", "dev_mode"]);

export function AppCreatePage({ tenantId }: { tenantId: string }) {
  const client = useClient();
  const toast = useToast();
  const tenant = useAsync((signal) => tenants.get(client, tenantId, signal), [client, tenantId]);
  const [name, setName] = useState("");
  const [type, setType] = useState<AppType>("web");
  const [redirects, setRedirects] = useState<string[]>([""]);
  const [logouts, setLogouts] = useState<string[]>([""]);
  const [devMode, setDevMode] = useState(false);
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<AppWithSecret | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    setError(null);
    const r = compactUris(redirects);
    const l = compactUris(logouts);
    try {
      const app = await apps.create(client, tenantId, {
        name,
        type,
        redirect_uris: r.uris,
        post_logout_redirect_uris: l.uris,
        dev_mode: devMode,
      });
      if (app.client_secret) {
        // Shown once in the dialog; the page moves on when the admin confirms they stored it.
        setCreated(app);
      } else {
        toast({
          title: "App created",
          description:
            app.type === "web" && !app.client_id
              ? "Its client id and secret are issued once it syncs with the identity provider."
              : app.name,
          variant: "success",
        });
        navigate(`/tenants/${tenantId}/apps/${app.id}`, { replace: true });
      }
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError && err.field) {
        const mapped = errorForRows(err.field, err.message, {
          redirect_uris: r.rowOf,
          post_logout_redirect_uris: l.rowOf,
        });
        const key = Object.keys(mapped)[0]!;
        if (FORM_FIELDS.has(key) || key.startsWith("redirect_uris") || key.startsWith("post_logout_redirect_uris")) {
          setErrors(mapped);
          return;
        }
      }
      setError(err);
    }
  };

  const tenantName = tenant.data?.name ?? "Tenant";
  return (
    <>
      <PageHeader
        eyebrow={
          <span className="flex gap-1.5">
            <Link to="/tenants" className="hover:underline">
              Tenants
            </Link>
            /
            <Link to={`/tenants/${tenantId}`} className="hover:underline">
              {tenantName}
            </Link>
          </span>
        }
        title="New app"
        description="Register an application that signs users in through this tenant."
      />
      {tenant.error !== undefined ? (
        <ErrorAlert error={tenant.error} onRetry={tenant.reload} />
      ) : (
        <Card className="max-w-3xl">
          <CardContent className="pt-5">
            <form className="grid gap-6" onSubmit={submit} noValidate>
              <Field label="Name" error={errors.name}>
                <Input name="name" value={name} onChange={(e) => setName(e.target.value)} autoFocus required />
              </Field>
              <fieldset className="grid gap-2">
                <legend className="pb-1.5 text-sm font-medium">Type</legend>
                <div className="grid gap-2 sm:grid-cols-3">
                  {APP_TYPES.map((t) => (
                    <label
                      key={t.value}
                      className={cn(
                        "flex cursor-pointer flex-col gap-1 rounded-lg border p-3 text-sm transition-colors hover:bg-accent has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-ring",
                        type === t.value && "border-primary bg-accent",
                      )}
                    >
                      <span className="flex items-center gap-2 font-medium">
                        <input
                          type="radio"
                          name="type"
                          value={t.value}
                          checked={type === t.value}
                          onChange={() => setType(t.value)}
                          className="accent-primary"
                        />
                        {t.title}
                      </span>
                      <span className="text-xs text-muted-foreground">{t.description}</span>
                    </label>
                  ))}
                </div>
                {errors.type && <p className="text-xs font-medium text-destructive">{errors.type}</p>}
              </fieldset>
              <UriList
                label="Redirect URIs"
                name="redirect_uris"
                hint="Where the identity provider may send users after sign-in. https, or http on localhost; custom schemes for native apps."
                placeholder="https://app.example.com/callback"
                values={redirects}
                onChange={setRedirects}
                errors={errors}
              />
              <UriList
                label="Post-logout redirect URIs"
                itemLabel="post-logout URI"
                name="post_logout_redirect_uris"
                hint="Where users may land after signing out (optional)."
                placeholder="https://app.example.com/"
                values={logouts}
                onChange={setLogouts}
                errors={errors}
              />
              <div className="flex items-start gap-2">
                <Checkbox id="dev-mode" checked={devMode} onChange={(e) => setDevMode(e.target.checked)} className="mt-0.5" />
                <div className="grid gap-1">
                  <Label htmlFor="dev-mode">Development mode</Label>
                  <p className="text-xs text-muted-foreground">Allows plain http and wildcards in redirect URIs. Never for production.</p>
                </div>
              </div>
              {error !== null && <ErrorAlert error={error} title="Could not create the app" />}
              <div className="flex gap-2">
                <Button type="submit" loading={busy}>
                  Create app
                </Button>
                <ButtonLink to={`/tenants/${tenantId}`} variant="outline">
                  Cancel
                </ButtonLink>
              </div>
            </form>
          </CardContent>
        </Card>
      )}
      <SecretDialog
        secret={created?.client_secret ?? null}
        title="App created"
        what="client secret"
        details={created?.client_id ? [{ label: "Client id", value: created.client_id }] : []}
        onDone={() => {
          const id = created?.id;
          setCreated(null);
          if (id) navigate(`/tenants/${tenantId}/apps/${id}`, { replace: true });
        }}
      />
    </>
  );
}
