//! Ages such as `90m`, `12h`, `7d` or `2w`: the one duration syntax of `GC_OLDER_THAN`.
//!
//! Deliberately tiny: one number and one unit. Combinations (`1d12h`) and months are rejected
//! rather than guessed, because a misread age deletes the wrong images.

use std::fmt;

/// A non-negative age in whole seconds, kept with its unit for display. Small (8 bytes), as a
/// plan keeps one in the reason of every tag judged against `GC_OLDER_THAN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Age {
    /// At most about 100 years in minutes (see [`parse_age`]): well within `u32`.
    amount: u32,
    unit: Unit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Minutes,
    Hours,
    Days,
    Weeks,
}

impl Unit {
    fn seconds(self) -> u64 {
        match self {
            Unit::Minutes => 60,
            Unit::Hours => 3_600,
            Unit::Days => 86_400,
            Unit::Weeks => 604_800,
        }
    }

    fn suffix(self) -> char {
        match self {
            Unit::Minutes => 'm',
            Unit::Hours => 'h',
            Unit::Days => 'd',
            Unit::Weeks => 'w',
        }
    }
}

impl Age {
    pub fn as_secs(self) -> i64 {
        // Bounded by parse_age, so this cannot overflow.
        (u64::from(self.amount) * self.unit.seconds()) as i64
    }
}

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.suffix())
    }
}

/// About 100 years: more is certainly a typo and would overflow timestamp arithmetic.
const MAX_SECONDS: u64 = 100 * 365 * 86_400;

/// Parses `<number><unit>` with unit `m`, `h`, `d` or `w`.
pub fn parse_age(text: &str) -> Result<Age, &'static str> {
    const EXPECTED: &str = "is not a duration (expected a number and a unit: 90m, 12h, 7d or 2w)";
    let text = text.trim();
    let split = text
        .len()
        .checked_sub(1)
        .filter(|&i| text.is_char_boundary(i))
        .ok_or(EXPECTED)?;
    let (number, unit) = text.split_at(split);
    let unit = match unit {
        "m" => Unit::Minutes,
        "h" => Unit::Hours,
        "d" => Unit::Days,
        "w" => Unit::Weeks,
        _ => return Err(EXPECTED),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EXPECTED);
    }
    let amount: u64 = number.parse().map_err(|_| "is too large")?;
    if amount
        .checked_mul(unit.seconds())
        .is_none_or(|s| s > MAX_SECONDS)
    {
        return Err("is too large (at most about 100 years)");
    }
    Ok(Age {
        amount: amount as u32,
        unit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        assert_eq!(parse_age("90m").unwrap().as_secs(), 5_400);
        assert_eq!(parse_age("12h").unwrap().as_secs(), 43_200);
        assert_eq!(parse_age("7d").unwrap().as_secs(), 604_800);
        assert_eq!(parse_age("2w").unwrap().as_secs(), 1_209_600);
        assert_eq!(parse_age("0d").unwrap().as_secs(), 0);
        assert_eq!(parse_age("7d").unwrap().to_string(), "7d");
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "d",
            "7",
            "7 d",
            "-7d",
            "+7d",
            "7D",
            "1d12h",
            "1month",
            "7.5d",
            "99999999999999999999d",
            "6000w",
            "é",
            "7é",
        ] {
            assert!(parse_age(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
