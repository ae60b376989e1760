#!/usr/bin/env node
// End-to-end test of the portal's admin sign-in through the IdP in a real browser (headless
// Chromium via playwright-core), against a server whose IdP is the embedded ZITADEL emulator:
//
//   node e2e/signin.e2e.mjs --url http://127.0.0.1:PORT --login admin --password <password> --out <dir>
//
// It opens the portal, follows "Sign in with your identity provider" to the IdP's hosted login
// page, signs in there, lands back in the portal signed in with an HttpOnly session cookie,
// checks that the portal's API calls work with the cookie and that a cookie-authenticated
// change without the portal's header is refused (CSRF), then signs out (the IdP's end-session
// page sends the browser back to the sign-in page) and checks the cookie is gone.
// Run by `cargo test -p gatehouse-server --test it admin_session` (host/server/tests/it/admin_session.rs).
//
// Exit status 0 when every check passed; 1 with the reason otherwise.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

import { chromium } from "playwright-core";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    login: { type: "string" },
    password: { type: "string" },
    out: { type: "string", default: "e2e-screenshots" },
    chromium: { type: "string", default: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
  },
});
if (!args.url || !args.login || !args.password) {
  console.error("usage: signin.e2e.mjs --url <server url> --login <login> --password <password> [--out dir]");
  process.exit(2);
}

const BASE = args.url.replace(/\/+$/, "");
mkdirSync(args.out, { recursive: true });

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
  const file = join(args.out, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log(`screenshot ${file}`);
}

const problems = [];
const browser = await chromium.launch({
  executablePath: args.chromium,
  headless: true,
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
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, serviceWorkers: "block" });
  // The portal and the embedded IdP share the server's origin; nothing else may be loaded.
  await context.route(
    (url) => !url.href.startsWith(BASE),
    (route) => {
      problems.push(`request to another origin: ${route.request().url()}`);
      return route.abort();
    },
  );
  const page = await context.newPage();
  page.on("pageerror", (error) => problems.push(`uncaught exception: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    // Chromium logs error statuses as console errors: the signed-out probes answer 401 and the
    // deliberate change without the portal's header 403 (each checked where it happens).
    if (/status of 40[13]/.test(message.text())) return;
    problems.push(`console error: ${message.text()}`);
  });

  log("portal sign-in page");
  await page.goto(`${BASE}/admin/tenants`);
  await page.getByRole("heading", { name: "Sign in to Gatehouse" }).waitFor();
  await screenshot(page, "portal-sign-in");

  log("to the IdP's hosted login");
  await page.getByRole("link", { name: "Sign in with your identity provider" }).click();
  await page.waitForURL((url) => url.pathname.endsWith("/zitadel/ui/login/login"));
  await page.locator("#loginName").waitFor();
  await screenshot(page, "idp-login");

  log("wrong password stays at the IdP");
  await page.locator("#loginName").fill(args.login);
  await page.locator("#password").fill(`${args.password}-wrong`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("The username or password is incorrect.").waitFor();

  log("sign in at the IdP");
  await page.locator("#password").fill(args.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  // Back to the page the sign-in started from, signed in.
  await page.waitForURL(`${BASE}/admin/tenants`);
  await page.getByRole("button", { name: "Sign out" }).first().waitFor();
  await page.getByRole("heading", { name: "Tenants" }).first().waitFor();
  await screenshot(page, "signed-in");

  const cookies = await context.cookies(BASE);
  const session = cookies.find((c) => c.name === "gatehouse_session");
  check(session, `no session cookie: ${JSON.stringify(cookies.map((c) => c.name))}`);
  check(session.httpOnly, "the session cookie must be HttpOnly");
  check(session.sameSite === "Lax", `SameSite=${session.sameSite}`);
  check(session.path === "/", `Path=${session.path}`);
  check(!cookies.some((c) => c.name === "gatehouse_admin_login"), "the login state cookie must be gone");
  check(!(await page.evaluate(() => document.cookie)).includes("gatehouse_session"), "scripts must not see the cookie");

  log("the cookie authenticates the portal's calls; changes need its header");
  const results = await page.evaluate(async () => {
    const body = JSON.stringify({ name: "Browser Co", slug: `browser-${Date.now()}` });
    const json = { "Content-Type": "application/json", Accept: "application/json" };
    const me = await fetch("/v1/me", { credentials: "same-origin" });
    const bare = await fetch("/v1/tenants", { method: "POST", credentials: "same-origin", headers: json, body });
    const portal = await fetch("/v1/tenants", {
      method: "POST",
      credentials: "same-origin",
      headers: { ...json, "X-Gatehouse-Client": "portal" },
      body,
    });
    return { me: await me.json(), bare: bare.status, portal: portal.status };
  });
  check(results.me.kind === "admin", `GET /v1/me: ${JSON.stringify(results.me)}`);
  check(results.bare === 403, `a change without the portal header answered ${results.bare}`);
  check(results.portal === 201, `a change from the portal answered ${results.portal}`);

  log("sign out at Gatehouse and the IdP");
  await page.getByRole("button", { name: "Sign out" }).first().click();
  await page.waitForURL(`${BASE}/admin/`);
  await page.getByRole("heading", { name: "Sign in to Gatehouse" }).waitFor();
  await screenshot(page, "signed-out");
  const after = await context.cookies(BASE);
  check(!after.some((c) => c.name === "gatehouse_session"), "the session cookie must be cleared");

  check(problems.length === 0, problems.join("; "));
  log("sign-in checks passed");
} catch (error) {
  console.error(error instanceof Failure ? `e2e failed: ${error.message}` : error);
  if (problems.length) console.error(`also: ${problems.join("; ")}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
