import { X } from "lucide-react";
import { useEffect, useId, useRef, type HTMLAttributes, type ReactNode } from "react";

import { cn } from "@/lib/utils";

interface DialogProps {
  open: boolean;
  /** Called when the user dismisses the dialog (Esc, the close button, a click outside). */
  onClose: () => void;
  title: ReactNode;
  description?: ReactNode;
  /** `false`: Esc, outside clicks and the close button do nothing (the content decides). */
  dismissible?: boolean;
  className?: string;
  children: ReactNode;
  /** Rendered as the dialog's role: `alertdialog` for confirmations. */
  role?: "dialog" | "alertdialog";
}

/**
 * A modal on the native `<dialog>` element: the browser traps focus, makes the page behind it
 * inert and returns focus to the opener on close. The content is only rendered while open, so a
 * secret shown in a dialog leaves the DOM when the dialog closes.
 */
export function Dialog({ open, onClose, title, description, dismissible = true, className, children, role }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const descriptionId = useId();
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;
  const dismissibleRef = useRef(dismissible);
  dismissibleRef.current = dismissible;

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      if (typeof dialog.showModal === "function") dialog.showModal();
      else dialog.setAttribute("open", "");
      // showModal focuses the first focusable element (often the close button); start at the
      // element marked `data-autofocus`, else the first form field, as a form dialog should.
      const first = dialog.querySelector<HTMLElement>(
        "[data-autofocus], input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])",
      );
      first?.focus();
    } else if (!open && dialog.open) {
      if (typeof dialog.close === "function") dialog.close();
      else dialog.removeAttribute("open");
    }
  }, [open]);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const onCancel = (event: Event) => {
      // Esc: the parent owns `open`, so never let the browser close the dialog by itself.
      event.preventDefault();
      if (dismissibleRef.current) onCloseRef.current();
    };
    dialog.addEventListener("cancel", onCancel);
    return () => dialog.removeEventListener("cancel", onCancel);
  }, []);

  return (
    <dialog
      ref={ref}
      role={role}
      aria-labelledby={titleId}
      aria-describedby={description ? descriptionId : undefined}
      aria-modal="true"
      onClick={(event) => {
        // A click on the backdrop lands on the <dialog> itself, outside its content box.
        if (event.target === ref.current && dismissible) onClose();
      }}
      className={cn(
        "m-auto w-[calc(100%-2rem)] max-w-lg rounded-xl border bg-popover p-0 text-popover-foreground shadow-lg",
        className,
      )}
    >
      {open && (
        <div className="grid gap-4 p-6">
          <div className="flex items-start justify-between gap-4">
            <div className="grid gap-1.5">
              <h2 id={titleId} className="text-lg font-semibold leading-none tracking-tight">
                {title}
              </h2>
              {description && (
                <p id={descriptionId} className="text-sm text-muted-foreground">
                  {description}
                </p>
              )}
            </div>
            {dismissible && (
              <button
                type="button"
                onClick={onClose}
                className="rounded-sm p-1 text-muted-foreground opacity-70 transition-opacity hover:opacity-100 focus-visible:outline-2 focus-visible:outline-ring"
                aria-label="Close"
              >
                <X className="size-4" aria-hidden="true" />
              </button>
            )}
          </div>
          {children}
        </div>
      )}
    </dialog>
  );
}

export function DialogFooter({ className, ...props }: HTMLAttributes<HTMLDivElement>) {
  return <div className={cn("flex flex-col-reverse gap-2 sm:flex-row sm:justify-end", className)} {...props} />;
}
