#!/usr/bin/env node
// End-to-end test of the admin portal in a real browser (headless Chromium via playwright-core).
//
//   node e2e/portal.e2e.mjs --url http://127.0.0.1:PORT --token <bootstrap token> --out <dir> [--idp live|manual]
//
// It signs in, creates a tenant and a web app (the client secret dialog appears once and the
// secret never shows again), triggers a field-level validation error (a bad redirect URI),
// creates and revokes an API key, filters and exports the audit log, follows the events feed,
// deletes a tenant and signs out — taking screenshots into --out. It fails on any console error,
// uncaught exception, failed request or unexpected HTTP error status.
//
// --idp says who issues client secrets: `live` (the server runs a reconciler: a created web app
// comes back with its secret) or `manual` (no IdP in this server: the script prints
// `@@need-credentials {"tenant_id","app_id"}` and waits on stdin for
// `@@credentials {"client_id","client_secret"}` once the driver has stored them).
//
// Exit status 0 when every check passed; 1 with the reason otherwise.

import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

import { chromium } from "playwright-core";

const { values: args } = parseArgs({
  options: {
    url: { type: "string", default: process.env.PORTAL_URL },
    token: { type: "string", default: process.env.PORTAL_TOKEN },
    out: { type: "string", default: process.env.PORTAL_SCREENSHOTS ?? "e2e-screenshots" },
    idp: { type: "string", default: process.env.PORTAL_IDP ?? "live" },
    chromium: { type: "string", default: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
    timeout: { type: "string", default: "240" },
  },
});

if (!args.url || !args.token) {
  console.error("usage: portal.e2e.mjs --url <server url> --token <bootstrap token> [--out dir] [--idp live|manual]");
  process.exit(2);
}
if (!["live", "manual"].includes(args.idp)) {
  console.error(`--idp must be live or manual, not ${args.idp}`);
  process.exit(2);
}

const BASE = args.url.replace(/\/+$/, "");
const TOKEN = args.token;
const OUT = args.out;
mkdirSync(OUT, { recursive: true });

// ---- small assertion helpers -------------------------------------------------------------

class Failure extends Error {}

function check(condition, message) {
  if (!condition) throw new Failure(message);
}

function log(step) {
  console.log(`e2e: ${step}`);
}

let shot = 0;
async function screenshot(page, name) {
  shot += 1;
  const file = join(OUT, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log(`screenshot ${file}`);
}

/** Calls the API directly (as an independent judge of what the portal did). */
async function api(method, path, { token = TOKEN, body } = {}) {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body ? { "Content-Type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

// ---- the driver handshake for --idp manual -----------------------------------------------

const stdinLines = createInterface({ input: process.stdin });
const pendingLines = [];
const lineWaiters = [];
stdinLines.on("line", (line) => {
  const waiter = lineWaiters.shift();
  if (waiter) waiter(line);
  else pendingLines.push(line);
});

function nextLine() {
  const line = pendingLines.shift();
  if (line !== undefined) return Promise.resolve(line);
  return new Promise((resolve) => lineWaiters.push(resolve));
}

async function askDriverForCredentials(tenantId, appId) {
  console.log(`@@need-credentials ${JSON.stringify({ tenant_id: tenantId, app_id: appId })}`);
  for (;;) {
    const line = await nextLine();
    if (line.startsWith("@@credentials ")) return JSON.parse(line.slice("@@credentials ".length));
  }
}

// ---- the browser ---------------------------------------------------------------------------

/**
 * Watches the page for problems. HTTP error statuses are allowed only where a step announced
 * them with `expectStatus` (each allowance is used once).
 */
function watch(page, problems, allowances) {
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    // Chromium logs every 4xx/5xx response as a console error; the response handler below
    // judges those against the step's allowances.
    if (/^Failed to load resource: the server responded with a status of \d+/.test(text)) return;
    problems.push(`console error: ${text}`);
  });
  page.on("pageerror", (error) => problems.push(`uncaught exception: ${error.message}`));
  page.on("requestfailed", (request) => {
    const reason = request.failure()?.errorText ?? "unknown";
    // Aborted fetches are the portal cancelling superseded loads on navigation.
    if (reason === "net::ERR_ABORTED") return;
    problems.push(`request failed: ${request.method()} ${request.url()} (${reason})`);
  });
  page.on("response", (response) => {
    const status = response.status();
    if (status < 400) return;
    const url = new URL(response.url());
    const method = response.request().method();
    const index = allowances.findIndex(
      (a) => a.status === status && a.method === method && a.path.test(url.pathname + url.search),
    );
    if (index === -1) problems.push(`unexpected HTTP ${status}: ${method} ${url.pathname}${url.search}`);
    else allowances.splice(index, 1);
  });
}

async function main() {
  const problems = [];
  const allowances = [];
  const expectStatus = (status, method, path) => allowances.push({ status, method, path });
  const assertClean = (where) => {
    check(problems.length === 0, `${where}: ${problems.join("; ")}`);
  };

  const browser = await chromium.launch({
    executablePath: args.chromium,
    headless: true,
    // The machine has no network beyond localhost: keep Chromium from trying to phone home.
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
    ],
  });
  try {
    const context = await browser.newContext({
      acceptDownloads: true,
      viewport: { width: 1280, height: 860 },
      colorScheme: "light",
      // The portal must never need anything but its own origin.
      serviceWorkers: "block",
    });
    await context.route(
      (url) => !url.href.startsWith(BASE),
      (route) => {
        problems.push(`request to another origin: ${route.request().url()}`);
        return route.abort();
      },
    );
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    watch(page, problems, allowances);

    // Every API call carries the portal's client header and same-origin credentials.
    const apiRequests = [];
    page.on("request", (request) => {
      if (new URL(request.url()).pathname.startsWith("/v1/")) apiRequests.push(request);
    });

    // 1. Sign in. Without a stored key the portal probes for a session cookie (401).
    log("sign-in page");
    expectStatus(401, "GET", /^\/v1\/tenants\?limit=1$/);
    await page.goto(`${BASE}/admin/`);
    await page.getByRole("heading", { name: "Sign in to Gatehouse" }).waitFor();
    const sso = await page.getByRole("link", { name: "Sign in with your identity provider" }).getAttribute("href");
    check(sso === "/admin/login?return_to=%2Fadmin%2F", `unexpected IdP sign-in link ${sso}`);
    await screenshot(page, "sign-in");

    expectStatus(401, "GET", /^\/v1\/tenants\?limit=1$/);
    await page.getByLabel("API key").fill("ghk_not_a_real_key_at_all_0000000000");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("This key was refused").waitFor();
    check(
      (await page.getByLabel("API key").getAttribute("aria-invalid")) === "true",
      "the refused key field is not marked invalid",
    );

    await page.getByLabel("API key").fill(TOKEN);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    check(
      (await page.evaluate(() => sessionStorage.getItem("gatehouse.portal.apiKey"))) === TOKEN,
      "the API key is not kept in sessionStorage",
    );
    check(
      (await page.evaluate(() => JSON.stringify(localStorage))).includes(TOKEN) === false,
      "the API key leaked into localStorage",
    );
    await page.locator('[data-stat="Tenants"]').waitFor();
    await screenshot(page, "dashboard-empty");
    assertClean("sign-in");

    // 2. Create a tenant.
    log("create a tenant");
    await page.getByRole("link", { name: "Tenants" }).click();
    await page.getByRole("heading", { name: "Tenants", level: 1 }).waitFor();
    await page.getByText("No tenants yet").waitFor();
    await page.getByRole("button", { name: "New tenant" }).click();
    const tenantDialog = page.getByRole("dialog", { name: "New tenant" });
    await tenantDialog.waitFor();
    await tenantDialog.getByLabel("Name").fill("Acme Corp");
    check((await tenantDialog.getByLabel("Slug").inputValue()) === "acme-corp", "the slug was not suggested from the name");
    await tenantDialog.getByLabel("Domains (optional)").fill("acme.example");
    await screenshot(page, "tenant-dialog");
    await tenantDialog.getByRole("button", { name: "Create tenant" }).click();
    await page.getByRole("heading", { name: "Acme Corp", level: 1 }).waitFor();
    const tenantId = page.url().split("/tenants/")[1];
    check(/^ten_[0-9A-Za-z]+$/.test(tenantId), `unexpected tenant URL ${page.url()}`);
    await page.getByText("No apps yet").waitFor();
    await screenshot(page, "tenant-detail");
    assertClean("create a tenant");

    // 3. Create a web app; a bad redirect URI first (the API names the field).
    log("create an app with a bad redirect URI");
    await page.getByRole("link", { name: "New app" }).click();
    await page.getByRole("heading", { name: "New app" }).waitFor();
    await page.getByLabel("Name").fill("Acme Portal");
    await page.getByRole("radio", { name: /^Web/ }).check();
    await page.getByRole("textbox", { name: "Redirect URIs 1", exact: true }).fill("https://portal.acme.example/callback");
    await page.getByRole("button", { name: "Add URI" }).first().click();
    await page.getByRole("textbox", { name: "Redirect URIs 2", exact: true }).fill("http://portal.acme.example/insecure");
    expectStatus(422, "POST", new RegExp(`^/v1/tenants/${tenantId}/apps$`));
    await page.getByRole("button", { name: "Create app" }).click();
    const second = page.getByRole("textbox", { name: "Redirect URIs 2", exact: true });
    await page.waitForFunction(
      () => document.querySelector('[name="redirect_uris[1]"]')?.getAttribute("aria-invalid") === "true",
    );
    const errorId = await second.getAttribute("aria-describedby");
    check(errorId, "the invalid URI input does not point at its error");
    const errorText = await page.locator(`[id="${errorId}"]`).innerText();
    check(/http is only allowed for loopback hosts/.test(errorText), `unexpected field error: ${errorText}`);
    check(
      (await page.getByRole("textbox", { name: "Redirect URIs 1", exact: true }).getAttribute("aria-invalid")) === null,
      "the valid URI was marked invalid",
    );
    await screenshot(page, "app-field-error");
    assertClean("bad redirect URI");

    log("create the app");
    await second.fill("http://localhost:3000/callback");
    const created = page.waitForResponse(
      (r) => r.request().method() === "POST" && new URL(r.url()).pathname === `/v1/tenants/${tenantId}/apps`,
    );
    await page.getByRole("button", { name: "Create app" }).click();
    const createdApp = await (await created).json();
    check(createdApp.type === "web", "the app was not created as a web app");
    const appId = createdApp.id;

    let secret;
    if (args.idp === "live") {
      check(
        typeof createdApp.client_secret === "string" && createdApp.client_secret.length > 0,
        `the create response has no client secret (sync: ${JSON.stringify(createdApp.sync)})`,
      );
      secret = createdApp.client_secret;
      await confirmSecretDialog(page, "App created", secret);
      await page.waitForURL(`**/admin/tenants/${tenantId}/apps/${appId}`);
    } else {
      check(createdApp.client_secret === undefined, "a client secret appeared without an IdP");
      await page.waitForURL(`**/admin/tenants/${tenantId}/apps/${appId}`);
      await page.getByText("Not issued yet").waitFor();
      await screenshot(page, "app-pending");
      const issued = await askDriverForCredentials(tenantId, appId);
      secret = issued.client_secret;
      await page.getByRole("button", { name: "Refresh" }).click();
      await page.locator('[data-secret-status="issued"]').waitFor();
      await page.getByRole("button", { name: "Reveal secret" }).click();
      await confirmSecretDialog(page, "Client secret", secret);
    }
    await page.locator("[data-client-id]").waitFor();
    check(!(await page.content()).includes(secret), "the secret is still in the page after the dialog closed");
    await screenshot(page, "app-detail");

    // Never again: a second reveal is refused with the API's message, and a reload shows nothing.
    log("the secret is never shown again");
    expectStatus(409, "POST", new RegExp(`^/v1/tenants/${tenantId}/apps/${appId}/client-secret$`));
    await page.getByRole("button", { name: "Reveal secret" }).click();
    await page.getByText("already shown once").waitFor();
    await page.reload();
    await page.locator("[data-client-id]").waitFor();
    const html = await page.content();
    check(!html.includes(secret), "the secret shows again after a reload");
    check((await page.locator("[data-secret]").count()) === 0, "a secret element is on the page after a reload");
    const storage = await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }));
    check(!storage.includes(secret), "the secret was written to web storage");

    // Rotation issues a new secret, shown once the same way (with an IdP that answers inline).
    log("rotate the secret");
    await page.getByRole("button", { name: "Rotate secret" }).click();
    const rotateDialog = page.getByRole("alertdialog", { name: "Rotate the client secret?" });
    await rotateDialog.waitFor();
    check(
      (await page.evaluate(() => document.activeElement?.textContent?.trim())) === "Cancel",
      "a destructive confirmation does not start on Cancel",
    );
    const rotated = page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith("/rotate-secret"));
    await rotateDialog.getByRole("button", { name: "Rotate secret" }).click();
    const rotatedApp = await (await rotated).json();
    if (args.idp === "live") {
      check(typeof rotatedApp.client_secret === "string" && rotatedApp.client_secret !== secret, "rotation returned no new secret");
      await confirmSecretDialog(page, "New client secret", rotatedApp.client_secret);
      await page.reload();
      await page.locator("[data-client-id]").waitFor();
      check(!(await page.content()).includes(rotatedApp.client_secret), "the rotated secret shows again after a reload");
    } else {
      check(rotatedApp.client_secret === undefined, "a rotated secret appeared without an IdP");
      await page.getByText("Rotation requested").waitFor();
    }
    assertClean("app secret");

    // 4. API keys: create (token shown once), use it, revoke it.
    log("create and revoke an API key");
    await page.getByRole("link", { name: "API keys" }).click();
    await page.getByRole("heading", { name: "API keys", level: 1 }).waitFor();
    await page.getByRole("button", { name: "Create key" }).click();
    const keyDialog = page.getByRole("dialog", { name: "Create API key" });
    await keyDialog.getByLabel("Name").fill("CI deploys");
    await keyDialog.getByLabel("Scope").selectOption("tenant");
    await keyDialog.getByLabel("Tenant").selectOption(tenantId);
    const keyCreated = page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/v1/api-keys");
    await keyDialog.getByRole("button", { name: "Create key" }).click();
    const key = await (await keyCreated).json();
    check(key.scope === "tenant" && key.tenant_id === tenantId, "the key was not scoped to the tenant");
    await confirmSecretDialog(page, "API key created", key.token);
    check((await api("GET", "/v1/tenants", { token: key.token })).status === 200, "the new key does not work");
    const row = page.locator('tr[data-key="CI deploys"]');
    await row.waitFor();
    await screenshot(page, "api-keys");
    await row.getByRole("button", { name: "Revoke CI deploys" }).click();
    const revokeDialog = page.getByRole("alertdialog", { name: "Revoke CI deploys?" });
    await revokeDialog.getByRole("button", { name: "Revoke key" }).click();
    await row.getByText("revoked").waitFor();
    check((await api("GET", "/v1/tenants", { token: key.token })).status === 401, "the revoked key still works");
    check(!(await page.content()).includes(key.token), "the API key token is still on the page");
    assertClean("API keys");

    // 5. Audit log: filter by action and tenant, by time, and export.
    log("filter and export the audit log");
    await page.getByRole("link", { name: "Audit log" }).click();
    await page.getByRole("heading", { name: "Audit log", level: 1 }).waitFor();
    await page.locator('tr[data-action="tenant.created"]').first().waitFor();
    const all = await page.locator("tr[data-action]").count();
    check(all >= 4, `expected at least 4 audit entries, saw ${all}`);
    await page.getByLabel("Action").fill("api_key.revoked");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/\/admin\/audit\?action=api_key.revoked$/);
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll("tr[data-action]")];
      return rows.length === 1 && rows[0].getAttribute("data-action") === "api_key.revoked";
    });
    await page.getByRole("button", { name: /^Details of api_key.revoked/ }).click();
    await page.getByText("Request id").waitFor();
    await screenshot(page, "audit-filtered");

    await page.getByLabel("Action").fill("app.created");
    await page.getByLabel("Tenant").selectOption(tenantId);
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(new RegExp(`tenant_id=${tenantId}`));
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll("tr[data-action]")];
      return rows.length === 1 && rows[0].getAttribute("data-action") === "app.created";
    });

    const download = page.waitForEvent("download");
    await page.getByRole("button", { name: "Export CSV" }).click();
    const csvFile = join(OUT, "audit.csv");
    await (await download).saveAs(csvFile);
    const csv = readFileSync(csvFile, "utf8").trim().split("\n");
    check(csv[0].startsWith("id,occurred_at,action"), `unexpected CSV header: ${csv[0]}`);
    check(csv.length === 2 && csv[1].includes(",app.created,"), `the CSV export ignores the filters: ${csv.length - 1} rows`);

    const jsonlDownload = page.waitForEvent("download");
    await page.getByRole("button", { name: "Export JSONL" }).click();
    const jsonlFile = join(OUT, "audit.jsonl");
    await (await jsonlDownload).saveAs(jsonlFile);
    const lines = readFileSync(jsonlFile, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    check(lines.length === 1 && lines[0].action === "app.created" && lines[0].tenant_id === tenantId, "unexpected JSONL export");

    // A window in the future holds nothing.
    const future = new Date(Date.now() + 48 * 3600_000);
    const pad = (n) => String(n).padStart(2, "0");
    const local = `${future.getFullYear()}-${pad(future.getMonth() + 1)}-${pad(future.getDate())}T${pad(future.getHours())}:${pad(future.getMinutes())}`;
    await page.getByRole("button", { name: "Clear" }).click();
    await page.waitForURL(/\/admin\/audit$/);
    await page.getByLabel("Since").fill(local);
    await page.getByRole("button", { name: "Apply" }).click();
    await page.getByText("No entries match these filters").waitFor();
    assertClean("audit log");

    // 6. Events: type filter, and following the cursor picks up new events.
    log("events feed");
    await page.getByRole("link", { name: "Events" }).click();
    await page.getByRole("heading", { name: "Events", level: 1 }).waitFor();
    await page.getByLabel("Types").fill("tenant.*");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/types=tenant\.\*/);
    await page.locator('tr[data-event-type="tenant.created"]').first().waitFor();
    check(
      (await page.locator("tr[data-event-type]").evaluateAll((rows) => rows.every((r) => r.getAttribute("data-event-type").startsWith("tenant.")))),
      "the type filter let other events through",
    );
    const before = await page.locator("tr[data-event-type]").count();
    await page.getByRole("button", { name: "Follow" }).click();
    const other = await api("POST", "/v1/tenants", { body: { name: "Globex", slug: "globex" } });
    check(other.status === 201, `creating a tenant through the API failed: ${other.status}`);
    await page.waitForFunction((n) => document.querySelectorAll("tr[data-event-type]").length > n, before, { timeout: 15_000 });
    await screenshot(page, "events-following");
    await page.getByRole("button", { name: "Stop following" }).click();
    assertClean("events");

    // 7. Delete a tenant, with confirmation.
    log("delete a tenant");
    await page.goto(`${BASE}/admin/tenants/${other.body.id}`);
    await page.getByRole("heading", { name: "Globex", level: 1 }).waitFor();
    await page.getByRole("button", { name: "Delete tenant" }).click();
    const confirm = page.getByRole("alertdialog", { name: "Delete Globex?" });
    const confirmButton = confirm.getByRole("button", { name: "Delete tenant" });
    check(await confirmButton.isDisabled(), "deleting does not wait for the typed confirmation");
    await confirm.getByLabel(/Type globex to confirm/).fill("globex");
    await confirmButton.click();
    await page.getByRole("heading", { name: "Tenants", level: 1 }).waitFor();
    check((await api("GET", `/v1/tenants/${other.body.id}`)).status === 404, "the tenant was not deleted");
    assertClean("delete a tenant");

    // 8. Dashboard numbers, in dark mode; keyboard basics.
    log("dashboard and keyboard");
    await page.getByRole("link", { name: "Dashboard" }).click();
    await page.waitForFunction(
      () =>
        document.querySelector('[data-stat="Tenants"]')?.textContent === "1" &&
        document.querySelector('[data-stat="Apps"]')?.textContent === "1",
    );
    await page.getByRole("button", { name: "Dark", exact: true }).first().click();
    check(await page.evaluate(() => document.documentElement.classList.contains("dark")), "dark mode did not apply");
    await page.waitForTimeout(400); // let colour transitions finish before the screenshot
    await screenshot(page, "dashboard-dark");
    await page.getByRole("button", { name: "Light", exact: true }).first().click();

    // A fresh load: the first Tab stop is the skip link.
    await page.reload();
    await page.locator('[data-stat="Tenants"]').waitFor();
    await page.keyboard.press("Tab");
    check(
      (await page.evaluate(() => document.activeElement?.textContent?.trim())) === "Skip to content",
      "the first Tab stop is not the skip link",
    );
    await page.getByRole("link", { name: "Tenants" }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Tenants", level: 1 }).waitFor();
    await page.getByRole("button", { name: "New tenant" }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("dialog", { name: "New tenant" }).waitFor();
    check(
      (await page.evaluate(() => document.activeElement?.getAttribute("name"))) === "name",
      "the dialog did not focus its first field",
    );
    await page.keyboard.press("Escape");
    await page.getByRole("dialog", { name: "New tenant" }).waitFor({ state: "hidden" });
    assertClean("keyboard");

    // Every API request carried the portal header and no credentials in the URL.
    check(apiRequests.length > 10, "too few API requests were observed");
    for (const request of apiRequests) {
      const headers = await request.allHeaders();
      check(headers["x-gatehouse-client"] === "portal", `${request.url()} lacks X-Gatehouse-Client`);
      check(!request.url().includes(TOKEN), "the token appeared in a URL");
    }

    // 9. Sign out.
    log("sign out");
    await page.getByRole("button", { name: "Sign out" }).first().click();
    await page.getByRole("heading", { name: "Sign in to Gatehouse" }).waitFor();
    check((await page.evaluate(() => sessionStorage.getItem("gatehouse.portal.apiKey"))) === null, "sign out kept the key");
    expectStatus(401, "GET", /^\/v1\/tenants\?limit=1$/);
    await page.reload();
    await page.getByRole("heading", { name: "Sign in to Gatehouse" }).waitFor();
    await screenshot(page, "signed-out");

    assertClean("the whole run");
    check(allowances.length === 0, `expected errors that never happened: ${JSON.stringify(allowances.map((a) => `${a.status} ${a.method} ${a.path}`))}`);
    await context.close();
  } finally {
    await browser.close();
  }
}

/** The one-time secret dialog: shows `secret`, warns, and closes only after the acknowledgement. */
async function confirmSecretDialog(page, title, secret) {
  const dialog = page.getByRole("dialog", { name: title });
  await dialog.waitFor();
  const shown = await dialog.locator("[data-secret]").innerText();
  check(shown === secret, "the dialog does not show the secret the API returned");
  await dialog.getByText("You will not see this again").waitFor();
  const done = dialog.getByRole("button", { name: "Done" });
  check(await done.isDisabled(), "the secret dialog can be closed before acknowledging");
  await page.keyboard.press("Escape");
  check(await dialog.isVisible(), "Escape closed the secret dialog");
  await screenshot(page, `secret-${title.toLowerCase().replace(/\W+/g, "-")}`);
  await dialog.getByRole("checkbox").check();
  await done.click();
  await dialog.waitFor({ state: "hidden" });
}

const deadline = setTimeout(() => {
  console.error(`e2e: FAILED: timed out after ${args.timeout} s`);
  process.exit(1);
}, Number(args.timeout) * 1000);

main().then(
  () => {
    clearTimeout(deadline);
    console.log("e2e: all portal checks passed");
    process.exit(0);
  },
  (error) => {
    clearTimeout(deadline);
    console.error(`e2e: FAILED: ${error instanceof Failure ? error.message : error.stack ?? error}`);
    process.exit(1);
  },
);
