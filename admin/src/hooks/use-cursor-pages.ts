import { useCallback, useState, type DependencyList } from "react";

import type { Page } from "@/lib/types";

import { useAsync } from "./use-async";

export interface CursorPages<T> {
  page: Page<T> | undefined;
  error: unknown;
  loading: boolean;
  /** 1-based number of the page shown. */
  pageNumber: number;
  hasPrevious: boolean;
  hasNext: boolean;
  previous: () => void;
  next: () => void;
  /** Reloads the page shown. */
  reload: () => void;
  /** Back to the first page (e.g. after creating an object). */
  first: () => void;
}

/**
 * Cursor paging over a WorkOS-style list: the cursors of the pages visited are kept in a stack,
 * so "Previous" returns to exactly the page seen before. Changing `deps` starts over.
 */
export function useCursorPages<T>(
  load: (after: string | null, signal: AbortSignal) => Promise<Page<T>>,
  deps: DependencyList,
): CursorPages<T> {
  const [stack, setStack] = useState<(string | null)[]>([null]);
  const [depsKey, setDepsKey] = useState(() => JSON.stringify(deps));
  const key = JSON.stringify(deps);
  // Inputs changed: forget the cursors (they belong to the old query).
  let cursors = stack;
  if (key !== depsKey) {
    cursors = [null];
    setDepsKey(key);
    setStack(cursors);
  }
  const cursor = cursors[cursors.length - 1] ?? null;
  const state = useAsync((signal) => load(cursor, signal), [key, cursor]);
  const after = state.data?.list_metadata.after ?? null;

  const next = useCallback(() => {
    if (after) setStack((s) => [...s, after]);
  }, [after]);
  const previous = useCallback(() => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)), []);
  const first = useCallback(() => {
    setStack([null]);
    state.reload();
  }, [state]);

  return {
    page: state.data,
    error: state.error,
    loading: state.loading,
    pageNumber: cursors.length,
    hasPrevious: cursors.length > 1,
    hasNext: Boolean(after) && !state.loading,
    previous,
    next,
    reload: state.reload,
    first,
  };
}
