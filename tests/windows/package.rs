//! What municipal IT installs on a counter PC, tested on Linux: the desk
//! app's Windows build (`skranke-desk.exe`) and the MSI that carries it with
//! `skranke.exe` (packaging/windows/skranke.wxs, built by scripts/msi.sh).
//!
//! Wine has no WebView2, so the desk app cannot open its window here: the
//! tests check that it is a 64-bit GUI program with its resources and the UI
//! inside, and that it starts far enough to say, in the catalogs' words,
//! that the runtime is missing (exit status 3) without hanging on the
//! message box. The MSI is read with msitools' `msiinfo`, then installed,
//! upgraded, refused as a downgrade and uninstalled with Wine's `msiexec`.
//!
//! A test target of `skranke-cli` beside `tests/windows/wine.rs`, so that it
//! shares that target's Linux build; `cargo test` runs it only when named,
//! as scripts/windows.sh does, passing `SKRANKE_WINE` (the wine64 loader),
//! `SKRANKE_WINDOWS_DESK_EXE` (skranke-desk.exe, beside skranke.exe),
//! `SKRANKE_WINDOWS_MSI` (the MSI built from those two) and `WINEPREFIX`
//! (the fresh prefix of that script).
#![cfg(target_os = "linux")]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use skranke_core::i18n::{text, Lang};

/// Skranke's UpgradeCode, the same in every MSI (packaging/windows/skranke.wxs).
const UPGRADE_CODE: &str = "{8E1C10CF-9071-43AD-B543-A707CBE87CC9}";
/// The key of WebView2's EdgeUpdate client in the current user's hive.
const WEBVIEW_USER_KEY: &str = r"HKCU\Software\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}";
/// Where Windows lists installed programs (64-bit view, per machine).
const UNINSTALL_KEY: &str = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall";
/// What the MSI installs, all in `C:\Program Files\Skranke`.
const FILES: [&str; 3] = ["skranke-desk.exe", "WebView2Loader.dll", "skranke.exe"];
/// Longer than Wine needs to start a program on a loaded 2-core machine;
/// a desk app that waited on its message box would pass it.
const LIMIT: Duration = Duration::from_secs(90);

fn setting(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run this test through scripts/windows.sh"))
}

fn prefix() -> PathBuf {
    let prefix = PathBuf::from(setting("WINEPREFIX"));
    assert!(prefix.join("drive_c").is_dir(), "WINEPREFIX is no Wine prefix");
    prefix
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A Windows program under Wine, with no display (as on a server) and none
/// of the caller's `SKRANKE_*` settings.
fn wine(args: &[&str]) -> Command {
    prefix();
    let mut cmd = Command::new(setting("SKRANKE_WINE"));
    cmd.args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SKRANKE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
    cmd
}

/// Runs `cmd` until it ends, `limit` passes or what it wrote to stderr so
/// far satisfies `enough`; a process still running then is killed, and its
/// status is None.
fn run_until(
    cmd: &mut Command,
    limit: Duration,
    enough: impl Fn(&[u8]) -> bool,
) -> (Option<ExitStatus>, Vec<u8>, Vec<u8>) {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("wine starts");
    let reader = |mut pipe: Box<dyn Read + Send>| {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&bytes);
        let thread = std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                sink.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        (bytes, thread)
    };
    let (out, out_thread) = reader(Box::new(child.stdout.take().unwrap()));
    let (err, err_thread) = reader(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for wine") {
            break Some(status);
        }
        if start.elapsed() > limit || enough(&err.lock().unwrap()) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // A program's children (a wineserver it started) may hold the pipes
    // open: wait a little for the end of its output, then take what is there.
    let drained = Instant::now();
    while !(out_thread.is_finished() && err_thread.is_finished()) && drained.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let take = |bytes: Arc<Mutex<Vec<u8>>>| std::mem::take(&mut *bytes.lock().unwrap());
    (status, take(out), take(err))
}

/// Runs `cmd` to its end, or fails the test once `LIMIT` has passed.
fn run_bounded(cmd: &mut Command) -> Output {
    match run_until(cmd, LIMIT, |_| false) {
        (Some(status), stdout, stderr) => Output { status, stdout, stderr },
        (None, _, stderr) => {
            panic!("{cmd:?} did not end within {} s: {}", LIMIT.as_secs(), String::from_utf8_lossy(&stderr))
        }
    }
}

fn texts(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[track_caller]
fn succeeds(cmd: &mut Command) -> Output {
    let o = run_bounded(cmd);
    assert!(o.status.success(), "{}", texts(&o));
    o
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// The PE header facts the tests check.
#[derive(Debug)]
struct Pe {
    machine: u16,
    subsystem: u16,
    sections: Vec<String>,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn pe(bytes: &[u8]) -> Pe {
    assert_eq!(&bytes[..2], b"MZ", "no DOS header");
    let pe = u32::from_le_bytes(bytes[0x3c..0x40].try_into().unwrap()) as usize;
    assert_eq!(&bytes[pe..pe + 4], b"PE\0\0", "no PE signature");
    let coff = pe + 4;
    let optional = coff + 20;
    assert_eq!(u16_at(bytes, optional), 0x20b, "not PE32+ (64-bit)");
    let table = optional + usize::from(u16_at(bytes, coff + 16));
    let sections = (0..usize::from(u16_at(bytes, coff + 2)))
        .map(|i| {
            let name = &bytes[table + 40 * i..table + 40 * i + 8];
            String::from_utf8_lossy(name).trim_end_matches('\0').to_string()
        })
        .collect();
    Pe { machine: u16_at(bytes, coff), subsystem: u16_at(bytes, optional + 68), sections }
}

/// Whether a VERSIONINFO string `key` = `value` is in `exe`: the key and
/// its NUL in UTF-16, padding to 32 bits, the value.
fn version_resource_has(exe: &[u8], key: &str, value: &str) -> bool {
    [0, 2].iter().any(|&pad| {
        let mut entry = utf16(key);
        entry.extend(std::iter::repeat_n(0, 2 + pad));
        entry.extend(utf16(value));
        contains(exe, &entry)
    })
}

/// Every file of the built UI, as the path the app serves it under.
fn ui_assets(dir: &Path, base: &str, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let name = format!("{base}/{}", path.file_name().unwrap().to_string_lossy());
        if path.is_dir() {
            ui_assets(&path, &name, out);
        } else {
            out.push(name);
        }
    }
}

#[test]
fn the_desk_app_is_a_64_bit_gui_program_with_its_icon_manifest_and_the_built_ui_inside() {
    let exe = std::fs::read(setting("SKRANKE_WINDOWS_DESK_EXE")).expect("skranke-desk.exe is there");
    let header = pe(&exe);
    assert_eq!(header.machine, 0x8664, "not x86-64: {header:?}");
    // IMAGE_SUBSYSTEM_WINDOWS_GUI: no console window behind the app.
    assert_eq!(header.subsystem, 2, "not a GUI program: {header:?}");
    // The resources MinGW's windres compiled: the icon, the version and
    // the manifest (Common Controls 6, which Tauri's dialogs need).
    assert!(header.sections.iter().any(|s| s == ".rsrc"), "no resources: {header:?}");
    assert!(contains(&exe, b"Microsoft.Windows.Common-Controls"), "no application manifest");
    for (key, value) in [("ProductName", "Skranke"), ("ProductVersion", skranke_core::VERSION)] {
        assert!(version_resource_has(&exe, key, value), "the version resource lacks {key} {value}");
    }
    let mut assets = Vec::new();
    ui_assets(&repo().join("ui/dist"), "", &mut assets);
    assert!(assets.iter().any(|a| a == "/index.html"), "ui/dist is not built: {assets:?}");
    for asset in &assets {
        assert!(contains(&exe, asset.as_bytes()), "{asset} of ui/dist is not in the program (no custom-protocol?)");
    }
}

/// Runs the desk app; returns its exit status and what it wrote to stderr.
fn desk_app(exe: &str, lang: Option<&str>) -> (Option<i32>, String) {
    let mut cmd = wine(&[exe]);
    if let Some(lang) = lang {
        cmd.env("SKRANKE_LANG", lang);
    }
    let o = run_bounded(&mut cmd);
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[track_caller]
fn says_webview2_is_missing(exe: &str, lang: Option<&str>, expected: Lang) {
    let (code, err) = desk_app(exe, lang);
    assert_eq!(code, Some(3), "{err}");
    let message = text(expected, "webview.missing");
    assert!(message.contains("WebView2") && message.contains("skranke.exe"), "{message}");
    assert!(err.contains(message), "stderr lacks the {expected:?} message: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn reg(args: &[&str]) -> Output {
    succeeds(wine(&["reg"]).args(args))
}

/// The tests that change the prefix (its registry, Program Files) take
/// turns: one of them makes the desk app find a WebView2 runtime for a while.
static PREFIX: Mutex<()> = Mutex::new(());

fn own_prefix() -> std::sync::MutexGuard<'static, ()> {
    PREFIX.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One test, because the cases share the prefix's registry.
#[test]
fn without_the_webview2_runtime_the_desk_app_says_so_in_the_catalogs_words_and_exits_3() {
    let _prefix = own_prefix();
    let exe = setting("SKRANKE_WINDOWS_DESK_EXE");
    says_webview2_is_missing(&exe, None, Lang::Da);
    says_webview2_is_missing(&exe, Some("en"), Lang::En);
    // What an uninstalled runtime leaves behind still means no runtime.
    reg(&["add", WEBVIEW_USER_KEY, "/v", "pv", "/t", "REG_SZ", "/d", "0.0.0.0", "/f"]);
    says_webview2_is_missing(&exe, Some("en"), Lang::En);
    // With a version there the check lets Tauri start, which then fails to
    // open a window under Wine (it panics, then waits): the check reads
    // the registry. It is past the check once it has panicked or runs on.
    reg(&["add", WEBVIEW_USER_KEY, "/v", "pv", "/t", "REG_SZ", "/d", "131.0.2903.70", "/f"]);
    let (status, _, err) = run_until(wine(&[exe.as_str()]).env("SKRANKE_LANG", "en"), Duration::from_secs(20), |err| {
        contains(err, b"panicked")
    });
    reg(&["delete", WEBVIEW_USER_KEY, "/f"]);
    let err = String::from_utf8_lossy(&err);
    assert_ne!(status.and_then(|s| s.code()), Some(3), "{err}");
    assert!(!err.contains(text(Lang::En, "webview.missing")), "{err}");
}

/// A table of the MSI as `msiinfo export` writes it: the rows after the
/// three header lines (names, types, key), split at tabs.
fn msi_table(msi: &Path, table: &str) -> Vec<Vec<String>> {
    let o = succeeds(Command::new("msiinfo").arg("export").arg(msi).arg(table));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .skip(3)
        .map(|l| l.trim_end_matches('\r').split('\t').map(str::to_string).collect())
        .collect()
}

fn property(msi: &Path, name: &str) -> Option<String> {
    msi_table(msi, "Property").into_iter().find(|row| row[0] == name).map(|row| row[1].clone())
}

#[test]
fn the_msi_installs_both_programs_per_machine_with_a_start_menu_shortcut_the_version_and_the_upgrade_code() {
    let msi = PathBuf::from(setting("SKRANKE_WINDOWS_MSI"));
    let tables =
        String::from_utf8_lossy(&succeeds(Command::new("msiinfo").arg("tables").arg(&msi)).stdout).into_owned();
    for table in ["File", "Component", "Directory", "Shortcut", "Property", "Upgrade", "LaunchCondition", "Media"] {
        assert!(tables.lines().any(|t| t == table), "no {table} table: {tables}");
    }
    // The two programs and the WebView2 loader the desk app needs to start,
    // at their full size (the cabinet is in the MSI).
    let bin = Path::new(&setting("SKRANKE_WINDOWS_DESK_EXE")).parent().unwrap().to_path_buf();
    let files = msi_table(&msi, "File");
    for name in FILES {
        let row =
            files.iter().find(|r| r[2] == name).unwrap_or_else(|| panic!("{name} not in the File table: {files:?}"));
        let size = std::fs::metadata(bin.join(name)).unwrap().len().to_string();
        assert_eq!(row[3], size, "{name}");
    }
    assert_eq!(files.len(), FILES.len(), "{files:?}");
    let dirs = msi_table(&msi, "Directory");
    assert!(
        dirs.iter().any(|r| r[0] == "INSTALLDIR" && r[1] == "ProgramFiles64Folder" && r[2] == "Skranke"),
        "{dirs:?}"
    );
    assert!(
        msi_table(&msi, "Component").iter().all(|r| r[2] == "INSTALLDIR" && r[3] == "256"),
        "not 64-bit components"
    );

    assert_eq!(property(&msi, "ProductVersion").as_deref(), Some(skranke_core::VERSION));
    assert_eq!(property(&msi, "UpgradeCode").as_deref(), Some(UPGRADE_CODE));
    assert_eq!(property(&msi, "ALLUSERS").as_deref(), Some("1"));
    let comments = property(&msi, "ARPCOMMENTS").unwrap_or_default();
    assert!(comments.contains("WebView2 Runtime (Evergreen)"), "{comments}");
    let summary =
        String::from_utf8_lossy(&succeeds(Command::new("msiinfo").arg("suminfo").arg(&msi)).stdout).into_owned();
    assert!(summary.contains("Template: x64;"), "not a 64-bit package: {summary}");

    // The Start menu's shortcut runs the desk app from where it is installed.
    let shortcuts = msi_table(&msi, "Shortcut");
    assert_eq!(shortcuts.len(), 1, "{shortcuts:?}");
    let s = &shortcuts[0];
    assert_eq!(
        (s[1].as_str(), s[2].as_str(), s[4].as_str()),
        ("ProgramMenuFolder", "Skranke", "[#SkrankeDeskExe]"),
        "{s:?}"
    );

    // MajorUpgrade: older versions of this UpgradeCode are removed, newer
    // ones detected, and the launch condition refuses the downgrade.
    let upgrade = msi_table(&msi, "Upgrade");
    assert!(
        upgrade.iter().any(|r| r[0] == UPGRADE_CODE
            && r[1].is_empty()
            && r[2] == skranke_core::VERSION
            && r[6] == "WIX_UPGRADE_DETECTED"),
        "{upgrade:?}"
    );
    assert!(
        upgrade
            .iter()
            .any(|r| r[0] == UPGRADE_CODE && r[1] == skranke_core::VERSION && r[6] == "WIX_DOWNGRADE_DETECTED"),
        "{upgrade:?}"
    );
    assert!(msi_table(&msi, "LaunchCondition").iter().any(|r| r[0] == "NOT WIX_DOWNGRADE_DETECTED"));
}

/// The installed programs named Skranke, as (product code, version), from
/// the uninstall keys Windows lists in Settings > Apps.
fn installed_products() -> Vec<(String, String)> {
    let o = reg(&["query", UNINSTALL_KEY, "/s"]);
    let mut found = Vec::new();
    let mut key = String::new();
    let (mut name, mut version) = (None::<String>, None::<String>);
    let mut flush = |key: &str, name: &mut Option<String>, version: &mut Option<String>| {
        if name.take().as_deref() == Some("Skranke") {
            found.push((key.rsplit('\\').next().unwrap().to_string(), version.take().unwrap_or_default()));
        }
        *version = None;
    };
    for line in String::from_utf8_lossy(&o.stdout).lines().map(|l| l.trim_end_matches('\r')) {
        if line.starts_with("HKEY_") {
            flush(&key, &mut name, &mut version);
            key = line.to_string();
        } else if let [value, "REG_SZ", data @ ..] = &line.split_whitespace().collect::<Vec<_>>()[..] {
            match *value {
                "DisplayName" => name = Some(data.join(" ")),
                "DisplayVersion" => version = Some(data.join(" ")),
                _ => {}
            }
        }
    }
    flush(&key, &mut name, &mut version);
    found
}

fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

fn msiexec(args: &[&str]) -> Output {
    run_bounded(wine(&["msiexec"]).args(args))
}

/// The next minor version after `version` (0.1.0 → 0.2.0).
fn next_minor(version: &str) -> String {
    let parts: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
    format!("{}.{}.0", parts[0], parts[1] + 1)
}

#[test]
fn wines_msiexec_installs_silently_a_newer_msi_replaces_it_an_older_one_is_refused_and_uninstall_removes_it() {
    let _prefix = own_prefix();
    let msi = PathBuf::from(setting("SKRANKE_WINDOWS_MSI"));
    let version = skranke_core::VERSION;
    let dir = prefix().join("drive_c/Program Files/Skranke");
    let bin = Path::new(&setting("SKRANKE_WINDOWS_DESK_EXE")).parent().unwrap().to_path_buf();
    assert!(!dir.exists(), "{} exists before the install", dir.display());

    let o = msiexec(&["/i", &windows_path(&msi), "/qn"]);
    assert!(o.status.success(), "install: {}", texts(&o));
    for name in FILES {
        assert_eq!(std::fs::read(dir.join(name)).unwrap(), std::fs::read(bin.join(name)).unwrap(), "{name}");
    }
    // Per machine, the Windows Installer puts ProgramMenuFolder in the
    // common Start menu (ProgramData); Wine's msi always uses the user's
    // (its package.c says so as a known gap for ALLUSERS), so either is
    // taken here, and the MSI's ALLUSERS is checked above.
    let users = prefix().join("drive_c/users");
    let mut menus = vec![prefix().join("drive_c/ProgramData/Microsoft/Windows/Start Menu/Programs")];
    for user in std::fs::read_dir(&users).unwrap() {
        menus.push(user.unwrap().path().join("AppData/Roaming/Microsoft/Windows/Start Menu/Programs"));
    }
    let links: Vec<PathBuf> = menus.iter().map(|m| m.join("Skranke.lnk")).filter(|l| l.is_file()).collect();
    assert_eq!(links.len(), 1, "no single Skranke.lnk in {menus:?}");
    let link = std::fs::read(&links[0]).unwrap();
    let target = r"C:\Program Files\Skranke\skranke-desk.exe";
    assert!(
        contains(&link, target.as_bytes()) || contains(&link, &utf16(target)),
        "the shortcut does not run {target}"
    );

    let installed_cli = r"C:\Program Files\Skranke\skranke.exe";
    let o = succeeds(&mut wine(&[installed_cli, "--version"]));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), format!("skranke {version}"));
    let (code, err) = desk_app(target, None);
    assert_eq!(code, Some(3), "the installed desk app: {err}");
    let products = installed_products();
    assert_eq!(products.len(), 1, "{products:?}");
    assert_eq!(products[0].1, version);
    let first_code = property(&msi, "ProductCode").unwrap();
    assert_eq!(products[0].0, first_code);

    // A newer MSI (same programs, higher version) replaces the installed one.
    let work = tempfile::tempdir().unwrap();
    let newer_version = next_minor(version);
    let built = succeeds(
        Command::new("bash").arg(repo().join("scripts/msi.sh")).arg(&bin).arg(work.path()).arg(&newer_version),
    );
    let newer = work.path().join(format!("skranke-{newer_version}.msi"));
    assert_eq!(String::from_utf8_lossy(&built.stdout).trim(), newer.to_str().unwrap());
    let newer_code = property(&newer, "ProductCode").unwrap();
    assert_ne!(newer_code, first_code, "each build is a product of its own");
    let o = msiexec(&["/i", &windows_path(&newer), "/qn"]);
    assert!(o.status.success(), "upgrade: {}", texts(&o));
    assert_eq!(installed_products(), vec![(newer_code.clone(), newer_version.clone())]);
    assert!(FILES.iter().all(|name| dir.join(name).is_file()), "{}", dir.display());

    // The older one is refused over the newer: msiexec ends with 1603
    // (ERROR_INSTALL_FAILURE, the launch condition), of which a Linux
    // parent sees the low byte.
    let o = msiexec(&["/i", &windows_path(&msi), "/qn"]);
    assert_eq!(o.status.code(), Some(1603 & 0xff), "downgrade: {}", texts(&o));
    assert_eq!(installed_products(), vec![(newer_code.clone(), newer_version)]);

    // Silent uninstall by product code, as Intune and SCCM do it.
    let o = msiexec(&["/x", &newer_code, "/qn"]);
    assert!(o.status.success(), "uninstall: {}", texts(&o));
    assert!(installed_products().is_empty(), "{:?}", installed_products());
    assert!(!dir.exists(), "{} is left after the uninstall", dir.display());
    assert!(links.iter().all(|l| !l.exists()), "the shortcut is left after the uninstall");
}
