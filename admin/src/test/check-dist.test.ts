import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { checkDist } from "../../scripts/check-dist.mjs";

function dist(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-dist-"));
  mkdirSync(join(dir, "assets"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const index = '<!doctype html><base href="/admin/"><script type="module" src="./assets/app.js"></script><link rel="stylesheet" href="./assets/app.css">';

describe("checkDist", () => {
  it("accepts a self-contained build with inert URLs", () => {
    const dir = dist({
      "index.html": index,
      "assets/app.js": 'const ns="http://www.w3.org/2000/svg"; const e="https://react.dev/errors/"; const p="https://app.example.com/callback";',
      "assets/app.css": '/*! tailwindcss v4 | MIT License | https://tailwindcss.com */ @font-face{src:url(./font.woff2)}',
      "assets/font.woff2": "",
    });
    expect(checkDist(dir)).toEqual([]);
  });

  it("flags fetchable URLs, CDN fonts, inline scripts and absolute asset paths", () => {
    const dir = dist({
      "index.html": `${index}<script>alert(1)</script><img src="https://cdn.example.net.evil/x.png">`,
      "assets/app.js": 'import("https://cdn.jsdelivr.net/npm/x"); const t="https://tailwindcss.com";',
      "assets/app.css": "@font-face{src:url(https://fonts.gstatic.com/s/inter.woff2)} .a{background:url(data:image/png;base64,AA)} .b{background:url(./gone.png)}",
    });
    const problems = checkDist(dir).join("\n");
    expect(problems).toContain("assets/app.js: external URL https://cdn.jsdelivr.net/npm/x");
    expect(problems).toContain("assets/app.js: external URL https://tailwindcss.com");
    expect(problems).toContain("fonts.gstatic.com");
    expect(problems).toContain("stylesheet loads data:image/png");
    expect(problems).toContain("missing file ./gone.png");
    expect(problems).toContain("inline <script>");
    expect(problems).toContain('src="https://cdn.example.net.evil/x.png" is not a relative path');
  });

  it("reports a missing build", () => {
    expect(checkDist(join(tmpdir(), "gatehouse-no-such-dist"))).toEqual([
      `${join(tmpdir(), "gatehouse-no-such-dist")}/index.html is missing: run npm run build`,
    ]);
  });
});
