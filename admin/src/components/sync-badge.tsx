import { CircleAlert, CircleCheck, Clock } from "lucide-react";

import { Badge } from "@/components/ui/badge";
import type { SyncStatus } from "@/lib/types";

/** The IdP sync state of a tenant or app; the failure message is in the title. */
export function SyncBadge({ sync }: { sync: SyncStatus }) {
  switch (sync.state) {
    case "synced":
      return (
        <Badge variant="success" data-sync="synced">
          <CircleCheck aria-hidden="true" /> Synced
        </Badge>
      );
    case "failed":
      return (
        <Badge variant="destructive" data-sync="failed" title={sync.message ?? undefined}>
          <CircleAlert aria-hidden="true" /> Failed
        </Badge>
      );
    default:
      return (
        <Badge variant="warning" data-sync="pending" title={sync.message ?? undefined}>
          <Clock aria-hidden="true" /> Pending
        </Badge>
      );
  }
}
