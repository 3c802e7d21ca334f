//! Agent and relay versions as the products write them, parsed into one total order.
//!
//! Used by `fleet` to compare agents with their relays, with published builds and with the
//! minimum agent version a rule carries. Three forms are accepted, each as the products print
//! it, and nothing else:
//!
//! - `9.6.100`: major, minor, build (older agents);
//! - `20.0.1-12345`: major, minor, patch, then the build after a dash;
//! - `20.0.0.8438`: four numbers, as rules write their minimum agent version.
//!
//! Versions compare as four numbers, component by component. The build after a dash is the
//! fourth number, so `20.0.1-12345` and `20.0.1.12345` are the same version; the three-number
//! form has no fourth number and takes 0 there, so `9.6.100` equals `9.6.100.0`. Equal versions
//! may still be written differently: [`fmt::Display`] gives back the form that was parsed.
//! The products never mix forms within one release line, so these equalities only matter when
//! a rule's four-number minimum meets an agent's dashed version, where they are what one wants.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// The forms a version can be written in, named in every parse error.
const ACCEPTED: &str = "expected `major.minor.build` (such as `9.6.100`), \
     `major.minor.patch-build` (`20.0.1-12345`) or four numbers (`20.0.0.8438`)";

/// Why a text is not an agent version.
#[derive(Clone, Debug, Eq, Error, PartialEq)]
pub enum VersionError {
    #[error("`{text}` is not an agent version: `{number}` has a leading zero")]
    LeadingZero { number: String, text: String },
    #[error("`{text}` is not an agent version: {ACCEPTED}")]
    Shape { text: String },
    #[error(
        "`{text}` is not an agent version: `{number}` is larger than {}",
        u32::MAX
    )]
    TooLarge { number: String, text: String },
}

/// How a version was written, so that it is shown the way the product shows it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Form {
    /// `20.0.1-12345`
    Dashed,
    /// `20.0.0.8438`
    FourDotted,
    /// `9.6.100`
    ThreeDotted,
}

/// A version of an agent or a relay, such as `9.6.100`, `20.0.1-12345` or `20.0.0.8438`.
///
/// Ordered, compared and hashed by its four numbers only (see the module docs); shown, and
/// serialised as a string, in the form it was written in.
#[derive(Clone, Copy, Debug)]
pub struct AgentVersion {
    form: Form,
    numbers: [u32; 4],
}

impl AgentVersion {
    /// The release line, `(major, minor)`: `(9, 6)` for `9.6.100`. Update alerts stay within
    /// a line.
    pub fn line(&self) -> (u32, u32) {
        (self.numbers[0], self.numbers[1])
    }

    /// The release line as people write it, such as `9.6` or `20.0`.
    pub fn line_name(&self) -> String {
        format!("{}.{}", self.numbers[0], self.numbers[1])
    }
}

impl FromStr for AgentVersion {
    type Err = VersionError;

    fn from_str(text: &str) -> Result<AgentVersion, VersionError> {
        let shape = || VersionError::Shape {
            text: text.to_owned(),
        };

        // At most one dash, and only in front of the build of a three-number head.
        let (head, build) = match text.split_once('-') {
            Some((head, build)) => (head, Some(build)),
            None => (text, None),
        };
        let parts: Vec<&str> = head.split('.').collect();
        let form = match (parts.len(), build) {
            (3, Some(_)) => Form::Dashed,
            (3, None) => Form::ThreeDotted,
            (4, None) => Form::FourDotted,
            _ => return Err(shape()),
        };

        let mut numbers = [0; 4];
        for (slot, part) in numbers.iter_mut().zip(parts.into_iter().chain(build)) {
            *slot = number(part, text)?;
        }
        Ok(AgentVersion { form, numbers })
    }
}

/// Reads one component: ASCII digits only, because `u32::from_str` would also take a `+`.
fn number(part: &str, text: &str) -> Result<u32, VersionError> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VersionError::Shape {
            text: text.to_owned(),
        });
    }

    // Refused so that `Display`, which writes numbers plainly, gives back the text it read.
    if part.len() > 1 && part.starts_with('0') {
        return Err(VersionError::LeadingZero {
            number: part.to_owned(),
            text: text.to_owned(),
        });
    }

    part.parse().map_err(|_| VersionError::TooLarge {
        number: part.to_owned(),
        text: text.to_owned(),
    })
}

impl fmt::Display for AgentVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [major, minor, third, fourth] = self.numbers;
        match self.form {
            Form::Dashed => write!(f, "{major}.{minor}.{third}-{fourth}"),
            Form::FourDotted => write!(f, "{major}.{minor}.{third}.{fourth}"),
            Form::ThreeDotted => write!(f, "{major}.{minor}.{third}"),
        }
    }
}

impl PartialEq for AgentVersion {
    fn eq(&self, other: &AgentVersion) -> bool {
        self.numbers == other.numbers
    }
}

impl Eq for AgentVersion {}

impl Hash for AgentVersion {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.numbers.hash(state);
    }
}

impl PartialOrd for AgentVersion {
    fn partial_cmp(&self, other: &AgentVersion) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AgentVersion {
    fn cmp(&self, other: &AgentVersion) -> Ordering {
        self.numbers.cmp(&other.numbers)
    }
}

impl Serialize for AgentVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AgentVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AgentVersion, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> AgentVersion {
        text.parse().expect("test versions are well formed")
    }

    #[test]
    fn each_form_displays_as_written() {
        for text in [
            "9.6.100",
            "20.0.1-12345",
            "20.0.0.8438",
            "0.0.0",
            "10.0.0-3761",
        ] {
            assert_eq!(v(text).to_string(), text);
        }
    }

    #[test]
    fn each_form_reads_its_line() {
        assert_eq!(v("9.6.100").line(), (9, 6));
        assert_eq!(v("20.0.1-12345").line(), (20, 0));
        assert_eq!(v("20.0.0.8438").line(), (20, 0));
        assert_eq!(v("10.0.100").line_name(), "10.0");
    }

    #[test]
    fn versions_order_numerically_not_as_text() {
        assert!(v("9.6.100") < v("10.0.100"));
        assert!(v("9.6.100") < v("9.6.200"));
        assert!(v("9.6.99") < v("9.6.100"));
        assert!(v("20.0.1-900") < v("20.0.1-1000"));
        assert!(v("20.0.1-12345") < v("20.0.2-1"));
        assert!(v("20.0.0.8438") < v("20.0.0.10000"));
        assert!(v("20.0.0.8438") < v("20.1.0.1"));
    }

    #[test]
    fn forms_order_against_each_other_by_their_four_numbers() {
        assert!(v("9.6.100") < v("20.0.0.8438"));
        assert!(v("20.0.0.8438") < v("20.0.1-1"));
        assert!(v("20.0.1-100") < v("20.0.1.101"));
        assert!(v("20.0.0") < v("20.0.0.1"));
        assert!(v("20.0.0.8438") > v("20.0.0-8437"));
    }

    #[test]
    fn dashed_build_equals_the_same_fourth_number() {
        assert_eq!(v("20.0.1-12345"), v("20.0.1.12345"));
        assert_eq!(v("9.6.100"), v("9.6.100.0"));
        assert_eq!(v("20.0.1-12345").cmp(&v("20.0.1.12345")), Ordering::Equal);
    }

    #[test]
    fn a_mixed_list_sorts_into_one_order() {
        let mut all: Vec<AgentVersion> = ["20.0.1-1100", "10.0.100", "9.6.200", "20.0.0.8438"]
            .into_iter()
            .map(v)
            .collect();
        all.sort();
        let shown: Vec<String> = all.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["9.6.200", "10.0.100", "20.0.0.8438", "20.0.1-1100"]);
    }

    #[test]
    fn malformed_versions_are_refused_naming_the_text_and_the_forms() {
        let bad = [
            "",
            "9",
            "9.6",
            "9.6.",
            ".9.6",
            "9..6",
            "9.6.100-",
            "9.6-100",
            "9.6.100-1-2",
            "1.2.3.4.5",
            "1.2.3.4-5",
            "v9.6.100",
            " 9.6.100",
            "9.6.100 ",
            "9.6.x",
            "+9.6.100",
            "9.-6.100",
            "9.6.1e3",
            "٩.6.100",
        ];
        for text in bad {
            let error = text.parse::<AgentVersion>().expect_err(text);
            assert_eq!(
                error,
                VersionError::Shape {
                    text: text.to_owned()
                }
            );
            let message = error.to_string();
            assert!(message.starts_with(&format!("`{text}` is not an agent version")));
            assert!(message.contains("`20.0.1-12345`"), "{message}");
        }
    }

    #[test]
    fn leading_zeros_and_overflow_are_refused_naming_the_number() {
        let error = "9.06.100"
            .parse::<AgentVersion>()
            .expect_err("leading zero");
        assert_eq!(
            error.to_string(),
            "`9.06.100` is not an agent version: `06` has a leading zero"
        );
        let error = "9.6.4294967296"
            .parse::<AgentVersion>()
            .expect_err("overflow");
        assert_eq!(
            error.to_string(),
            "`9.6.4294967296` is not an agent version: `4294967296` is larger than 4294967295"
        );
        assert_eq!(v("9.6.4294967295").to_string(), "9.6.4294967295");
    }

    #[test]
    fn serde_uses_the_written_form() {
        let version: AgentVersion =
            serde_json::from_str("\"20.0.1-12345\"").expect("a quoted version");
        assert_eq!(
            serde_json::to_string(&version).expect("serialises"),
            "\"20.0.1-12345\""
        );
        let error = serde_json::from_str::<AgentVersion>("\"9.6\"").expect_err("too short");
        assert!(error.to_string().contains("`9.6` is not an agent version"));
    }
}
