import { Check, Copy } from "lucide-react";
import { useEffect, useState } from "react";

import { Button, type ButtonProps } from "@/components/ui/button";

/** Copies `value` to the clipboard. Falls back to a hidden selection when the API is refused. */
async function copyText(value: string): Promise<boolean> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(value);
      return true;
    }
  } catch {
    // Permission refused (e.g. an unfocused or insecure page): try the legacy path.
  }
  const area = document.createElement("textarea");
  area.value = value;
  area.setAttribute("readonly", "");
  area.className = "fixed top-0 left-0 opacity-0";
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

type CopyButtonProps = Omit<ButtonProps, "onClick" | "children"> & { value: string; label?: string };

export function CopyButton({ value, label = "Copy", variant = "outline", size = "sm", ...props }: CopyButtonProps) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  useEffect(() => {
    if (state === "idle") return;
    const timer = window.setTimeout(() => setState("idle"), 2000);
    return () => window.clearTimeout(timer);
  }, [state]);
  return (
    <Button
      variant={variant}
      size={size}
      onClick={async () => setState((await copyText(value)) ? "copied" : "failed")}
      {...props}
    >
      {state === "copied" ? <Check aria-hidden="true" /> : <Copy aria-hidden="true" />}
      <span aria-live="polite">
        {state === "copied" ? "Copied" : state === "failed" ? "Select and copy it by hand" : label}
      </span>
    </Button>
  );
}
