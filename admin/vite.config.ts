/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";

import tailwindcss from "@tailwindcss/vite";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The API server `npm run dev` proxies to (see docs/portal.md).
const apiTarget = process.env.GATEHOUSE_API ?? "http://127.0.0.1:18080";

export default defineConfig(({ command }) => ({
  // Built assets use relative URLs; index.html's `<base href="/admin/">` anchors them, so a
  // deep link such as /admin/tenants/ten_… (served index.html by the SPA fallback) still loads
  // ./assets/… from /admin/assets/. The dev server itself is mounted at /admin/.
  base: command === "build" ? "./" : "/admin/",
  plugins: [react(), tailwindcss()],
  resolve: {
    alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Never inline assets as data: URIs: the host's CSP allows images and fonts from 'self' only.
    assetsInlineLimit: 0,
    sourcemap: false,
    target: "es2022",
    chunkSizeWarningLimit: 600,
  },
  server: {
    host: "127.0.0.1",
    port: 5173,
    strictPort: true,
    proxy: {
      "/v1": { target: apiTarget, changeOrigin: false },
      "/healthz": { target: apiTarget },
      "/readyz": { target: apiTarget },
      // The server's admin sign-in (OIDC) sets the session cookie the portal can use.
      "/admin/login": { target: apiTarget },
      "/admin/logout": { target: apiTarget },
    },
  },
  test: {
    environment: "jsdom",
    globals: false,
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test/setup.ts"],
    restoreMocks: true,
  },
}));
