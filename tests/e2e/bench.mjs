// Benchmark of the desk window (run by scripts/bench/40-desk-window.sh):
// cold start to the first form being interactive, and the summed PSS of the
// app and its WebKit processes after issuing 20 records, next to an empty
// Tauri window measured in the same run. Prints BENCH lines for
// scripts/bench/report.py.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startApp } from "./driver.mjs";
import { completeForm, firstStartTraining, handoutSettings, scan, screen, signIn, td3, yymmdd } from "./desk.mjs";

const target = process.env.CARGO_TARGET_DIR ?? join(import.meta.dirname, "../../target");
// The release build (scripts/bench.sh builds it); SKRANKE_BENCH_PROFILE=debug for the test build.
const profile = process.env.SKRANKE_BENCH_PROFILE ?? "release";
const deskApp = join(target, profile, "skranke-desk");
const emptyWindow = join(target, profile, "examples", "empty_window");
const PW = "correct horse battery staple";
// The CUPS PDF queue of scripts/ci/cups-setup.sh: the 20 handouts really print.
const PRINTER = process.env.SKRANKE_TEST_PRINTER ?? "skranke-test";
const RUNS = Number(process.env.SKRANKE_BENCH_RUNS ?? 5);
// Xvfb has no GPU: accelerated compositing would run on Mesa's software
// renderer and charge its buffers to the web process. A counter PC composits
// on its GPU; both the desk and the baseline run with compositing off here.
const ENV = { ...(process.env.MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX } : {}), WEBKIT_DISABLE_COMPOSITING_MODE: process.env.SKRANKE_BENCH_COMPOSITING === "1" ? "0" : "1" };

/** PSS in kB of a process. */
function pss(pid) {
  try {
    const m = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8").match(/^Pss:\s+(\d+) kB/m);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function processes() {
  const out = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0")[0];
      out.push({ pid: Number(d), ppid, cmd });
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** Summed PSS (MB) of the process running `exe` and its descendants (WebKit's web and network processes). */
function treePss(exe) {
  const all = processes();
  const roots = all.filter((p) => p.cmd === exe);
  const seen = new Set(roots.map((p) => p.pid));
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) if (!seen.has(p.pid) && seen.has(p.ppid)) (seen.add(p.pid), (grew = true));
  }
  let kb = 0;
  const parts = [];
  for (const pid of seen) {
    const k = pss(pid);
    kb += k;
    const name = (all.find((p) => p.pid === pid)?.cmd ?? "").split("/").pop();
    parts.push(`${name} ${Math.round(k / 1024)}`);
  }
  return { mb: kb / 1024, processes: seen.size, parts: parts.join(", ") };
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1], runs: s.length };
};

/** The empty window under the same driver and environment as the desk (WebDriver automation included). */
async function emptyBaseline() {
  const app = await startApp({ application: emptyWindow, env: ENV });
  try {
    await sleep(3000);
    return treePss(emptyWindow);
  } finally {
    await app.stop();
  }
}

async function coldStart(dataDir) {
  const t0 = Date.now();
  const app = await startApp({ application: deskApp, env: { ...ENV, SKRANKE_DATA_DIR: dataDir } });
  try {
    const main = await app.browser.$("#main");
    await app.browser.waitUntil(async () => (await main.getAttribute("data-ready-at")) !== null, { timeout: 30000 });
    return Number(await main.getAttribute("data-ready-at")) - t0;
  } finally {
    await app.stop();
  }
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), "skranke-bench-"));
  try {
    // A desk to start on: first start once, then cold starts to sign-in.
    const setup = await startApp({ application: deskApp, env: { ...ENV, SKRANKE_DATA_DIR: dataDir } });
    await firstStartTraining(setup.browser, "admin", PW);
    await signIn(setup.browser, "admin", PW);
    await handoutSettings(setup.browser, PRINTER);
    await setup.stop();
    const starts = [];
    for (let i = 0; i < RUNS; i++) starts.push(await coldStart(dataDir));
    const s = stats(starts);
    console.log("BENCH " + JSON.stringify({ figure: "desk: cold start to the first interactive form", unit: "ms", ...s, target: "< 1500 ms", met: s.median < 1500, note: "process start to the sign-in form focused (tauri-driver session start included)" }));

    const base = await emptyBaseline();
    const app = await startApp({ application: deskApp, env: { ...ENV, SKRANKE_DATA_DIR: dataDir } });
    let desk;
    try {
      const b = app.browser;
      await signIn(b, "admin", PW);
      await sleep(1000);
      const before = treePss(deskApp);
      console.error(`PSS at the form before issuing: ${Math.round(before.mb)} MB (${before.parts})`);
      for (let i = 0; i < 20; i++) {
        const surname = "BENCH" + String.fromCharCode(65 + i);
        await scan(b, td3({ surname, given: "ANNA", number: `BN${String(1000000 + i)}`, birth: `8804${String(i + 1).padStart(2, "0")}`, sex: i % 2 ? "M" : "F", expiry: yymmdd(3) }));
        await completeForm(b);
        await (await b.$("#f-surname")).click();
        await b.keys("Enter");
        await screen(b, "review");
        await b.keys("Enter");
        await screen(b, "result", 60000);
        await b.keys("Enter");
        await screen(b, "applicant", 30000);
      }
      await sleep(1000);
      desk = treePss(deskApp);
    } finally {
      await app.stop();
    }
    console.log("BENCH " + JSON.stringify({ figure: "desk: PSS of app and WebKit after 20 issues", unit: "MB", median: Math.round(desk.mb), min: Math.round(desk.mb), max: Math.round(desk.mb), runs: 1, baseline: "empty Tauri window", baseline_median: Math.round(base.mb), ratio: Number((desk.mb / base.mb).toFixed(2)), target: "< 250 MB", met: desk.mb < 250, note: `MB per process: ${desk.parts}; baseline: ${base.parts}` }));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    const spool = `/var/spool/cups-pdf-${PRINTER}`;
    try {
      for (const f of readdirSync(spool)) rmSync(join(spool, f), { force: true });
    } catch {
      // No spool folder: nothing printed here.
    }
  }
}

await main();
