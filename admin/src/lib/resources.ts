// Typed calls to the /v1 endpoints the portal uses.

import type { ApiClient, Query } from "./api";
import type {
  ApiKey,
  App,
  AppWithSecret,
  AuditEntry,
  ClientSecret,
  CreateApiKey,
  CreateApp,
  CreatedApiKey,
  CreateTenant,
  GatehouseEvent,
  Page,
  Tenant,
  UpdateApp,
} from "./types";

const seg = encodeURIComponent;

export interface PageQuery {
  limit?: number;
  after?: string | null;
}

export const tenants = {
  list: (c: ApiClient, q: PageQuery = {}, signal?: AbortSignal) =>
    c.list<Tenant>("/v1/tenants", { ...q }, signal),
  get: (c: ApiClient, id: string, signal?: AbortSignal) =>
    c.get<Tenant>(`/v1/tenants/${seg(id)}`, undefined, signal),
  create: (c: ApiClient, input: CreateTenant) => c.post<Tenant>("/v1/tenants", input),
  remove: (c: ApiClient, id: string) => c.delete(`/v1/tenants/${seg(id)}`),
};

export const apps = {
  list: (c: ApiClient, tenantId: string, q: PageQuery = {}, signal?: AbortSignal) =>
    c.list<App>(`/v1/tenants/${seg(tenantId)}/apps`, { ...q }, signal),
  get: (c: ApiClient, tenantId: string, id: string, signal?: AbortSignal) =>
    c.get<App>(`/v1/tenants/${seg(tenantId)}/apps/${seg(id)}`, undefined, signal),
  create: (c: ApiClient, tenantId: string, input: CreateApp) =>
    c.post<AppWithSecret>(`/v1/tenants/${seg(tenantId)}/apps`, input),
  update: (c: ApiClient, tenantId: string, id: string, input: UpdateApp) =>
    c.patch<App>(`/v1/tenants/${seg(tenantId)}/apps/${seg(id)}`, input),
  remove: (c: ApiClient, tenantId: string, id: string) =>
    c.delete(`/v1/tenants/${seg(tenantId)}/apps/${seg(id)}`),
  rotateSecret: (c: ApiClient, tenantId: string, id: string) =>
    c.post<AppWithSecret>(`/v1/tenants/${seg(tenantId)}/apps/${seg(id)}/rotate-secret`),
  revealSecret: (c: ApiClient, tenantId: string, id: string) =>
    c.post<ClientSecret>(`/v1/tenants/${seg(tenantId)}/apps/${seg(id)}/client-secret`),
};

export const apiKeys = {
  list: (c: ApiClient, q: PageQuery & { tenant_id?: string } = {}, signal?: AbortSignal) =>
    c.list<ApiKey>("/v1/api-keys", { ...q }, signal),
  create: (c: ApiClient, input: CreateApiKey) => c.post<CreatedApiKey>("/v1/api-keys", input),
  revoke: (c: ApiClient, id: string) => c.post<ApiKey>(`/v1/api-keys/${seg(id)}/revoke`),
};

export interface AuditFilters {
  action?: string;
  tenant_id?: string;
  actor_id?: string;
  target_id?: string;
  /** RFC 3339. */
  since?: string;
  /** RFC 3339. */
  until?: string;
}

export type ExportFormat = "csv" | "jsonl";

export const audit = {
  list: (c: ApiClient, f: AuditFilters, q: PageQuery = {}, signal?: AbortSignal) =>
    c.list<AuditEntry>("/v1/audit-logs", { ...f, ...q } as Query, signal),
  export: (c: ApiClient, f: AuditFilters, format: ExportFormat) =>
    c.download("/v1/audit-logs/export", { ...f, format } as Query),
};

export interface EventFilters {
  types?: string;
  tenant_id?: string;
  since?: string;
  until?: string;
}

export const events = {
  list: (
    c: ApiClient,
    f: EventFilters,
    q: PageQuery = {},
    signal?: AbortSignal,
  ): Promise<Page<GatehouseEvent>> =>
    c.list<GatehouseEvent>("/v1/events", { ...f, ...q } as Query, signal),
};
