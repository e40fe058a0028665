//! Lease units: the reserve a desk may issue from while offline.
//!
//! The registry owns a block of slots (digits 7–9 of the serial; by default
//! every slot whose 7th digit is 4 or 9, which covers every birth year
//! 1937–2036). A **lease unit** is a slot and a rank `r` in `0..=3`: for any
//! birth date and sex it yields the `r`-th serial, ascending, of that slot
//! whose last digit has the sex's parity and which *fails* modulus 11.
//!
//! Why this shape: per slot, date and parity there are five serials and at
//! most one of them passes modulus 11 (the last digit has weight 1), so at
//! least four fail it. Four ranks therefore always exist, units never
//! overlap, and no modulus-11 number ever leaves the registry, which keeps
//! those (still widely demanded) numbers for online allocation. The block of
//! 200 slots makes 800 units: two per desk for 400 desks, each desk holding
//! two numbers per birth date and sex.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::cpr::{candidate_serials, passes_modulus11, Personnummer, Sex, Slot};

/// Ranks per slot: the non-modulus-11 serials every slot is sure to have.
pub const RANKS: u8 = 4;

/// One lease unit: a slot and a rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LeaseUnit {
    pub slot: Slot,
    pub rank: u8,
}

impl LeaseUnit {
    /// A unit, when the rank is in `0..RANKS`.
    pub fn new(slot: Slot, rank: u8) -> Option<LeaseUnit> {
        (rank < RANKS).then_some(LeaseUnit { slot, rank })
    }

    /// The unit's serial for a birth date and sex, or `None` when the slot's
    /// 7th digit cannot encode the birth year.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use skranke_rules::cpr::{Sex, Slot};
    /// use skranke_rules::lease::LeaseUnit;
    /// let unit = LeaseUnit::new(Slot::new(400).unwrap(), 0).unwrap();
    /// let date = NaiveDate::from_ymd_opt(1974, 8, 12).unwrap();
    /// let n = unit.number(date, Sex::Female).unwrap();
    /// assert!(!n.passes_modulus11());
    /// ```
    pub fn serial(self, birth_date: NaiveDate, sex: Sex) -> Option<u16> {
        let mut failing: Vec<u16> = candidate_serials(birth_date, sex, self.slot)
            .into_iter()
            .filter(|&s| !Personnummer::from_parts(birth_date, s).is_some_and(|p| p.passes_modulus11()))
            .collect();
        failing.sort_unstable();
        failing.get(usize::from(self.rank)).copied()
    }

    /// The unit's number for a birth date and sex.
    pub fn number(self, birth_date: NaiveDate, sex: Sex) -> Option<Personnummer> {
        self.serial(birth_date, sex).and_then(|s| Personnummer::from_parts(birth_date, s))
    }

    /// The unit that holds a number, if any (a modulus-11 number, or the one
    /// serial a slot keeps back for the registry, belongs to no unit).
    pub fn containing(number: &Personnummer) -> Option<LeaseUnit> {
        if passes_modulus11(&number.digits()) {
            return None;
        }
        (0..RANKS)
            .filter_map(|r| LeaseUnit::new(number.slot(), r))
            .find(|u| u.serial(number.birth_date(), number.sex()) == Some(number.serial()))
    }
}

impl std::fmt::Display for LeaseUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.slot, self.rank)
    }
}

/// The registry's block: the slots reserved for administrative numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    slots: Vec<Slot>,
}

impl Block {
    /// The default block: every slot whose 7th digit is 4 or 9 (200 slots).
    pub fn default_block() -> Block {
        Block { slots: Slot::all().filter(|s| matches!(s.seventh_digit(), 4 | 9)).collect() }
    }

    /// A block from explicit slots (sorted, duplicates removed).
    pub fn from_slots(mut slots: Vec<Slot>) -> Block {
        slots.sort_unstable();
        slots.dedup();
        Block { slots }
    }

    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    pub fn contains(&self, number: &Personnummer) -> bool {
        self.slots.binary_search(&number.slot()).is_ok()
    }

    /// Every lease unit of the block, slot by slot.
    pub fn units(&self) -> impl Iterator<Item = LeaseUnit> + '_ {
        self.slots.iter().flat_map(|&slot| (0..RANKS).map(move |rank| LeaseUnit { slot, rank }))
    }

    /// Whether the block can encode every birth year in `years`.
    pub fn covers_years(&self, years: std::ops::RangeInclusive<i32>) -> bool {
        years.into_iter().all(|y| self.slots.iter().any(|s| s.allows_year(y)))
    }
}

/// The first birth year the default block can encode; also the earliest
/// birth year the desk accepts.
pub const FIRST_BIRTH_YEAR: i32 = 1937;

/// Whether `date` can be encoded by the default block at all.
pub fn encodable(date: NaiveDate) -> bool {
    (FIRST_BIRTH_YEAR..=2036).contains(&date.year())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_default_block_has_200_slots_800_units_and_covers_1937_to_2036() {
        let b = Block::default_block();
        assert_eq!(b.slots().len(), 200);
        assert_eq!(b.units().count(), 800);
        assert!(b.covers_years(1937..=2036));
        assert!(!b.covers_years(1936..=1936));
        assert!(!b.covers_years(2037..=2037));
    }

    #[test]
    fn units_of_a_slot_are_distinct_non_modulus_11_numbers_with_the_right_sex() {
        for d in [date(1937, 1, 1), date(1974, 8, 12), date(2000, 2, 29), date(2036, 12, 31)] {
            for slot in Block::default_block().slots().iter().copied() {
                for sex in [Sex::Female, Sex::Male] {
                    let numbers: Vec<Personnummer> =
                        (0..RANKS).map(|r| LeaseUnit::new(slot, r).unwrap().number(d, sex).unwrap()).collect();
                    let distinct: HashSet<_> = numbers.iter().collect();
                    assert_eq!(distinct.len(), 4);
                    for n in &numbers {
                        assert!(!n.passes_modulus11());
                        assert_eq!(n.sex(), sex);
                        assert_eq!(n.birth_date(), d);
                        assert_eq!(n.slot(), slot);
                    }
                }
            }
        }
    }

    #[test]
    fn a_slot_that_cannot_encode_the_year_yields_nothing() {
        let unit = LeaseUnit::new(Slot::new(412).unwrap(), 0).unwrap();
        assert_eq!(unit.serial(date(2040, 1, 1), Sex::Male), None);
        assert!(LeaseUnit::new(Slot::new(412).unwrap(), 4).is_none());
    }

    proptest! {
        #[test]
        fn containing_finds_exactly_the_unit_that_yielded_a_number(
            days in 0u64..(365 * 100), slot_ix in 0usize..200, rank in 0u8..4, male in any::<bool>()
        ) {
            let d = date(1937, 1, 1) + chrono::Days::new(days);
            let sex = if male { Sex::Male } else { Sex::Female };
            let unit = LeaseUnit::new(Block::default_block().slots()[slot_ix], rank).unwrap();
            let n = unit.number(d, sex).unwrap();
            prop_assert_eq!(LeaseUnit::containing(&n), Some(unit));
        }

        #[test]
        fn the_five_serials_split_into_four_units_and_one_kept_by_the_registry(
            days in 0u64..(365 * 100), slot_ix in 0usize..200, male in any::<bool>()
        ) {
            let d = date(1937, 1, 1) + chrono::Days::new(days);
            let sex = if male { Sex::Male } else { Sex::Female };
            let slot = Block::default_block().slots()[slot_ix];
            let all = candidate_serials(d, sex, slot);
            let in_units: HashSet<u16> = (0..RANKS).map(|r| LeaseUnit::new(slot, r).unwrap().serial(d, sex).unwrap()).collect();
            let kept: Vec<u16> = all.iter().copied().filter(|s| !in_units.contains(s)).collect();
            prop_assert_eq!(kept.len(), 1);
            let kept_number = Personnummer::from_parts(d, kept[0]).unwrap();
            prop_assert_eq!(LeaseUnit::containing(&kept_number), None);
        }
    }
}
