#!/usr/bin/env node
// The registry's outbound feed, read the way CPR and Jobnet would read it.
//
// This consumer knows nothing of Skranke's Rust types: it trusts only the
// `/openapi.json` the registry serves, so it fails exactly when the feed
// breaks the published contract.
//
//   node tests/contract/feed-consumer.mjs read --url URL --token TOKEN
//   node tests/contract/feed-consumer.mjs confirm --url URL --token TOKEN \
//       --registered ID1,ID2 [--refuse RECORD_ID:SYSTEM:REASON ...]
//
// Exit status: 0 done, 1 the registry refused or broke the contract,
// 2 usage error.

import Ajv from "ajv";
import addFormats from "ajv-formats";

const PAGE_LIMIT = 50;
// A consumer must not hang for ever on a registry that stopped answering.
const REQUEST_TIMEOUT_MS = 30_000;

const USAGE = `usage:
  feed-consumer.mjs read --url URL --token TOKEN
  feed-consumer.mjs confirm --url URL --token TOKEN --registered ID1,ID2 [--refuse RECORD_ID:SYSTEM:REASON ...]`;

class UsageError extends Error {}
class ContractError extends Error {}

// ------------------------------------------------------------------ arguments

const OPTIONS = {
  read: ["url", "token"],
  confirm: ["url", "token", "registered", "refuse"],
};

function parseArgs(argv) {
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError("missing command: read or confirm");
  if (!(command in OPTIONS)) throw new UsageError(`unknown command '${command}': expected read or confirm`);
  const allowed = OPTIONS[command];
  const opts = { refuse: [] };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument '${arg}'`);
    // Both `--name value` and `--name=value`.
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (!allowed.includes(name)) throw new UsageError(`unknown option --${name} for ${command}`);
    const values = [];
    if (eq >= 0) {
      values.push(arg.slice(eq + 1));
    } else {
      if (i + 1 >= rest.length || rest[i + 1].startsWith("--")) throw new UsageError(`--${name} needs a value`);
      values.push(rest[++i]);
      // `--refuse a:b:c d:e:f` as well as `--refuse a:b:c --refuse d:e:f`.
      while (name === "refuse" && i + 1 < rest.length && !rest[i + 1].startsWith("--")) values.push(rest[++i]);
    }
    if (name === "refuse") {
      opts.refuse.push(...values);
    } else {
      if (name in opts) throw new UsageError(`--${name} given twice`);
      opts[name] = values[0];
    }
  }
  for (const name of allowed) {
    if (name !== "refuse" && opts[name] === undefined) throw new UsageError(`missing --${name}`);
  }
  let base;
  try {
    base = new URL(opts.url);
  } catch {
    throw new UsageError(`--url '${opts.url}' is not a URL`);
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") throw new UsageError(`--url must be http or https`);
  if (opts.token === "") throw new UsageError("--token is empty");
  const parsed = { command, url: opts.url.replace(/\/+$/, ""), token: opts.token };
  if (command === "confirm") {
    // An empty --registered is allowed: a consumer may only have refusals to report.
    parsed.registered = opts.registered.split(",").filter((id) => id !== "");
    parsed.refused = opts.refuse.map(parseRefusal);
  }
  return parsed;
}

function parseRefusal(text) {
  // The system and the reason never contain ':', so split from the right
  // and leave the record ID whole whatever it contains.
  const parts = text.split(":");
  if (parts.length < 3) throw new UsageError(`--refuse '${text}': expected RECORD_ID:SYSTEM:REASON`);
  const reason = parts.pop();
  const system = parts.pop();
  const record_id = parts.join(":");
  if (!record_id || !system || !reason) throw new UsageError(`--refuse '${text}': expected RECORD_ID:SYSTEM:REASON`);
  return { record_id, system, reason };
}

// ----------------------------------------------------------------------- HTTP

async function request(url, init = {}) {
  let resp;
  try {
    resp = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (e) {
    throw new ContractError(`${init.method ?? "GET"} ${url}: ${e.cause?.message ?? e.message}`);
  }
  const text = await resp.text();
  if (resp.status !== 200) {
    throw new ContractError(`${init.method ?? "GET"} ${url}: status ${resp.status}\n${text}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ContractError(`${init.method ?? "GET"} ${url}: status 200 but the body is not JSON\n${text}`);
  }
}

// ------------------------------------------------------------------- schemas

// OpenAPI 3.0 is not JSON Schema: its schemas live under
// `components.schemas` and refer to each other as `#/components/schemas/X`.
// We lift them into `$defs` of one JSON Schema and rewrite every ref to an
// absolute `<id>#/$defs/X`, so Ajv resolves them without seeing the rest of
// the document, and any part of a schema can also be compiled on its own.
const DOC_ID = "skranke-openapi.json";

function rewriteRefs(node) {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node === null || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    out[k] =
      k === "$ref" && typeof v === "string" ? v.replace(/^#\/components\/schemas\//, `${DOC_ID}#/$defs/`) : rewriteRefs(v);
  }
  return out;
}

async function loadSchemas(base) {
  const doc = await request(`${base}/openapi.json`);
  const schemas = doc?.components?.schemas;
  if (!schemas || typeof schemas !== "object") throw new ContractError("/openapi.json has no components.schemas");
  const defs = rewriteRefs(schemas);
  // strict: false because OpenAPI schemas may carry keywords JSON Schema
  // does not know (example, xml, discriminator...). `nullable` is one Ajv 8
  // implements itself; the formats (date, date-time) come from ajv-formats.
  // allErrors: an invalid item reports every broken field at once.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: DOC_ID, $defs: defs });
  const named = (name) => {
    if (!(name in defs)) throw new ContractError(`/openapi.json defines no schema ${name}`);
    return ajv.compile({ $ref: `${DOC_ID}#/$defs/${name}` });
  };
  return { defs, named, compile: (schema) => ajv.compile(schema) };
}

function describeErrors(errors, root = "(root)") {
  return errors.map((e) => {
    const allowed = e.keyword === "enum" ? ` ${JSON.stringify(e.params.allowedValues)}` : "";
    return `  ${e.instancePath || root} ${e.message}${allowed}`;
  });
}

// Why an item failed. Ajv's answer to a failed `oneOf` is every branch's
// complaint ("not a reprint: reprinted_at missing", ...), which buries the
// one that matters. FeedItem's branches each pin `kind` and `erased` with a
// one-value enum, so the item's own branch can be read off the document:
// report the item's common fields and that branch only. Without such a
// branch (an unknown kind, say) the common fields say why; failing that,
// report everything.
function itemExplainer(schema) {
  const item = schema.defs.FeedItem;
  const branches = Array.isArray(item?.oneOf) ? item.oneOf : [];
  const { oneOf: _, ...common } = item ?? {};
  const validCommon = schema.compile(common);
  const validBranch = branches.map((b) => schema.compile(b));
  const pinned = (prop, value) => !Array.isArray(prop?.enum) || prop.enum.includes(value);
  return (value, fallbackErrors) => {
    const i = branches.findIndex((b) => pinned(b.properties?.kind, value?.kind) && pinned(b.properties?.erased, value?.erased));
    const errors = [];
    if (!validCommon(value)) errors.push(...validCommon.errors);
    if (i >= 0 && !validBranch[i](value)) errors.push(...validBranch[i].errors);
    return describeErrors(errors.length ? errors : fallbackErrors, "(item)");
  };
}

// Names the item by what it has of seq, kind and record ID.
function itemFailure(item, lines) {
  const field = (name) => (item && typeof item === "object" && name in item ? JSON.stringify(item[name]) : "(missing)");
  const header = `invalid feed item: seq ${field("seq")}, kind ${field("kind")}, record_id ${field("record_id")}`;
  return new ContractError([header, ...lines].join("\n"));
}

// ----------------------------------------------------------------- commands

async function read({ url, token }) {
  const schema = await loadSchemas(url);
  const validPage = schema.named("FeedPage");
  const validItem = schema.named("FeedItem");
  const explain = itemExplainer(schema);
  const headers = { Authorization: `Bearer ${token}` };

  const records = {};
  let count = 0;
  let after = 0;
  for (;;) {
    const page = await request(`${url}/v1/feed?after=${after}&limit=${PAGE_LIMIT}`, { headers });
    if (!validPage(page)) {
      // Name the first item that breaks the contract; only if every item
      // is fine is the page itself wrong (e.g. next_after missing).
      for (const item of Array.isArray(page?.items) ? page.items : []) {
        if (!validItem(item)) throw itemFailure(item, explain(item, validItem.errors));
      }
      throw new ContractError([`invalid feed page after ${after}`, ...describeErrors(validPage.errors)].join("\n"));
    }
    if (page.items.length === 0) break;
    for (const item of page.items) {
      // Two promises the schema cannot state: the cursor only goes
      // forward (otherwise paging would never end), and the payload is
      // about the item's own record.
      if (item.seq <= after) throw itemFailure(item, [`  /seq ${item.seq} is not after the cursor ${after}`]);
      if (item.payload.record_id !== item.record_id) {
        throw itemFailure(item, [`  /payload/record_id ${JSON.stringify(item.payload.record_id)} differs from the item's record_id ${JSON.stringify(item.record_id)}`]);
      }
      after = item.seq;
      count++;
      apply(records, item);
    }
  }
  process.stdout.write(JSON.stringify({ items: count, records }) + "\n");
}

// What a consumer keeps per record. An erased item carries no personal
// data, so it changes nothing but the kinds seen; a record first met
// erased has no number or login to show.
function apply(records, item) {
  const r = (records[item.record_id] ??= {
    number: null,
    jobnet_username: null,
    password_hash: null,
    voided: false,
    desk: item.desk,
    kinds: [],
  });
  r.kinds.push(item.kind);
  r.desk = item.desk;
  if (item.erased) return;
  const p = item.payload;
  switch (item.kind) {
    case "issued":
      r.number = p.number;
      r.jobnet_username = p.jobnet_username;
      r.password_hash = p.password_hash;
      break;
    case "reprinted":
    case "login_amended":
      // Both supersede the hash in feed order; the later item wins.
      r.password_hash = p.password_hash;
      if (p.jobnet_username !== undefined) r.jobnet_username = p.jobnet_username;
      break;
    case "voided":
      r.voided = true;
      break;
    // `corrected` changes the person, which this summary does not hold.
  }
}

async function confirm({ url, token, registered, refused }) {
  const schema = await loadSchemas(url);
  const body = { registered, refused };
  // Check what we send against the same contract, so a bad --refuse is our
  // usage error and not the registry's 400.
  const validRequest = schema.named("FeedConfirm");
  if (!validRequest(body)) {
    throw new UsageError(["--registered/--refuse do not make a valid FeedConfirm:", ...describeErrors(validRequest.errors)].join("\n"));
  }
  const answer = await request(`${url}/v1/feed/confirm`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const validAnswer = schema.named("FeedConfirmResponse");
  if (!validAnswer(answer)) {
    throw new ContractError(["invalid FeedConfirmResponse:", ...describeErrors(validAnswer.errors), JSON.stringify(answer)].join("\n"));
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}

// ---------------------------------------------------------------------- main

try {
  const args = parseArgs(process.argv.slice(2));
  await (args.command === "read" ? read(args) : confirm(args));
} catch (e) {
  if (e instanceof UsageError) {
    process.stderr.write(`feed-consumer: ${e.message}\n${USAGE}\n`);
    process.exit(2);
  }
  process.stderr.write(`feed-consumer: ${e instanceof ContractError ? e.message : e.stack}\n`);
  process.exit(1);
}
