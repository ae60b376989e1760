import { CircleAlert } from "lucide-react";

import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { ApiError, messageOf } from "@/lib/api";

/** An API error as the admin should see it: the message, the field to fix, and the request id. */
export function ErrorAlert({ error, title, onRetry }: { error: unknown; title?: string; onRetry?: () => void }) {
  const api = error instanceof ApiError ? error : null;
  return (
    <Alert variant="destructive" role="alert" data-api-error={api?.code ?? "error"}>
      <CircleAlert aria-hidden="true" />
      <AlertTitle>{title ?? (api?.status === 403 ? "Not allowed" : api?.status === 404 ? "Not found" : "Something went wrong")}</AlertTitle>
      <AlertDescription>
        <p>{messageOf(error)}</p>
        {api?.field && (
          <p>
            Field: <code className="font-mono text-xs">{api.field}</code>
          </p>
        )}
        {api && api.status >= 500 && api.requestId && (
          <p className="text-xs">
            Request id: <code className="font-mono">{api.requestId}</code>
          </p>
        )}
        {onRetry && (
          <div className="pt-2">
            <Button size="sm" variant="outline" onClick={onRetry}>
              Try again
            </Button>
          </div>
        )}
      </AlertDescription>
    </Alert>
  );
}
