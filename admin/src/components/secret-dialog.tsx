import { KeyRound, TriangleAlert } from "lucide-react";
import { useId, useState } from "react";

import { Alert, AlertDescription } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Dialog, DialogFooter } from "@/components/ui/dialog";
import { Checkbox } from "@/components/ui/input";
import { Label } from "@/components/ui/label";

import { CopyButton } from "./copy-button";

interface SecretDialogProps {
  /** The secret to show; `null` closes the dialog. */
  secret: string | null;
  title: string;
  /** What the secret is, e.g. "client secret" or "API key". */
  what: string;
  /** Non-secret context shown above it (e.g. the client id). */
  details?: { label: string; value: string }[];
  onDone: () => void;
}

/**
 * Shows a newly issued secret exactly once. The caller drops the secret from its state in
 * `onDone`; the dialog renders nothing once closed, so the value leaves the page with it.
 */
export function SecretDialog({ secret, title, what, details = [], onDone }: SecretDialogProps) {
  const [stored, setStored] = useState(false);
  const checkId = useId();
  const close = () => {
    setStored(false);
    onDone();
  };
  return (
    <Dialog
      open={secret !== null}
      onClose={close}
      dismissible={false}
      title={
        <span className="flex items-center gap-2">
          <KeyRound className="size-5" aria-hidden="true" /> {title}
        </span>
      }
      description={`Copy the ${what} now and keep it somewhere safe.`}
    >
      <Alert variant="warning">
        <TriangleAlert aria-hidden="true" />
        <AlertDescription>
          <p>
            <strong>You will not see this again.</strong> Gatehouse keeps only an encrypted or hashed copy
            and will not show this {what} a second time. If you lose it, issue a new one.
          </p>
        </AlertDescription>
      </Alert>
      {details.map((d) => (
        <div key={d.label} className="grid gap-1">
          <span className="text-xs font-medium text-muted-foreground">{d.label}</span>
          <code className="rounded-md bg-muted px-3 py-2 font-mono text-sm break-all">{d.value}</code>
        </div>
      ))}
      {secret !== null && (
        <div className="grid gap-1">
          <span className="text-xs font-medium text-muted-foreground">{what[0]?.toUpperCase() + what.slice(1)}</span>
          <div className="flex items-center gap-2">
            <code
              data-secret=""
              className="flex-1 rounded-md border bg-muted px-3 py-2 font-mono text-sm break-all select-all"
            >
              {secret}
            </code>
            <CopyButton value={secret} label="Copy" data-autofocus="" />
          </div>
        </div>
      )}
      <div className="flex items-center gap-2">
        <Checkbox id={checkId} checked={stored} onChange={(e) => setStored(e.target.checked)} />
        <Label htmlFor={checkId} className="font-normal">
          I have copied the {what} and stored it safely
        </Label>
      </div>
      <DialogFooter>
        <Button onClick={close} disabled={!stored}>
          Done
        </Button>
      </DialogFooter>
    </Dialog>
  );
}
