import { KeyRound, LogIn, ShieldCheck } from "lucide-react";
import { useState, type FormEvent } from "react";

import { ErrorAlert } from "@/components/error-alert";
import { Alert, AlertDescription } from "@/components/ui/alert";
import { Button, buttonVariants } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input } from "@/components/ui/input";
import { ApiError } from "@/lib/api";
import { sessionLoginHref, useAuth } from "@/lib/auth";

export function SignInPage({ notice }: { notice?: string | undefined }) {
  const { signIn } = useAuth();
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(token);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  const fieldError =
    error instanceof ApiError && (error.field === "token" || error.status === 401)
      ? error.status === 401
        ? "This key was refused: it is unknown or revoked."
        : error.message
      : undefined;

  return (
    <main className="flex min-h-screen items-center justify-center bg-muted/40 px-4 py-12">
      <Card className="w-full max-w-md">
        <CardHeader>
          <div className="mb-2 flex size-10 items-center justify-center rounded-lg bg-primary text-primary-foreground">
            <ShieldCheck className="size-5" aria-hidden="true" />
          </div>
          <CardTitle>
            <span className="text-xl">Sign in to Gatehouse</span>
          </CardTitle>
          <CardDescription>
            Paste an API key, or the bootstrap credential that <code className="font-mono">gatehouse serve</code>{" "}
            printed on its first start. Platform admins can also sign in through the identity provider.
          </CardDescription>
        </CardHeader>
        <CardContent>
          <form className="grid gap-4" onSubmit={submit} noValidate>
            {notice && (
              <Alert role="status">
                <AlertDescription>{notice}</AlertDescription>
              </Alert>
            )}
            <Field
              label="API key"
              error={fieldError}
              hint="Kept in this browser tab only (session storage) and forgotten when you close the tab or sign out."
            >
              <Input
                type="password"
                name="token"
                autoComplete="off"
                spellCheck={false}
                placeholder="ghk_…"
                value={token}
                onChange={(e) => setToken(e.target.value)}
                autoFocus
              />
            </Field>
            {error !== null && !fieldError && <ErrorAlert error={error} title="Could not sign in" />}
            <Button type="submit" loading={busy} className="w-full">
              <LogIn aria-hidden="true" /> Sign in
            </Button>
          </form>
          <div className="my-5 flex items-center gap-3 text-xs text-muted-foreground" aria-hidden="true">
            <span className="h-px flex-1 bg-border" /> or <span className="h-px flex-1 bg-border" />
          </div>
          {/* A full-page navigation: the server redirects to the IdP and back with a session cookie. */}
          <a href={sessionLoginHref()} className={buttonVariants({ variant: "outline", className: "w-full" })} data-sso="">
            <KeyRound aria-hidden="true" /> Sign in with your identity provider
          </a>
        </CardContent>
      </Card>
    </main>
  );
}
