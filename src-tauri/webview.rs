//! The desk app's window on Windows is WebView2 (Microsoft Edge's engine).
//! Without its runtime Tauri cannot create the window: it panics with an
//! error that names no remedy and (as seen under Wine) runs on without a
//! window. So the app looks for the runtime before Tauri starts and, when
//! it is missing, says what IT must install and that the `skranke` CLI
//! still works (on stderr and in a message box), then exits with status 3.
//!
//! The check is the one Microsoft documents for the Evergreen runtime: the
//! value `pv` (the installed version) of the runtime's EdgeUpdate client key,
//! per machine (under `WOW6432Node` on 64-bit Windows, where the installer
//! is 32-bit) or per user (a runtime installed without elevation). A missing
//! value, an empty one or `0.0.0.0` (left by an uninstall) means no runtime.

/// The exit status when the WebView2 runtime is missing (README, Windows).
#[cfg(windows)]
const EXIT_NO_WEBVIEW: i32 = 3;

/// The WebView2 runtime's client ID in EdgeUpdate's registry.
const CLIENT_KEY: &str = r"Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}";

/// Which registry hive a location is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Hive {
    LocalMachine,
    CurrentUser,
}

/// Where an installed runtime records its version, in the order Microsoft
/// lists them: per machine on 64-bit Windows, per machine on 32-bit Windows,
/// per user.
fn locations() -> [(Hive, String); 3] {
    [
        (Hive::LocalMachine, format!(r"SOFTWARE\WOW6432Node\{CLIENT_KEY}")),
        (Hive::LocalMachine, format!(r"SOFTWARE\{CLIENT_KEY}")),
        (Hive::CurrentUser, format!(r"Software\{CLIENT_KEY}")),
    ]
}

/// Whether a `pv` value names an installed runtime.
fn is_installed_version(pv: &str) -> bool {
    let pv = pv.trim_end_matches('\0').trim();
    !pv.is_empty() && pv != "0.0.0.0"
}

/// Whether any location holds an installed version; `read_pv` reads the
/// `pv` value of a key (None when the key or the value is absent).
pub(crate) fn runtime_found(read_pv: impl Fn(Hive, &str) -> Option<String>) -> bool {
    locations().iter().any(|(hive, key)| read_pv(*hive, key).is_some_and(|pv| is_installed_version(&pv)))
}

/// Ends the process, saying the runtime is missing, unless it is installed.
#[cfg(windows)]
pub(crate) fn require_runtime() {
    if runtime_found(sys::read_pv) {
        return;
    }
    let lang = crate::startup_lang();
    let text = skranke_core::i18n::text(lang, "webview.missing");
    eprintln!("{text}");
    // Under Wine without a display MessageBoxW fails at once (-1,
    // ERROR_INVALID_WINDOW_HANDLE; tests/windows/package.rs bounds the
    // run); stderr has said it already.
    sys::message_box(skranke_core::i18n::text(lang, "webview.missing_title"), text);
    std::process::exit(EXIT_NO_WEBVIEW);
}

#[cfg(windows)]
mod sys {
    use std::ptr;

    use windows_sys::Win32::Foundation::{ERROR_MORE_DATA, ERROR_SUCCESS};
    use windows_sys::Win32::System::Registry::{RegGetValueW, HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE, RRF_RT_REG_SZ};
    use windows_sys::Win32::UI::WindowsAndMessaging::{MessageBoxW, MB_ICONERROR, MB_OK, MB_SETFOREGROUND};

    use super::Hive;

    fn wide(s: &str) -> Vec<u16> {
        s.encode_utf16().chain(Some(0)).collect()
    }

    /// The `pv` string of `key` in `hive`, when the key and value exist.
    pub(super) fn read_pv(hive: Hive, key: &str) -> Option<String> {
        let root = match hive {
            Hive::LocalMachine => HKEY_LOCAL_MACHINE,
            Hive::CurrentUser => HKEY_CURRENT_USER,
        };
        let key = wide(key);
        let name = wide("pv");
        // A version is some twenty characters; grow once if it is longer.
        let mut buf: Vec<u16> = vec![0; 64];
        loop {
            let mut bytes = (buf.len() * 2) as u32;
            // SAFETY: the key and value names are NUL-terminated UTF-16;
            // `buf` has `bytes` writable bytes, and RegGetValueW writes at
            // most that many and stores the length it wrote (or needs) there.
            let status = unsafe {
                RegGetValueW(
                    root,
                    key.as_ptr(),
                    name.as_ptr(),
                    RRF_RT_REG_SZ,
                    ptr::null_mut(),
                    buf.as_mut_ptr().cast(),
                    &mut bytes,
                )
            };
            match status {
                ERROR_SUCCESS => {
                    let chars = (bytes as usize / 2).min(buf.len());
                    return Some(String::from_utf16_lossy(&buf[..chars]));
                }
                ERROR_MORE_DATA if (bytes as usize) > buf.len() * 2 => buf.resize(bytes as usize / 2 + 1, 0),
                _ => return None,
            }
        }
    }

    /// An error box with `text`, waiting for OK where a desktop shows it.
    pub(super) fn message_box(title: &str, text: &str) {
        let (title, text) = (wide(title), wide(text));
        // SAFETY: both strings are NUL-terminated UTF-16 that outlive the
        // call; a null owner window is allowed.
        unsafe {
            MessageBoxW(ptr::null_mut(), text.as_ptr(), title.as_ptr(), MB_OK | MB_ICONERROR | MB_SETFOREGROUND);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::{runtime_found, Hive};

    const MACHINE_64: &str =
        r"SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}";
    const MACHINE_32: &str = r"SOFTWARE\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}";
    const USER: &str = r"Software\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}";

    fn registry(values: &[(Hive, &str, &str)]) -> impl Fn(Hive, &str) -> Option<String> {
        let map: HashMap<(Hive, String), String> =
            values.iter().map(|(h, k, v)| ((*h, k.to_string()), v.to_string())).collect();
        move |hive, key| map.get(&(hive, key.to_string())).cloned()
    }

    #[test]
    fn a_version_in_any_documented_location_is_an_installed_runtime() {
        assert!(runtime_found(registry(&[(Hive::LocalMachine, MACHINE_64, "131.0.2903.70")])));
        assert!(runtime_found(registry(&[(Hive::LocalMachine, MACHINE_32, "131.0.2903.70")])));
        assert!(runtime_found(registry(&[(Hive::CurrentUser, USER, "131.0.2903.70\0")])));
    }

    #[test]
    fn no_value_an_empty_one_or_zeros_mean_no_runtime() {
        assert!(!runtime_found(registry(&[])));
        assert!(!runtime_found(registry(&[
            (Hive::LocalMachine, MACHINE_64, ""),
            (Hive::LocalMachine, MACHINE_32, "0.0.0.0"),
            (Hive::CurrentUser, USER, " \0"),
        ])));
    }
}
