//! What operators list on the registry's host (`skranke-registry list …`):
//! cases (conflicts and duplicate reviews) with their state, desks that are
//! not active, silent or low on reserve, birth dates whose online numbers
//! run low, and the feed's lag and refusals. Plain reads: no list holds a
//! name, a document or a number's owner; a case's personal data is opened
//! only by [`open_case`], which the operator log records.
//!
//! Open enrolment codes and disputed numbers have their lists already
//! ([`crate::revocation::open_enrolment_codes`], [`crate::disputed::list`]).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::{GenericClient, Pool};
use serde::Serialize;
use serde_json::{json, Value};
use skranke_rules::cpr::{Personnummer, Sex};
use skranke_rules::lease::{Block, LeaseUnit};

use crate::api::{from_stored, unit};
use crate::error::Result;
use crate::revocation::DeskState;

/// Which cases: conflicts (events kept although they contradicted what the
/// registry held) or duplicates (two records of one document, or of one
/// birth date, nationality and Latin name: a review).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    Conflict,
    Duplicate,
}

/// Where a case stands.
///
/// A duplicate is *decided* once a supervisor voided one of its two records
/// (`decided_by` names that record's desk); a conflict once the accepted
/// record it contradicts was voided. A case is *closed* when nothing is left
/// to decide or open: both records voided, or retention erased the personal
/// data it was about. A review the supervisors judged to be two people
/// leaves no event, so it stays open until retention closes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    Open,
    Decided,
    Closed,
}

impl CaseState {
    pub fn parse(s: &str) -> Option<CaseState> {
        match s {
            "open" => Some(CaseState::Open),
            "decided" => Some(CaseState::Decided),
            "closed" => Some(CaseState::Closed),
            _ => None,
        }
    }

    /// The catalog key of the state's name.
    pub fn message_key(self) -> &'static str {
        match self {
            CaseState::Open => "registry.case_state.open",
            CaseState::Decided => "registry.case_state.decided",
            CaseState::Closed => "registry.case_state.closed",
        }
    }
}

/// One case as operators list it: references, desks and municipalities,
/// never a name or a number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Case {
    /// `C<n>` for a conflict, `D<n>` for a duplicate (what `case show` takes).
    pub case_id: String,
    pub kind: CaseKind,
    /// `conflict:number_conflict`, …; `duplicate_document` or `duplicate_review`.
    pub reason: String,
    pub opened_at: DateTime<Utc>,
    pub state: CaseState,
    /// The desk whose supervisor decided it (voided a record), if one did.
    pub decided_by: Option<String>,
    pub desk_id: String,
    pub municipality: i32,
    pub record_id: Option<String>,
    pub other_desk_id: Option<String>,
    pub other_municipality: Option<i32>,
    pub other_record_id: Option<String>,
}

/// Every case of `kind` (all when `None`), oldest first, optionally only
/// those in `state`.
pub async fn cases(pool: &Pool, kind: Option<CaseKind>, state: Option<CaseState>) -> Result<Vec<Case>> {
    let client = pool.get().await?;
    let mut out = Vec::new();
    if kind != Some(CaseKind::Duplicate) {
        out.extend(conflicts(&client, None).await?);
    }
    if kind != Some(CaseKind::Conflict) {
        out.extend(duplicates(&client, None).await?);
    }
    out.retain(|c| state.is_none_or(|s| c.state == s));
    out.sort_by(|a, b| a.opened_at.cmp(&b.opened_at).then_with(|| a.case_id.cmp(&b.case_id)));
    Ok(out)
}

/// The state of a case from its two records: whether each was voided and
/// whether its personal data is gone, and the desk of each.
fn case_state(
    own: (bool, bool, Option<&str>),
    other: (bool, bool, Option<&str>),
    kept_erased: bool,
) -> (CaseState, Option<String>) {
    let ((own_void, own_erased, own_desk), (other_void, other_erased, other_desk)) = (own, other);
    if (own_void && other_void) || kept_erased || (own_erased && other_erased) {
        return (CaseState::Closed, None);
    }
    match (own_void, other_void) {
        (true, _) => (CaseState::Decided, own_desk.map(str::to_string)),
        (_, true) => (CaseState::Decided, other_desk.map(str::to_string)),
        _ => (CaseState::Open, None),
    }
}

/// Conflicts: kept events whose verdict was `conflict:*` (an `invalid:*`
/// one is a refusal the desk shows, not a case). The record it contradicts
/// is the accepted record with its record ID, or else the one holding its
/// number.
async fn conflicts(client: &impl GenericClient, id: Option<i64>) -> Result<Vec<Case>> {
    let rows = client
        .query(
            "WITH kept AS (
                 SELECT c.id, c.desk_id, d.municipality, c.reason, c.received_at,
                        c.personal_erased_at IS NOT NULL AS erased,
                        c.body->'payload'->>'record_id' AS record_id,
                        translate(c.body->'payload'->>'number', '-', '') AS number
                 FROM conflicts c JOIN desks d USING (desk_id)
                 WHERE c.reason LIKE 'conflict:%' AND ($1::bigint IS NULL OR c.id = $1)
             )
             SELECT k.id, k.desk_id, k.municipality, k.reason, k.received_at, k.erased, k.record_id,
                    o.record_id, o.desk_id, o.municipality, o.state = 'voided', o.personal_erased_at IS NOT NULL
             FROM kept k
             LEFT JOIN LATERAL (
                 SELECT r.record_id, r.desk_id, r.municipality, r.state, r.personal_erased_at
                 FROM records r
                 WHERE r.record_id = k.record_id OR (k.number ~ '^[0-9]{10}$' AND r.number = k.number::char(10))
                 ORDER BY r.record_id = k.record_id DESC, r.received_at, r.record_id
                 LIMIT 1
             ) o ON true
             ORDER BY k.received_at, k.id",
            &[&id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let other_desk: Option<String> = r.get(8);
            let other_void = r.get::<_, Option<bool>>(10).unwrap_or(false);
            let other_erased = r.get::<_, Option<bool>>(11).unwrap_or(false);
            let (state, decided_by) =
                case_state((false, false, None), (other_void, other_erased, other_desk.as_deref()), r.get(5));
            Case {
                case_id: format!("C{}", r.get::<_, i64>(0)),
                kind: CaseKind::Conflict,
                reason: r.get(3),
                opened_at: r.get(4),
                state,
                decided_by,
                desk_id: r.get(1),
                municipality: r.get(2),
                record_id: r.get(6),
                other_desk_id: other_desk,
                other_municipality: r.get(9),
                other_record_id: r.get(7),
            }
        })
        .collect())
}

/// Duplicates: the registry tells both desks (two notices); one case per
/// pair of records, named by the pair's first notice.
async fn duplicates(client: &impl GenericClient, id: Option<i64>) -> Result<Vec<Case>> {
    let rows = client
        .query(
            "WITH pairs AS (
                 SELECT min(n.id) AS id, n.kind, min(n.created_at) AS opened_at,
                        least(n.record_id, n.other_record_id) AS a, greatest(n.record_id, n.other_record_id) AS b
                 FROM notices n
                 WHERE n.kind IN ('duplicate_document', 'duplicate_review')
                   AND n.record_id IS NOT NULL AND n.other_record_id IS NOT NULL
                 GROUP BY n.kind, least(n.record_id, n.other_record_id), greatest(n.record_id, n.other_record_id)
             )
             SELECT p.id, p.kind, p.opened_at,
                    ra.record_id, ra.desk_id, ra.municipality, ra.state = 'voided', ra.personal_erased_at IS NOT NULL,
                    rb.record_id, rb.desk_id, rb.municipality, rb.state = 'voided', rb.personal_erased_at IS NOT NULL
             FROM pairs p JOIN records ra ON ra.record_id = p.a JOIN records rb ON rb.record_id = p.b
             WHERE $1::bigint IS NULL OR p.id = $1
             ORDER BY p.opened_at, p.id",
            &[&id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let (a_desk, b_desk): (String, String) = (r.get(4), r.get(9));
            let (state, decided_by) = case_state(
                (r.get(6), r.get(7), Some(a_desk.as_str())),
                (r.get(11), r.get(12), Some(b_desk.as_str())),
                false,
            );
            Case {
                case_id: format!("D{}", r.get::<_, i64>(0)),
                kind: CaseKind::Duplicate,
                reason: r.get(1),
                opened_at: r.get(2),
                state,
                decided_by,
                desk_id: a_desk,
                municipality: r.get(5),
                record_id: r.get(3),
                other_desk_id: Some(b_desk),
                other_municipality: r.get(10),
                other_record_id: r.get(8),
            }
        })
        .collect())
}

/// A case ID as `list` shows it.
fn parse_case_id(case_id: &str) -> Option<(CaseKind, i64)> {
    let (kind, n) = match case_id.split_at_checked(1)? {
        ("C" | "c", n) => (CaseKind::Conflict, n),
        ("D" | "d", n) => (CaseKind::Duplicate, n),
        _ => return None,
    };
    Some((kind, n.parse().ok().filter(|n| *n > 0)?))
}

/// Opens one case's personal data: the case, the person part and number
/// of each record it is about (and, for a conflict, of the event kept),
/// never a password hash. An explicit act: recorded in `operator_log`
/// with the case and record IDs (never the values). `None` when no such
/// case exists (nothing is recorded then).
pub async fn open_case(pool: &Pool, operator: &str, case_id: &str) -> Result<Option<Value>> {
    let Some((kind, id)) = parse_case_id(case_id) else { return Ok(None) };
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let found = match kind {
        CaseKind::Conflict => conflicts(&tx, Some(id)).await?,
        CaseKind::Duplicate => duplicates(&tx, Some(id)).await?,
    };
    let Some(case) = found.into_iter().next() else { return Ok(None) };
    let ids: Vec<String> = [case.record_id.clone(), case.other_record_id.clone()].into_iter().flatten().collect();
    let mut records = Vec::new();
    for r in tx
        .query(
            "SELECT record_id, desk_id, municipality, number::text, state, received_at, personal_erased_at,
                    content->'person'
             FROM records WHERE record_id = ANY($1) ORDER BY received_at, record_id",
            &[&ids],
        )
        .await?
    {
        records.push(json!({
            "record_id": r.get::<_, String>(0),
            "desk_id": r.get::<_, String>(1),
            "municipality": r.get::<_, i32>(2),
            "number": shown(r.get(3)),
            "state": r.get::<_, String>(4),
            "received_at": r.get::<_, DateTime<Utc>>(5),
            "personal_erased_at": r.get::<_, Option<DateTime<Utc>>>(6),
            "person": r.get::<_, Option<Value>>(7),
        }));
    }
    let kept = match kind {
        CaseKind::Conflict => tx
            .query_opt(
                "SELECT idempotency_key, body->>'kind', body->'payload'->>'number', body->'payload'->'person',
                        personal_erased_at
                 FROM conflicts WHERE id = $1",
                &[&id],
            )
            .await?
            .map(|r| {
                json!({
                    "idempotency_key": r.get::<_, String>(0),
                    "event_kind": r.get::<_, Option<String>>(1),
                    "number": r.get::<_, Option<String>>(2),
                    "person": r.get::<_, Option<Value>>(3),
                    "personal_erased_at": r.get::<_, Option<DateTime<Utc>>>(4),
                })
            }),
        CaseKind::Duplicate => None,
    };
    crate::ops::record(&tx, operator, "case_show", json!({ "case_id": case.case_id, "record_ids": ids })).await?;
    tx.commit().await?;
    Ok(Some(json!({ "case": case, "records": records, "kept_event": kept })))
}

/// `DDMMYY-SSSS` from the stored ten digits.
fn shown(digits: String) -> String {
    from_stored(&digits).map(|n| n.to_string()).unwrap_or(digits)
}

/// The desks in `states` (quarantined, retired and revoked when empty).
pub async fn desks_in(pool: &Pool, states: &[DeskState]) -> Result<Vec<crate::ops::DeskRow>> {
    let mut desks = crate::ops::desks(pool).await?;
    desks.retain(|d| if states.is_empty() { d.state != DeskState::Active } else { states.contains(&d.state) });
    Ok(desks)
}

/// An active or quarantined desk that has not synced for a while.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SilentDesk {
    pub desk_id: String,
    pub municipality: i32,
    pub office: String,
    pub desk_number: i32,
    pub state: DeskState,
    pub enrolled_at: DateTime<Utc>,
    /// `None`: never synced.
    pub last_sync_at: Option<DateTime<Utc>>,
}

/// Desks (neither retired nor revoked) whose last sync, or enrolment when
/// they never synced, is more than `days` days before `now`; longest
/// silent first.
pub async fn silent(pool: &Pool, days: u32, now: DateTime<Utc>) -> Result<Vec<SilentDesk>> {
    let client = pool.get().await?;
    let since = now - chrono::Duration::days(i64::from(days));
    let rows = client
        .query(
            "SELECT desk_id, municipality, office, desk_number, enrolled_at, last_sync_at, quarantined_at
             FROM desks
             WHERE retired_at IS NULL AND revoked_at IS NULL AND coalesce(last_sync_at, enrolled_at) < $1
             ORDER BY coalesce(last_sync_at, enrolled_at), desk_id",
            &[&since],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| SilentDesk {
            desk_id: r.get(0),
            municipality: r.get(1),
            office: r.get(2),
            desk_number: r.get(3),
            state: DeskState::of(None, None, r.get(6)),
            enrolled_at: r.get(4),
            last_sync_at: r.get(5),
        })
        .collect())
}

/// An active desk's reserve: the units bound to it give it one number each
/// per birth date and sex, and each number it issued from them is gone for
/// that date and sex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reserve {
    pub desk_id: String,
    pub municipality: i32,
    pub office: String,
    pub desk_number: i32,
    /// Units bound to it (not retired).
    pub units: i64,
    /// Birth dates and sexes for which it has issued every number of its units.
    pub exhausted: i64,
    /// The fewest numbers it has left for any birth date and sex it issued for.
    pub fewest_left: i64,
}

/// Active desks holding fewer than `units` units, or none left for some
/// birth date and sex; the poorest first.
pub async fn low_reserve(pool: &Pool, units: u32) -> Result<Vec<Reserve>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "WITH bound AS (
                 SELECT desk_id, slot, rank FROM units WHERE desk_id IS NOT NULL AND NOT retired
             ), held AS (
                 SELECT desk_id, count(*) AS units FROM bound GROUP BY desk_id
             ), used AS (
                 SELECT b.desk_id, n.birth_date, n.sex, count(*) AS used
                 FROM numbers n JOIN bound b ON b.slot = n.slot AND b.rank = n.rank
                 GROUP BY b.desk_id, n.birth_date, n.sex
             )
             SELECT d.desk_id, d.municipality, d.office, d.desk_number, coalesce(h.units, 0) AS units,
                    (SELECT count(*) FROM used u WHERE u.desk_id = d.desk_id AND u.used >= coalesce(h.units, 0)),
                    coalesce(h.units, 0) - coalesce((SELECT max(u.used) FROM used u WHERE u.desk_id = d.desk_id), 0)
             FROM desks d LEFT JOIN held h USING (desk_id)
             WHERE d.retired_at IS NULL AND d.revoked_at IS NULL AND d.quarantined_at IS NULL",
            &[],
        )
        .await?;
    let mut out: Vec<Reserve> = rows
        .iter()
        .map(|r| Reserve {
            desk_id: r.get(0),
            municipality: r.get(1),
            office: r.get(2),
            desk_number: r.get(3),
            units: r.get(4),
            exhausted: r.get(5),
            fewest_left: r.get::<_, i64>(6).max(0),
        })
        .filter(|r| r.units < i64::from(units) || r.exhausted > 0)
        .collect();
    out.sort_by(|a, b| {
        (a.fewest_left, a.units, -a.exhausted, &a.desk_id).cmp(&(b.fewest_left, b.units, -b.exhausted, &b.desk_id))
    });
    Ok(out)
}

/// What online allocation has left for one birth date and sex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NumbersLeft {
    pub birth_date: NaiveDate,
    /// `F` or `M`.
    pub sex: String,
    /// Numbers passing modulus 11 not yet used (online allocation gives these first).
    pub modulus11_left: usize,
    /// Every number online allocation may still give (modulus 11 or not).
    pub online_left: usize,
}

/// The birth dates and sexes already used whose modulus-11 numbers, or
/// whose online numbers at all, are fewer than `below`: modulus 11 first,
/// fewest left first. Counted with the allocation order itself
/// ([`crate::alloc::online_candidates`]).
pub async fn numbers_low(pool: &Pool, block: &Block, below: usize) -> Result<Vec<NumbersLeft>> {
    let client = pool.get().await?;
    let mut used: HashMap<(NaiveDate, String), HashSet<Personnummer>> = HashMap::new();
    for r in client.query("SELECT birth_date, sex::text, number::text FROM numbers", &[]).await? {
        if let Some(n) = from_stored(r.get::<_, &str>(2)) {
            used.entry((r.get(0), r.get(1))).or_default().insert(n);
        }
    }
    // Disputed numbers are never given again either.
    for r in client.query("SELECT number::text FROM disputed_numbers", &[]).await? {
        if let Some(n) = r.get::<_, Option<&str>>(0).and_then(from_stored) {
            used.entry((n.birth_date(), n.sex().code().to_string())).or_default().insert(n);
        }
    }
    let held: HashSet<LeaseUnit> = client
        .query("SELECT slot, rank FROM units WHERE desk_id IS NOT NULL OR retired", &[])
        .await?
        .iter()
        .filter_map(|r| unit(r.get(0), r.get(1)))
        .collect();
    let mut out: Vec<NumbersLeft> = used
        .into_iter()
        .filter_map(|((birth_date, sex), used)| {
            let s = if sex == "F" { Sex::Female } else { Sex::Male };
            let offered = crate::alloc::online_candidates(block, birth_date, s, &used, &held);
            let modulus11_left = offered.iter().filter(|n| n.passes_modulus11()).count();
            let left = NumbersLeft { birth_date, sex, modulus11_left, online_left: offered.len() };
            (left.modulus11_left < below || left.online_left < below).then_some(left)
        })
        .collect();
    out.sort_by(|a, b| {
        (a.modulus11_left, a.online_left, a.birth_date, &a.sex).cmp(&(
            b.modulus11_left,
            b.online_left,
            b.birth_date,
            &b.sex,
        ))
    });
    Ok(out)
}

/// A record as the feed report names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeedRecord {
    pub record_id: String,
    pub desk_id: String,
    pub municipality: i32,
    pub received_at: DateTime<Utc>,
    /// `cpr` or `jobnet`, for a refusal that still stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_at: Option<DateTime<Utc>>,
}

/// How far CPR and Jobnet are behind, and what they refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeedReport {
    /// Records received that neither registered nor refused yet.
    pub unconfirmed: i64,
    /// The oldest of them: the feed's lag.
    pub oldest_unconfirmed: Option<FeedRecord>,
    /// Seconds from the oldest unconfirmed record's receipt to `now`.
    pub lag_seconds: Option<i64>,
    /// Refusals that still stand, oldest first.
    pub refusals: Vec<FeedRecord>,
}

pub async fn feed(pool: &Pool, now: DateTime<Utc>) -> Result<FeedReport> {
    let client = pool.get().await?;
    let record = |r: &tokio_postgres::Row| FeedRecord {
        record_id: r.get(0),
        desk_id: r.get(1),
        municipality: r.get(2),
        received_at: r.get(3),
        refused_by: r.get(4),
        refused_reason: r.get(5),
        refused_at: r.get(6),
    };
    let unconfirmed: i64 = client
        .query_one("SELECT count(*) FROM records WHERE state = 'received' AND refused_downstream_by IS NULL", &[])
        .await?
        .get(0);
    let oldest = client
        .query_opt(
            "SELECT record_id, desk_id, municipality, received_at, refused_downstream_by, refused_downstream_reason,
                    refused_downstream_at
             FROM records WHERE state = 'received' AND refused_downstream_by IS NULL
             ORDER BY received_at, record_id LIMIT 1",
            &[],
        )
        .await?
        .map(|r| record(&r));
    let refusals = client
        .query(
            "SELECT record_id, desk_id, municipality, received_at, refused_downstream_by, refused_downstream_reason,
                    refused_downstream_at
             FROM records WHERE refused_downstream_by IS NOT NULL
             ORDER BY refused_downstream_at, record_id",
            &[],
        )
        .await?
        .iter()
        .map(record)
        .collect();
    let lag_seconds = oldest.as_ref().map(|o| (now - o.received_at).num_seconds().max(0));
    Ok(FeedReport { unconfirmed, oldest_unconfirmed: oldest, lag_seconds, refusals })
}
