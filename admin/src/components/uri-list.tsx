import { Plus, X } from "lucide-react";
import { useId } from "react";

import { Button } from "@/components/ui/button";
import { FieldError } from "@/components/ui/field";
import { Input } from "@/components/ui/input";

interface UriListProps {
  label: string;
  /** One entry, for the remove buttons' names (default: "redirect URI"). */
  itemLabel?: string;
  hint?: string;
  /** The API's field name, e.g. `redirect_uris`; errors on `redirect_uris[i]` land on row i. */
  name: string;
  values: string[];
  onChange: (values: string[]) => void;
  /** Field errors keyed by API field path. */
  errors: Record<string, string>;
  placeholder?: string;
}

/** An editable list of URIs; each row shows its own validation error from the API. */
export function UriList({ label, itemLabel = "redirect URI", hint, name, values, onChange, errors, placeholder }: UriListProps) {
  const id = useId();
  const listError = errors[name];
  const rows = values.length ? values : [""];
  return (
    <fieldset className="grid gap-2" aria-describedby={hint ? `${id}-hint` : undefined}>
      <legend className="pb-1.5 text-sm font-medium">{label}</legend>
      {hint && (
        <p id={`${id}-hint`} className="-mt-1 text-xs text-muted-foreground">
          {hint}
        </p>
      )}
      {rows.map((value, i) => {
        const error = errors[`${name}[${i}]`];
        const inputId = `${id}-${i}`;
        return (
          <div key={i} className="grid gap-1">
            <div className="flex gap-2">
              <Input
                id={inputId}
                name={`${name}[${i}]`}
                aria-label={`${label} ${i + 1}`}
                aria-invalid={error ? true : undefined}
                aria-describedby={error ? `${inputId}-error` : undefined}
                value={value}
                placeholder={placeholder}
                spellCheck={false}
                inputMode="url"
                onChange={(e) => onChange(rows.map((v, j) => (j === i ? e.target.value : v)))}
              />
              <Button
                variant="ghost"
                size="icon"
                aria-label={`Remove ${itemLabel} ${i + 1}`}
                disabled={rows.length === 1 && !value}
                onClick={() => onChange(rows.filter((_, j) => j !== i))}
              >
                <X aria-hidden="true" />
              </Button>
            </div>
            {error && <FieldError id={`${inputId}-error`}>{error}</FieldError>}
          </div>
        );
      })}
      <div>
        <Button variant="outline" size="sm" onClick={() => onChange([...rows, ""])}>
          <Plus aria-hidden="true" /> Add URI
        </Button>
      </div>
      {listError && <FieldError>{listError}</FieldError>}
    </fieldset>
  );
}

/** The non-empty, trimmed entries, and a map from their index to the row they came from. */
export function compactUris(rows: string[]): { uris: string[]; rowOf: number[] } {
  const uris: string[] = [];
  const rowOf: number[] = [];
  rows.forEach((row, i) => {
    const value = row.trim();
    if (value) {
      uris.push(value);
      rowOf.push(i);
    }
  });
  return { uris, rowOf };
}

/**
 * Maps an API field such as `redirect_uris[1]` (an index into the compacted list sent) back to
 * the row the user sees, so the error shows under the right input.
 */
export function errorForRows(field: string, message: string, lists: Record<string, number[]>): Record<string, string> {
  const m = /^([a-z_]+)\[(\d+)\]$/.exec(field);
  if (m) {
    const rowOf = lists[m[1]!];
    if (rowOf) {
      const row = rowOf[Number(m[2])];
      if (row !== undefined) return { [`${m[1]}[${row}]`]: message };
    }
  }
  return { [field]: message };
}
