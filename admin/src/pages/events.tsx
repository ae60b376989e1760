import { ChevronDown, ChevronRight, Pause, Play, RefreshCw } from "lucide-react";
import { Fragment, useCallback, useEffect, useRef, useState, type FormEvent } from "react";

import { CopyButton } from "@/components/copy-button";
import { ErrorAlert } from "@/components/error-alert";
import { LoadingRows } from "@/components/loading";
import { EmptyState, PageHeader } from "@/components/page-header";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { Input, Select } from "@/components/ui/input";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { useClient } from "@/lib/auth";
import { formatTime } from "@/lib/format";
import { events as eventsApi } from "@/lib/resources";
import { navigate, useLocation } from "@/lib/router";
import type { GatehouseEvent } from "@/lib/types";

const PAGE = 100;
const FOLLOW_INTERVAL_MS = 3000;
/** Events kept on screen; older ones scroll off (the cursor still resumes exactly). */
const MAX_SHOWN = 500;

const WINDOWS: Record<string, { label: string; hours: number | null }> = {
  "1h": { label: "Last hour", hours: 1 },
  "24h": { label: "Last 24 hours", hours: 24 },
  "7d": { label: "Last 7 days", hours: 24 * 7 },
  all: { label: "From the beginning", hours: null },
};

export function EventsPage() {
  const client = useClient();
  const { search } = useLocation();
  const types = search.get("types") ?? "";
  const windowKey = WINDOWS[search.get("from") ?? ""] ? (search.get("from") as string) : "24h";
  const [items, setItems] = useState<GatehouseEvent[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(undefined);
  const [following, setFollowing] = useState(false);
  const [open, setOpen] = useState<string | null>(null);
  const busy = useRef(false);
  const generation = useRef(0);

  const hours = WINDOWS[windowKey]!.hours;

  /** Reads every page after `after`, appending; returns when the feed's end is reached. */
  const pull = useCallback(
    async (after: string | null, gen: number, since: string | undefined) => {
      let next = after;
      for (let i = 0; i < 20; i++) {
        const page = await eventsApi.list(client, { ...(types ? { types } : {}), ...(since ? { since } : {}) }, { limit: PAGE, after: next });
        if (gen !== generation.current) return;
        if (page.data.length) setItems((all) => [...all, ...page.data].slice(-MAX_SHOWN));
        const moved = page.list_metadata.after ?? next;
        setCursor(moved);
        if (page.data.length < PAGE || moved === next) return;
        next = moved;
      }
    },
    [client, types],
  );

  // Start over whenever the filters change.
  useEffect(() => {
    const gen = ++generation.current;
    setItems([]);
    setCursor(null);
    setError(undefined);
    setLoading(true);
    const since = hours === null ? undefined : new Date(Date.now() - hours * 3600_000).toISOString();
    busy.current = true;
    pull(null, gen, since)
      .catch((err: unknown) => gen === generation.current && setError(err))
      .finally(() => {
        if (gen === generation.current) {
          setLoading(false);
          busy.current = false;
        }
      });
  }, [pull, hours]);

  const refresh = useCallback(async () => {
    if (busy.current) return;
    busy.current = true;
    const gen = generation.current;
    try {
      setError(undefined);
      // After the cursor the time window no longer matters: everything newer is wanted.
      await pull(cursor, gen, cursor ? undefined : hours === null ? undefined : new Date(Date.now() - hours * 3600_000).toISOString());
    } catch (err) {
      if (gen === generation.current) {
        setError(err);
        setFollowing(false);
      }
    } finally {
      busy.current = false;
    }
  }, [pull, cursor, hours]);

  useEffect(() => {
    if (!following) return;
    const timer = window.setInterval(() => void refresh(), FOLLOW_INTERVAL_MS);
    return () => window.clearInterval(timer);
  }, [following, refresh]);

  const newestFirst = [...items].reverse();

  return (
    <>
      <PageHeader
        title="Events"
        description="The normalized events feed, in commit order: what webhooks deliver and the API's /v1/events returns."
        actions={
          <>
            <Button variant="outline" onClick={() => void refresh()} disabled={loading}>
              <RefreshCw aria-hidden="true" /> Check for new
            </Button>
            <Button variant={following ? "secondary" : "default"} onClick={() => setFollowing((f) => !f)} aria-pressed={following}>
              {following ? <Pause aria-hidden="true" /> : <Play aria-hidden="true" />}
              {following ? "Stop following" : "Follow"}
            </Button>
          </>
        }
      />
      <EventFilterBar key={`${types}|${windowKey}`} types={types} windowKey={windowKey} />
      <Card>
        <CardHeader className="flex-row flex-wrap items-center justify-between gap-2">
          <div className="grid gap-1.5">
            <CardTitle>
              {items.length} event{items.length === 1 ? "" : "s"}
              {following && (
                <Badge variant="success" className="ml-2 align-middle">
                  live
                </Badge>
              )}
            </CardTitle>
            <CardDescription>Newest first.</CardDescription>
          </div>
          {cursor && (
            <div className="flex items-center gap-2 text-xs text-muted-foreground">
              Cursor <code className="font-mono" data-cursor="">{cursor}</code>
              <CopyButton value={cursor} label="Copy cursor" variant="ghost" />
            </div>
          )}
        </CardHeader>
        <CardContent>
          {error !== undefined && (
            <div className="pb-4">
              <ErrorAlert error={error} onRetry={() => void refresh()} />
            </div>
          )}
          {loading ? (
            <LoadingRows label="Loading events" />
          ) : items.length === 0 ? (
            <EmptyState title="No events">
              {types ? "No events of these types in this period." : "Nothing happened in this period."}
            </EmptyState>
          ) : (
            <Table aria-label="Events">
              <TableHeader>
                <TableRow>
                  <TableHead>
                    <span className="sr-only">Details</span>
                  </TableHead>
                  <TableHead>When</TableHead>
                  <TableHead>Type</TableHead>
                  <TableHead>Tenant</TableHead>
                  <TableHead>Id</TableHead>
                </TableRow>
              </TableHeader>
              <TableBody>
                {newestFirst.map((e) => (
                  <Fragment key={e.id}>
                    <TableRow data-event-type={e.type}>
                      <TableCell className="w-8">
                        <Button
                          variant="ghost"
                          size="icon"
                          aria-expanded={open === e.id}
                          aria-label={`Data of ${e.type} ${e.id}`}
                          onClick={() => setOpen(open === e.id ? null : e.id)}
                        >
                          {open === e.id ? <ChevronDown aria-hidden="true" /> : <ChevronRight aria-hidden="true" />}
                        </Button>
                      </TableCell>
                      <TableCell className="whitespace-nowrap text-muted-foreground">{formatTime(e.occurred_at)}</TableCell>
                      <TableCell>
                        <Badge variant="outline" className="font-mono">
                          {e.type}
                        </Badge>
                      </TableCell>
                      <TableCell className="font-mono text-xs">{e.tenant_id ?? "—"}</TableCell>
                      <TableCell className="font-mono text-xs text-muted-foreground">{e.id}</TableCell>
                    </TableRow>
                    {open === e.id && (
                      <TableRow className="bg-muted/30 hover:bg-muted/30">
                        <TableCell />
                        <TableCell colSpan={4}>
                          <pre className="overflow-x-auto rounded-md bg-muted p-2 font-mono text-xs">{JSON.stringify(e.data, null, 2)}</pre>
                        </TableCell>
                      </TableRow>
                    )}
                  </Fragment>
                ))}
              </TableBody>
            </Table>
          )}
        </CardContent>
      </Card>
    </>
  );
}

function EventFilterBar({ types, windowKey }: { types: string; windowKey: string }) {
  const [value, setValue] = useState(types);
  const [from, setFrom] = useState(windowKey);
  const apply = (event: FormEvent) => {
    event.preventDefault();
    const params = new URLSearchParams();
    const cleaned = value.split(",").map((t) => t.trim()).filter(Boolean).join(",");
    if (cleaned) params.set("types", cleaned);
    if (from !== "24h") params.set("from", from);
    const qs = params.toString();
    navigate(`/events${qs ? `?${qs}` : ""}`);
  };
  return (
    <Card className="mb-4">
      <CardContent className="pt-5">
        <form className="flex flex-wrap items-start gap-4" onSubmit={apply} aria-label="Filter events">
          <Field label="Types" hint="Comma-separated; tenant.* matches a family." className="min-w-64 flex-1">
            <Input name="types" value={value} onChange={(e) => setValue(e.target.value)} placeholder="tenant.*, app.created" spellCheck={false} />
          </Field>
          <Field label="Period" className="min-w-52">
            <Select name="from" value={from} onChange={(e) => setFrom(e.target.value)}>
              {Object.entries(WINDOWS).map(([key, w]) => (
                <option key={key} value={key}>
                  {w.label}
                </option>
              ))}
            </Select>
          </Field>
          <div className="pt-[1.375rem]">
            <Button type="submit">Apply</Button>
          </div>
        </form>
      </CardContent>
    </Card>
  );
}
