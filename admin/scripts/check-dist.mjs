#!/usr/bin/env node
// Checks that the built portal (admin/dist) loads nothing from outside the Gatehouse origin:
// every absolute URL in it must be inert (an XML namespace, an error-text or licence link, a
// reserved example domain), index.html may reference only relative paths, and stylesheets may
// load only files that exist in dist. Exits 1 with the offending locations otherwise.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Absolute URLs that never cause a request, with the reason they are allowed. */
export const INERT = [
  { re: /^http:\/\/www\.w3\.org\/(2000\/svg|1999\/xlink|1999\/xhtml|XML\/1998\/namespace|1998\/Math\/MathML|2000\/xmlns\/?)$/, why: "XML namespace name" },
  { re: /^https:\/\/react\.dev\/errors\/$/, why: "React's minified-error message text" },
  { re: /^https?:\/\/([a-z0-9-]+\.)*example\.(com|org|net)(\/[^\s]*)?$/, why: "reserved example domain (RFC 2606), placeholder text" },
];

/** Licence banners keep their project URL; allowed only inside a `/*! … *\/` comment. */
const LICENCE_URLS = [/^https:\/\/tailwindcss\.com$/];

const URL_RE = /https?:\/\/[^\s"'`)<>\\]+/g;

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

function inLicenceComment(text, index) {
  const open = text.lastIndexOf("/*!", index);
  if (open === -1) return false;
  const close = text.indexOf("*/", open);
  return close === -1 || close > index;
}

/** Returns a list of problems (empty when the build is clean). */
export function checkDist(dist) {
  const problems = [];
  if (!existsSync(join(dist, "index.html"))) return [`${dist}/index.html is missing: run npm run build`];
  for (const file of walk(dist)) {
    if (/\.(woff2?|png|jpe?g|gif|ico|webp)$/.test(file)) continue;
    const rel = relative(dist, file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(URL_RE)) {
      const url = m[0].replace(/[.,;]+$/, "");
      if (INERT.some((r) => r.re.test(url))) continue;
      if (LICENCE_URLS.some((r) => r.test(url)) && inLicenceComment(text, m.index)) continue;
      problems.push(`${rel}: external URL ${url}`);
    }
    if (/\.css$/.test(file)) {
      for (const m of text.matchAll(/url\(\s*["']?([^"')]+)["']?\s*\)/g)) {
        const target = m[1].trim();
        if (/^(data:|[a-z]+:|\/\/)/i.test(target)) {
          problems.push(`${rel}: stylesheet loads ${target.slice(0, 60)} (only files in dist are allowed)`);
        } else if (!target.startsWith("#") && !existsSync(resolve(dirname(file), target.split(/[?#]/)[0]))) {
          problems.push(`${rel}: stylesheet references missing file ${target}`);
        }
      }
      if (/@import\s+(url\()?["']?(https?:)?\/\//.test(text)) problems.push(`${rel}: @import of an external stylesheet`);
    }
  }
  const html = readFileSync(join(dist, "index.html"), "utf8");
  for (const m of html.matchAll(/\s(src|href)=["']([^"']+)["']/g)) {
    const value = m[2];
    if (m[1] === "href" && value === "/admin/") continue; // the <base> element
    if (/^([a-z]+:|\/\/|\/)/i.test(value)) problems.push(`index.html: ${m[1]}="${value}" is not a relative path`);
    else if (!existsSync(resolve(dist, value))) problems.push(`index.html: ${m[1]}="${value}" does not exist in dist`);
  }
  if (/<script(?![^>]*\bsrc=)[^>]*>/i.test(html)) problems.push("index.html: inline <script> (the CSP forbids it)");
  if (/<style[\s>]/i.test(html) || /\sstyle=/i.test(html)) problems.push("index.html: inline styles (the CSP forbids them)");
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dist = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "..", "dist"));
  const problems = checkDist(dist);
  if (problems.length) {
    console.error(`admin/dist is not self-contained:\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
  console.log(`admin/dist: no external URLs (${walk(dist).length} files checked)`);
}
