#!/usr/bin/env bun
// A scribe-like fixture: `parachute-scribe serve` listens on $PORT and
// reads <PARACHUTE_HOME>/scribe/config.json and its environment once, at
// boot, as the real scribe does. GET /health (or /scribe/health) answers
// ok; GET /boot reports what it read then, without any secret's value,
// so a test can tell whether the hub wrote scribe's configuration before
// its first start.
import { readFileSync } from "node:fs";
import { join } from "node:path";

const [cmd] = process.argv.slice(2);
if (cmd !== "serve") {
  console.error(`parachute-scribe (fixture): unknown command ${cmd ?? "(none)"}`);
  process.exit(2);
}

const home = process.env.PARACHUTE_HOME ?? "";
let config = {};
try {
  config = JSON.parse(readFileSync(join(home, "scribe", "config.json"), "utf8"));
} catch {}
const boot = {
  provider: config?.transcribe?.provider ?? null,
  requiredTokenSet: typeof config?.auth?.required_token === "string" && config.auth.required_token.length > 0,
  groqKeySet: (process.env.GROQ_API_KEY ?? "").length > 0,
};

Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT),
  fetch(req) {
    const path = new URL(req.url).pathname.replace(/^\/scribe/, "") || "/";
    if (path === "/health") return Response.json({ status: "ok" });
    if (path === "/boot") return Response.json(boot);
    return new Response("not found\n", { status: 404 });
  },
});
console.log(`parachute-scribe (fixture) listening on ${process.env.PORT}`);
process.on("SIGTERM", () => process.exit(0));
