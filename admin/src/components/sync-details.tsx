import { formatTime } from "@/lib/format";
import type { SyncStatus } from "@/lib/types";

import { SyncBadge } from "./sync-badge";

/** The full sync status of one object, as a description list. */
export function SyncDetails({ sync }: { sync: SyncStatus }) {
  const ids = Object.entries(sync.zitadel_ids);
  return (
    <dl className="grid grid-cols-[8rem_1fr] gap-x-4 gap-y-2 text-sm" data-sync-details={sync.state}>
      <dt className="text-muted-foreground">State</dt>
      <dd>
        <SyncBadge sync={sync} />
      </dd>
      {sync.message && (
        <>
          <dt className="text-muted-foreground">Message</dt>
          <dd className={sync.state === "failed" ? "text-destructive" : undefined}>{sync.message}</dd>
        </>
      )}
      <dt className="text-muted-foreground">Attempts</dt>
      <dd className="tabular-nums">{sync.attempts}</dd>
      <dt className="text-muted-foreground">Last attempt</dt>
      <dd>{formatTime(sync.last_attempt_at)}</dd>
      <dt className="text-muted-foreground">Synced at</dt>
      <dd>{formatTime(sync.synced_at)}</dd>
      {ids.map(([key, value]) => (
        <div key={key} className="contents">
          <dt className="text-muted-foreground">ZITADEL {key.replace(/_/g, " ")}</dt>
          <dd className="font-mono text-xs break-all">{typeof value === "string" ? value : JSON.stringify(value)}</dd>
        </div>
      ))}
    </dl>
  );
}
