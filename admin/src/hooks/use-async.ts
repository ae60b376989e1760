import { useCallback, useEffect, useRef, useState, type DependencyList } from "react";

export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again with the same inputs (keeps the current data while loading). */
  reload: () => void;
  /** Replaces the data locally, e.g. after a mutation returned the new object. */
  setData: (data: T) => void;
}

function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}

/**
 * Runs `load` whenever `deps` change, aborting the previous run, and tracks its result.
 * Results of superseded runs are dropped.
 */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: DependencyList): AsyncState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const controller = new AbortController();
    let current = true;
    setLoading(true);
    setError(undefined);
    loadRef.current(controller.signal).then(
      (value) => {
        if (!current) return;
        setData(value);
        setLoading(false);
      },
      (err: unknown) => {
        if (!current || isAbort(err)) return;
        setError(err);
        setLoading(false);
      },
    );
    return () => {
      current = false;
      controller.abort();
    };
  }, [...deps, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  const set = useCallback((value: T) => setData(value), []);
  return { data, error, loading, reload, setData: set };
}
