//! What a municipality sets at the registry for every desk of its own, and
//! what the deployment requires of every desk.
//!
//! - Municipality settings (`skranke-registry settings set|unset|list`): the
//!   privacy notice (controller, contact, data protection officer, a
//!   retention note), the days an unchanged initial password lives, the idle
//!   lock and the handout languages offered, by the desk's setting keys
//!   ([`skranke_protocol::municipality_setting`]). Each signed sync answer
//!   carries the desk's municipality's settings; the desk applies them over
//!   its own and no desk admin can change them there.
//! - The minimum desk version (`skranke-registry minimum-version
//!   set|clear|show`): a desk below it still syncs what it issued but issues
//!   nothing until it is updated.
//!
//! Values are checked here for their form (the same ranges as the desk's;
//! text without control characters, at most
//! [`municipality_setting::MAX_CHARS`]); the desk checks again what only it
//! can (that its fonts print the text). Every change is one entry in
//! `operator_log`, naming the municipality and the key.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Pool};
use serde::Serialize;
use serde_json::json;
use skranke_protocol::{municipality_setting as key, parse_app_version};

use crate::error::{RegistryError, Result};
use crate::ops::record;

/// The deployment setting that holds the minimum desk version.
const MINIMUM_VERSION: &str = "minimum_desk_version";

/// One municipality setting as operators list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MunicipalitySetting {
    pub municipality: u16,
    pub key: String,
    pub value: String,
    pub set_at: DateTime<Utc>,
    pub set_by: String,
}

/// The deployment's minimum desk version as operators see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MinimumVersion {
    pub version: String,
    pub set_at: DateTime<Utc>,
    pub set_by: String,
}

/// A kommunekode of one of the 98 municipalities.
fn check_municipality(municipality: u16) -> Result<()> {
    if skranke_rules::municipality::lookup(municipality).is_none() {
        return Err(RegistryError::bad_field("municipality"));
    }
    Ok(())
}

/// Checks `value` for `name` and returns it as it is stored (trimmed).
pub fn check(name: &str, value: &str) -> Result<String> {
    if !key::ALL.contains(&name) {
        return Err(RegistryError::bad_field("key"));
    }
    let value = value.trim();
    let bad = || RegistryError::bad_field("value");
    if value.is_empty() || value.chars().count() > key::MAX_CHARS || value.chars().any(char::is_control) {
        return Err(bad());
    }
    let whole = |range: std::ops::RangeInclusive<u32>| {
        value.parse::<u32>().ok().filter(|n| range.contains(n)).map(|n| n.to_string()).ok_or_else(bad)
    };
    match name {
        key::PASSWORD_LAPSE_DAYS => whole(1..=365),
        key::IDLE_LOCK_MINUTES => whole(1..=240),
        key::HANDOUT_LANGUAGES => {
            let mut codes: Vec<&str> = value.split(',').map(str::trim).collect();
            if codes.iter().any(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_lowercase())) {
                return Err(bad());
            }
            codes.dedup();
            Ok(codes.join(","))
        }
        _ => Ok(value.to_string()),
    }
}

/// Sets one setting for every desk of `municipality` (their next sync brings it).
pub async fn set(pool: &Pool, operator: &str, municipality: u16, name: &str, value: &str) -> Result<String> {
    check_municipality(municipality)?;
    let value = check(name, value)?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO municipality_settings (municipality, key, value, set_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (municipality, key) DO UPDATE SET value = excluded.value, set_at = now(), set_by = excluded.set_by",
        &[&i32::from(municipality), &name, &value, &operator],
    )
    .await?;
    record(&tx, operator, "municipality_setting_set", json!({ "municipality": municipality, "key": name })).await?;
    tx.commit().await?;
    Ok(value)
}

/// Removes one setting: each desk's own value (or the default) is in force
/// again after its next sync. Returns false when it was not set.
pub async fn unset(pool: &Pool, operator: &str, municipality: u16, name: &str) -> Result<bool> {
    check_municipality(municipality)?;
    if !key::ALL.contains(&name) {
        return Err(RegistryError::bad_field("key"));
    }
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let n = tx
        .execute(
            "DELETE FROM municipality_settings WHERE municipality = $1 AND key = $2",
            &[&i32::from(municipality), &name],
        )
        .await?;
    if n == 1 {
        record(&tx, operator, "municipality_setting_unset", json!({ "municipality": municipality, "key": name }))
            .await?;
    }
    tx.commit().await?;
    Ok(n == 1)
}

/// The settings of one municipality, or of all, by municipality and key.
pub async fn list(pool: &Pool, municipality: Option<u16>) -> Result<Vec<MunicipalitySetting>> {
    if let Some(m) = municipality {
        check_municipality(m)?;
    }
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT municipality, key, value, set_at, set_by FROM municipality_settings
             WHERE $1::integer IS NULL OR municipality = $1 ORDER BY municipality, key",
            &[&municipality.map(i32::from)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| MunicipalitySetting {
            municipality: u16::try_from(r.get::<_, i32>(0)).unwrap_or_default(),
            key: r.get(1),
            value: r.get(2),
            set_at: r.get(3),
            set_by: r.get(4),
        })
        .collect())
}

/// What a desk of `municipality` receives: key to value, only what is set.
pub async fn for_desk(client: &impl GenericClient, municipality: u16) -> Result<BTreeMap<String, String>> {
    let rows = client
        .query("SELECT key, value FROM municipality_settings WHERE municipality = $1", &[&i32::from(municipality)])
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Requires `version` (`MAJOR.MINOR.PATCH`) of every desk that issues.
pub async fn set_minimum_version(pool: &Pool, operator: &str, version: &str) -> Result<String> {
    let version = version.trim();
    if parse_app_version(version).is_none() {
        return Err(RegistryError::bad_field("version"));
    }
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO deployment_settings (key, value, set_by) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, set_at = now(), set_by = excluded.set_by",
        &[&MINIMUM_VERSION, &version, &operator],
    )
    .await?;
    record(&tx, operator, "minimum_version_set", json!({ "version": version })).await?;
    tx.commit().await?;
    Ok(version.to_string())
}

/// Requires no minimum version any more. Returns false when none was set.
pub async fn clear_minimum_version(pool: &Pool, operator: &str) -> Result<bool> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let n = tx.execute("DELETE FROM deployment_settings WHERE key = $1", &[&MINIMUM_VERSION]).await?;
    if n == 1 {
        record(&tx, operator, "minimum_version_cleared", json!({})).await?;
    }
    tx.commit().await?;
    Ok(n == 1)
}

/// The minimum desk version in force, with who set it and when.
pub async fn minimum_version(client: &impl GenericClient) -> Result<Option<MinimumVersion>> {
    let row = client
        .query_opt("SELECT value, set_at, set_by FROM deployment_settings WHERE key = $1", &[&MINIMUM_VERSION])
        .await?;
    Ok(row.map(|r| MinimumVersion { version: r.get(0), set_at: r.get(1), set_by: r.get(2) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_field(r: Result<String>) -> String {
        match r {
            Err(RegistryError::Refused { detail: Some(d), .. }) => d,
            other => panic!("expected a field refusal, got {other:?}"),
        }
    }

    /// The registry refuses what the desk would refuse, naming the field, so
    /// that a value operators set is one every desk can apply.
    #[test]
    fn values_are_checked_for_their_form_and_name_the_field() {
        assert_eq!(check("privacy_dpo", "  dpo@aarhus.dk ").unwrap(), "dpo@aarhus.dk");
        assert_eq!(check("password_lapse_days", "30").unwrap(), "30");
        assert_eq!(check("handout_languages", "de, pl,pl").unwrap(), "de,pl");
        assert_eq!(refused_field(check("colour", "red")), "key");
        for (k, v) in [
            ("password_lapse_days", "0"),
            ("password_lapse_days", "366"),
            ("password_lapse_days", "two"),
            ("idle_lock_minutes", "241"),
            ("privacy_contact", " "),
            ("privacy_contact", "line\nbreak"),
            ("privacy_controller", "nul\u{0}"),
            ("handout_languages", "de,PL"),
            ("handout_languages", "deu"),
        ] {
            assert_eq!(refused_field(check(k, v)), "value", "{k}={v:?}");
        }
        let long = "x".repeat(key::MAX_CHARS + 1);
        assert_eq!(refused_field(check("privacy_controller", &long)), "value");
    }
}
