#!/usr/bin/env bun
// A vault-like test fixture; see README.md. Runs under bun (or node).
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { homedir } from "node:os";
import { createServer } from "node:http";

const VERSION = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")).version;
const root = () => process.env.PARACHUTE_HOME ?? join(homedir(), ".parachute");
const home = () => join(root(), "vault");
const [cmd, ...args] = process.argv.slice(2);

function record(name) {
  const env = {};
  for (const k of ["PARACHUTE_HOME", "PARACHUTE_HUB_ORIGIN", "PORT"]) if (k in process.env) env[k] = process.env[k];
  mkdirSync(root(), { recursive: true });
  appendFileSync(join(root(), "vault-fixture-calls.jsonl"), JSON.stringify({ cmd: name, argv: args, env }) + "\n");
}

function listVaults() {
  if (!existsSync(home())) return [];
  return readdirSync(home(), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(home(), d.name, "vault.yaml")))
    .map((d) => d.name)
    .sort();
}

function readConfig() {
  const p = join(home(), "config.yaml");
  const c = {};
  if (!existsSync(p)) return c;
  for (const line of readFileSync(p, "utf8").split("\n")) {
    const m = line.match(/^(\w+):\s*(.*)$/);
    if (m) c[m[1]] = m[2];
  }
  return c;
}

function writeConfig(c) {
  writeFileSync(join(home(), "config.yaml"), Object.entries(c).map(([k, v]) => `${k}: ${v}\n`).join(""));
}

function createVault(name) {
  mkdirSync(join(home(), name), { recursive: true });
  writeFileSync(join(home(), name, "vault.yaml"), `name: ${name}\n`);
  writeFileSync(join(home(), name, "vault.db"), "");
}

// upsertService is vault's services-manifest.ts: merge into the row so the
// hub's fields survive, with vault's own fields winning.
function upsertService(entry) {
  const p = join(root(), "services.json");
  const m = existsSync(p) ? JSON.parse(readFileSync(p, "utf8")) : { services: [] };
  const i = m.services.findIndex((s) => s.name === entry.name);
  if (i >= 0) m.services[i] = { ...m.services[i], ...entry };
  else m.services.push(entry);
  const tmp = `${p}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(m, null, 2) + "\n");
  renameSync(tmp, p);
}

function register(config) {
  const vaults = listVaults();
  const def = config.default_vault;
  const ordered = def && vaults.includes(def) ? [def, ...vaults.filter((v) => v !== def)] : vaults;
  upsertService({
    name: "parachute-vault",
    port: Number(config.port || 1940),
    paths: ordered.length ? ordered.map((v) => `/vault/${v}`) : ["/"],
    health: "/health",
    version: VERSION,
  });
}

function init() {
  record("init");
  const i = args.indexOf("--vault-name");
  const name = i >= 0 ? args[i + 1] : "default";
  if (!name || !/^[a-z0-9_-]{2,32}$/.test(name) || name === "list") {
    console.error(`invalid --vault-name ${JSON.stringify(name)}: vault names must be lowercase alphanumeric with hyphens or underscores, 2–32 characters`);
    process.exit(1);
  }
  console.log("Parachute Vault (fixture) — self-hosted knowledge graph");
  mkdirSync(home(), { recursive: true });
  const fail = process.env.VAULT_FIXTURE_FAIL_INIT;
  if (fail) {
    createVault(name);
    console.error("fixture: failing init as VAULT_FIXTURE_FAIL_INIT asked");
    process.exit(Number(fail));
  }
  const firstRun = !existsSync(join(home(), ".env"));
  if (listVaults().length === 0) {
    console.log(`Creating vault "${name}"...`);
    createVault(name);
  } else if (i >= 0) {
    console.log(`  --vault-name ignored: vaults already exist. Use \`parachute-vault create\` to add another.`);
  }
  const config = readConfig();
  if (!config.default_vault) config.default_vault = listVaults()[0];
  if (!config.port) config.port = "1940";
  if (args.includes("--no-autostart")) config.autostart = "false";
  writeConfig(config);
  register(config);
  if (firstRun) writeFileSync(join(home(), ".env"), `PORT=${config.port}\n`);
  if (config.autostart !== "false") {
    // The reference's init crashed here: systemctl --user without a user bus.
    console.log("Installing daemon...");
    writeFileSync(join(home(), "unit-install-attempted"), "");
    console.error("Failed to connect to bus: No medium found (systemctl --user daemon-reload)");
    process.exit(1);
  }
  console.log("Autostart disabled — skipping daemon registration.");
  console.log(`  Listening on http://127.0.0.1:${config.port}`);
}

function create() {
  record("create");
  const json = args.includes("--json");
  const name = args.filter((a) => !a.startsWith("--"))[0];
  if (!name || !/^[a-zA-Z0-9_-]+$/.test(name) || name === "list") {
    console.error("Vault name must contain only letters, numbers, hyphens, and underscores.");
    process.exit(1);
  }
  if (listVaults().includes(name)) {
    console.error(`Vault "${name}" already exists.`);
    process.exit(1);
  }
  mkdirSync(home(), { recursive: true });
  createVault(name);
  const config = readConfig();
  let setAsDefault = false;
  if (!config.default_vault) {
    config.default_vault = name;
    setAsDefault = true;
    writeConfig(config);
  }
  console.error("fixture: registering in services.json");
  register(config);
  const dir = join(home(), name);
  const out = { name, token: "", token_guidance: "the fixture mints no token",
    paths: { vault_dir: dir, vault_db: join(dir, "vault.db"), vault_config: join(dir, "vault.yaml") },
    set_as_default: setAsDefault };
  console.log(json ? JSON.stringify(out) : `Vault "${name}" created.`);
}

function serve() {
  const vaults = new Set(listVaults()); // read once: a new vault needs a restart, as with the real vault
  const port = Number(process.env.PORT || 1940);
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const send = (code, body) => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === "/health") return send(200, { ok: true, vaults: [...vaults] });
    const m = url.pathname.match(/^\/vault\/([^/]+)(\/.*)?$/);
    if (m && vaults.has(m[1])) {
      if ((m[2] ?? "/") === "/health") return send(200, { ok: true, vault: m[1] });
      return send(200, { vault: m[1], path: m[2] ?? "/" });
    }
    send(404, { error: "not_found", path: url.pathname });
  });
  server.listen(port, "127.0.0.1", () => console.log(`vault fixture listening on 127.0.0.1:${port}`));
  const stop = () => server.close(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

switch (cmd) {
  case "init": init(); break;
  case "create": create(); break;
  case "serve": serve(); break;
  case "--version": case "version": console.log(VERSION); break;
  default:
    console.error(`Unknown command: ${cmd}`);
    process.exit(1);
}
