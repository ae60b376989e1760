// Wire types of the /v1 admin API (see /v1/openapi.json). Timestamps are RFC 3339 strings.

export type SyncState = "pending" | "synced" | "failed";

export interface SyncStatus {
  state: SyncState;
  message: string | null;
  zitadel_ids: Record<string, unknown>;
  attempts: number;
  last_attempt_at: string | null;
  synced_at: string | null;
}

export type TenantStatus = "active" | "suspended";

export interface Tenant {
  id: string;
  name: string;
  slug: string;
  domains: string[];
  status: TenantStatus;
  created_at: string;
  updated_at: string;
  sync: SyncStatus;
}

export interface CreateTenant {
  name: string;
  slug: string;
  domains?: string[];
}

export type AppType = "web" | "spa" | "native";

export interface App {
  id: string;
  tenant_id: string;
  name: string;
  type: AppType;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  dev_mode: boolean;
  client_id: string | null;
  has_client_secret: boolean;
  created_at: string;
  updated_at: string;
  sync: SyncStatus;
}

/** An app plus its client secret, present only in the one response that shows it. */
export interface AppWithSecret extends App {
  client_secret?: string;
}

export interface CreateApp {
  name: string;
  type: AppType;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  dev_mode: boolean;
}

export interface UpdateApp {
  name?: string;
  redirect_uris?: string[];
  post_logout_redirect_uris?: string[];
  dev_mode?: boolean;
}

export interface ClientSecret {
  client_id: string | null;
  client_secret: string;
}

export type KeyScope = "platform" | "tenant";

export interface ApiKey {
  id: string;
  name: string;
  scope: KeyScope;
  tenant_id: string | null;
  token_prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface CreatedApiKey extends ApiKey {
  token: string;
}

export interface CreateApiKey {
  name: string;
  scope: KeyScope;
  tenant_id?: string | null;
}

export type ActorKind = "api_key" | "user" | "system" | "zitadel";

export interface AuditEntry {
  id: string;
  action: string;
  occurred_at: string;
  version: number;
  actor: { type: ActorKind; id: string; name: string | null };
  targets: { type: string; id: string; name: string | null }[];
  context: { location: string | null; user_agent: string | null; request_id: string | null };
  metadata: Record<string, unknown>;
  tenant_id: string | null;
}

export interface GatehouseEvent {
  id: string;
  type: string;
  occurred_at: string;
  tenant_id: string | null;
  data: unknown;
}

/** A page of a list endpoint (WorkOS shape). */
export interface Page<T> {
  data: T[];
  list_metadata: { after: string | null };
}
