//! Online allocation order, as a pure function over the block, the used
//! numbers and the units that desks hold.
//!
//! For one birth date and sex the registry prefers, across every slot of the
//! block:
//! 1. numbers that pass modulus 11 (never in a lease unit; many outside
//!    systems still wrongly demand them),
//! 2. the serial a slot keeps back when none of its five passes modulus 11
//!    (also in no unit),
//! 3. numbers of units that no desk holds and that are not retired.
//!
//! A number inside a unit bound to a desk (or retired) is never offered:
//! that desk may issue it offline at any moment.

use std::collections::HashSet;

use chrono::NaiveDate;
use skranke_rules::cpr::{candidate_serials, Personnummer, Sex};
use skranke_rules::lease::{Block, LeaseUnit};

/// Every number the registry may allocate online for `birth_date` and `sex`,
/// best first, leaving out `used` numbers and numbers inside `held` units.
pub fn online_candidates(
    block: &Block,
    birth_date: NaiveDate,
    sex: Sex,
    used: &HashSet<Personnummer>,
    held: &HashSet<LeaseUnit>,
) -> Vec<Personnummer> {
    let mut tiers: [Vec<Personnummer>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for &slot in block.slots() {
        for serial in candidate_serials(birth_date, sex, slot) {
            let Some(number) = Personnummer::from_parts(birth_date, serial) else { continue };
            if used.contains(&number) {
                continue;
            }
            match LeaseUnit::containing(&number) {
                None if number.passes_modulus11() => tiers[0].push(number),
                None => tiers[1].push(number),
                Some(unit) if !held.contains(&unit) => tiers[2].push(number),
                Some(_) => {}
            }
        }
    }
    let [a, b, c] = tiers;
    a.into_iter().chain(b).chain(c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use skranke_rules::lease::RANKS;

    fn date(days: u64) -> NaiveDate {
        NaiveDate::from_ymd_opt(1937, 1, 1).unwrap() + chrono::Days::new(days)
    }

    #[test]
    fn with_nothing_used_or_held_every_block_number_is_offered_modulus_11_first() {
        let block = Block::default_block();
        let d = date(13_000);
        let all = online_candidates(&block, d, Sex::Female, &HashSet::new(), &HashSet::new());
        // 200 slots × 5 serials of the right parity.
        assert_eq!(all.len(), 1000);
        let first_failing = all.iter().position(|n| !n.passes_modulus11()).unwrap();
        assert!(first_failing > 0);
        assert!(all[first_failing..].iter().all(|n| !n.passes_modulus11()));
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), 1000);
    }

    proptest! {
        #[test]
        fn a_number_inside_a_held_unit_is_never_offered_and_modulus_11_numbers_come_first(
            days in 0u64..(365 * 100),
            male in any::<bool>(),
            held_ix in proptest::collection::vec(0usize..800, 0..400),
            used_ix in proptest::collection::vec(0usize..1000, 0..50),
        ) {
            let block = Block::default_block();
            let d = date(days);
            let sex = if male { Sex::Male } else { Sex::Female };
            let units: Vec<LeaseUnit> = block.units().collect();
            let held: HashSet<LeaseUnit> = held_ix.iter().map(|&i| units[i]).collect();
            let everything = online_candidates(&block, d, sex, &HashSet::new(), &HashSet::new());
            let used: HashSet<Personnummer> = used_ix.iter().map(|&i| everything[i]).collect();
            let offered = online_candidates(&block, d, sex, &used, &held);
            for n in &offered {
                prop_assert!(!used.contains(n));
                prop_assert_eq!(n.birth_date(), d);
                prop_assert_eq!(n.sex(), sex);
                prop_assert!(block.contains(n));
                if let Some(u) = LeaseUnit::containing(n) {
                    prop_assert!(!held.contains(&u));
                    prop_assert!(u.rank < RANKS);
                }
            }
            let first_failing = offered.iter().position(|n| !n.passes_modulus11()).unwrap_or(offered.len());
            prop_assert!(offered[first_failing..].iter().all(|n| !n.passes_modulus11()));
            // Nothing free is left out.
            let expected = everything.iter().filter(|n| {
                !used.contains(n) && LeaseUnit::containing(n).is_none_or(|u| !held.contains(&u))
            }).count();
            prop_assert_eq!(offered.len(), expected);
        }
    }
}
