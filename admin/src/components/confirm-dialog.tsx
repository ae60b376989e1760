import { useState, type ReactNode } from "react";

import { Button } from "@/components/ui/button";
import { Dialog, DialogFooter } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Field } from "@/components/ui/field";

import { ErrorAlert } from "./error-alert";

interface ConfirmDialogProps {
  open: boolean;
  title: string;
  description: ReactNode;
  confirmLabel: string;
  /** When set, the user must type this text to enable the confirm button. */
  typeToConfirm?: string;
  destructive?: boolean;
  onCancel: () => void;
  /** Runs the action; a thrown error is shown in the dialog, which stays open. */
  onConfirm: () => Promise<void>;
}

export function ConfirmDialog({
  open,
  title,
  description,
  confirmLabel,
  typeToConfirm,
  destructive = true,
  onCancel,
  onConfirm,
}: ConfirmDialogProps) {
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const reset = () => {
    setTyped("");
    setError(null);
    setBusy(false);
  };
  const cancel = () => {
    if (busy) return;
    reset();
    onCancel();
  };
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      reset();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const blocked = typeToConfirm !== undefined && typed !== typeToConfirm;
  return (
    <Dialog open={open} onClose={cancel} title={title} role="alertdialog" dismissible={!busy}>
      <div className="text-sm text-muted-foreground">{description}</div>
      {typeToConfirm !== undefined && (
        <Field label={<>Type <code className="font-mono">{typeToConfirm}</code> to confirm</>}>
          <Input value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" spellCheck={false} />
        </Field>
      )}
      {error !== null && <ErrorAlert error={error} />}
      <DialogFooter>
        <Button variant="outline" onClick={cancel} disabled={busy} data-autofocus="">
          Cancel
        </Button>
        <Button variant={destructive ? "destructive" : "default"} onClick={confirm} loading={busy} disabled={blocked}>
          {confirmLabel}
        </Button>
      </DialogFooter>
    </Dialog>
  );
}
