//! When releases are due: crontab lines, time zones and grace periods from `release.yaml`.
//!
//! The `scheduled` command uses [`Schedule::latest_at_or_before`] to find the Slot that is
//! due, and [`Schedule::after`] lists the Slots to come. Everything here is pure: no clock, no
//! environment, no I/O; callers pass the time in.
//!
//! Guarantees:
//! - A crontab line means what it means to cron on a Linux CI runner, as written in
//!   crontab(5) (<https://man7.org/linux/man-pages/man5/crontab.5.html>): five fields, day of
//!   week 0 and 7 both Sunday, and day-of-month OR day-of-week when both are restricted.
//! - Slots are evaluated in the local time of an IANA zone. A local time that a spring-forward
//!   gap skips fires once, at the first instant after the gap (so a weekly release is never
//!   silently dropped); a local time that a fall-back overlap repeats fires once, at its first
//!   occurrence (so a release is never cut twice).
//! - A schedule that can never fire (`0 9 31 2 *`) is rejected when parsed, so every search
//!   below finds a Slot.
//!
//! Why not the `cron` crate for the arithmetic: it wants six fields and numbers weekdays from
//! 1 = Sunday, which only needs translating, but it also ANDs day-of-month with day-of-week,
//! drops local times that a gap skips and yields overlapped local times twice. Each of those
//! is a missed or doubled release, and fixing them around it is more code than evaluating
//! five small bit sets here. The tests use it as an independent check where it agrees.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use thiserror::Error;

/// Days in one cycle of the Gregorian calendar. Weekdays and leap days repeat every 400
/// years, so a schedule that fires at all has a Slot in any window this long; searches stop
/// after it rather than running to the end of chrono's calendar.
const GREGORIAN_CYCLE_DAYS: u32 = 146_097;

/// How far past a nonexistent local time to look for the end of its gap. The longest gap in
/// the tz database is Samoa's: it skipped all of 2011-12-30 when it moved across the date line.
const LONGEST_GAP_MINUTES: i64 = 48 * 60;

/// The zone to pass to [`Schedule::parse`] when `release.yaml` names none.
pub const DEFAULT_TIMEZONE: &str = "UTC";

/// The five fields of a crontab line, in the order the line gives them (not alphabetical).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum CrontabField {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl fmt::Display for CrontabField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CrontabField::Minute => "minute",
            CrontabField::Hour => "hour",
            CrontabField::DayOfMonth => "day-of-month",
            CrontabField::Month => "month",
            CrontabField::DayOfWeek => "day-of-week",
        })
    }
}

/// What is wrong with a schedule, a time zone or a duration in `release.yaml`.
#[derive(Clone, Debug, Eq, Error, PartialEq)]
pub enum ScheduleError {
    #[error(
        "crontab `{crontab}` has {found} fields: allowed is exactly 5, \
         `minute hour day-of-month month day-of-week`, as in `0 9 * * TUE`"
    )]
    FieldCount { crontab: String, found: usize },

    #[error(
        "duration `{text}` {problem}: allowed are whole numbers with the units `d`, `h`, `m` \
         and `s`, largest first, as in `48h`, `90m`, `2d` or `1d12h`"
    )]
    InvalidDuration { problem: &'static str, text: String },

    #[error("{field} `{value}` in crontab `{crontab}` {problem}: allowed {allowed}")]
    InvalidField {
        allowed: &'static str,
        crontab: String,
        field: CrontabField,
        problem: &'static str,
        value: String,
    },

    #[error(
        "crontab `{crontab}` never fires: no month it allows has a day-of-month it allows\n\
         help: February has at most 29 days, and April, June, September and November 30"
    )]
    NeverFires { crontab: String },

    #[error(
        "unknown time zone `{timezone}`: allowed are IANA names such as `UTC`, \
         `Europe/Berlin` or `America/New_York`{}",
        did_you_mean(.suggestion)
    )]
    UnknownTimezone {
        suggestion: Option<String>,
        timezone: String,
    },
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(name) => format!("\nhelp: did you mean `{name}`?"),
        None => String::new(),
    }
}

/// A parsed crontab line in a time zone: the times at which scheduled releases are due.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Schedule {
    crontab: String,
    fields: Fields,
    timezone: Tz,
}

impl Schedule {
    /// Parses a five-field crontab line and an IANA time zone name, such as
    /// [`DEFAULT_TIMEZONE`].
    pub fn parse(crontab: &str, timezone: &str) -> Result<Schedule, ScheduleError> {
        let crontab = crontab.trim();
        let fields = Fields::parse(crontab)?;
        let timezone = parse_timezone(timezone)?;
        Ok(Schedule {
            crontab: crontab.to_owned(),
            fields,
            timezone,
        })
    }

    /// The crontab line as written, less surrounding white space.
    pub fn crontab(&self) -> &str {
        &self.crontab
    }

    /// The zone whose local time the crontab line is read in.
    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The latest Slot at or before `now` (a Slot exactly at `now` counts), or `None` only when
    /// `now` is earlier than the schedule's first Slot in chrono's calendar.
    pub fn latest_at_or_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Start a day late: a fall-back overlap can put the first occurrence of tomorrow's
        // early local times before `now`. Slots never decrease from one local day to the
        // next, so the first day back with a Slot at or before `now` holds the latest one.
        let today = now.with_timezone(&self.timezone).date_naive();
        let mut date = today.succ_opt().unwrap_or(today);
        for _ in 0..=GREGORIAN_CYCLE_DAYS {
            if let Some(slot) = self
                .slots_on(date)
                .into_iter()
                .rev()
                .find(|slot| *slot <= now)
            {
                return Some(slot);
            }
            date = date.pred_opt()?;
        }
        None
    }

    /// The Slots strictly after `t`, earliest first.
    pub fn after(&self, t: DateTime<Utc>) -> Slots<'_> {
        // Start a day early: a gap can move a late local time of yesterday past `t`.
        let today = t.with_timezone(&self.timezone).date_naive();
        Slots {
            after: t,
            date: Some(today.pred_opt().unwrap_or(today)),
            idle_days: 0,
            pending: VecDeque::new(),
            schedule: self,
        }
    }

    /// The first `n` Slots strictly after `t`.
    pub fn next_n(&self, t: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        self.after(t).take(n).collect()
    }

    /// The Slots of one local calendar day, in order and without repeats.
    fn slots_on(&self, date: NaiveDate) -> Vec<DateTime<Utc>> {
        let mut slots: Vec<DateTime<Utc>> = Vec::new();
        if !self.fields.matches_day(date) {
            return slots;
        }
        for hour in members(self.fields.hours) {
            for minute in members(self.fields.minutes) {
                let local = date
                    .and_hms_opt(hour, minute, 0)
                    .expect("hours parse to 0-23 and minutes to 0-59");
                // Every local time in one gap resolves to the same instant: keep it once.
                match self.resolve(local) {
                    Some(slot) if slots.last() != Some(&slot) => slots.push(slot),
                    _ => {}
                }
            }
        }
        slots
    }

    /// The instant a local time stands for. In a fall-back overlap that is the first
    /// occurrence; in a spring-forward gap it is the first instant after the gap, as cronie
    /// runs jobs whose time was skipped (cron(8), "Daylight Saving Time and other time
    /// changes": <https://man7.org/linux/man-pages/man8/cron.8.html>). Unlike cronie, this holds
    /// for frequent schedules too: a `*/15` line fires once after a gap, not once per skipped
    /// quarter, and once per overlapped quarter, not twice.
    fn resolve(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let in_zone = |local: NaiveDateTime| self.timezone.from_local_datetime(&local).earliest();
        let instant = in_zone(local).or_else(|| {
            // The first whole minute that exists again is the moment the clocks jumped, for
            // every gap between whole-minute offsets (all since local mean times gave way to
            // standard zones); after an older gap it may be up to a minute late.
            (1..=LONGEST_GAP_MINUTES)
                .find_map(|minutes| in_zone(local.checked_add_signed(Duration::minutes(minutes))?))
        })?;
        Some(instant.with_timezone(&Utc))
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in {}", self.crontab, self.timezone.name())
    }
}

/// The Slots after an instant, from [`Schedule::after`]. It ends only past the end of
/// chrono's calendar.
#[derive(Debug)]
pub struct Slots<'a> {
    after: DateTime<Utc>,
    date: Option<NaiveDate>,
    idle_days: u32,
    pending: VecDeque<DateTime<Utc>>,
    schedule: &'a Schedule,
}

impl Iterator for Slots<'_> {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<DateTime<Utc>> {
        loop {
            while let Some(slot) = self.pending.pop_front() {
                if slot > self.after {
                    self.after = slot;
                    self.idle_days = 0;
                    return Some(slot);
                }
            }
            // Parsing rejects schedules that never fire; this bound only keeps a broken
            // invariant from spinning to the end of the calendar.
            if self.idle_days > GREGORIAN_CYCLE_DAYS {
                return None;
            }
            let date = self.date?;
            self.date = date.succ_opt();
            self.idle_days += 1;
            self.pending.extend(self.schedule.slots_on(date));
        }
    }
}

/// The values each field allows, one bit per value.
#[derive(Clone, Debug, Eq, PartialEq)]
struct Fields {
    days_of_month: u64,
    /// Sunday is bit 0 only: a 7 in the line is folded onto it.
    days_of_week: u64,
    /// crontab(5): "If both fields are restricted (i.e., do not start with *), the command
    /// will be run when either field matches the current time." Otherwise both must match,
    /// so `*/2` in one of them still ANDs, as in Vixie cron and cronie.
    either_day: bool,
    hours: u64,
    minutes: u64,
    months: u64,
}

impl Fields {
    fn parse(crontab: &str) -> Result<Fields, ScheduleError> {
        let texts: Vec<&str> = crontab.split_whitespace().collect();
        let [minute, hour, day_of_month, month, day_of_week] = texts[..] else {
            let found = texts.len();
            return Err(ScheduleError::FieldCount {
                crontab: crontab.to_owned(),
                found,
            });
        };
        // Parse in the line's order, so the first bad field named is the leftmost one.
        let minutes = parse_field(&MINUTE, minute, crontab)?;
        let hours = parse_field(&HOUR, hour, crontab)?;
        let days_of_month = parse_field(&DAY_OF_MONTH, day_of_month, crontab)?;
        let months = parse_field(&MONTH, month, crontab)?;
        let days_of_week = fold_sunday(parse_field(&DAY_OF_WEEK, day_of_week, crontab)?);
        let fields = Fields {
            days_of_month,
            days_of_week,
            either_day: !day_of_month.starts_with('*') && !day_of_week.starts_with('*'),
            hours,
            minutes,
            months,
        };
        if !fields.fires() {
            return Err(ScheduleError::NeverFires {
                crontab: crontab.to_owned(),
            });
        }
        Ok(fields)
    }

    /// Whether some date matches. With day-of-month OR day-of-week every month has matching
    /// days; with AND, every date recurs on every weekday within a Gregorian cycle, so only
    /// the days of the month can rule a schedule out (`31 2`, `30 2`).
    fn fires(&self) -> bool {
        self.either_day
            || members(self.months).any(|month| {
                let longest = days_in_month_at_most(month);
                members(self.days_of_month).any(|day| day <= longest)
            })
    }

    fn matches_day(&self, date: NaiveDate) -> bool {
        let day_of_month = has(self.days_of_month, date.day());
        let day_of_week = has(self.days_of_week, date.weekday().num_days_from_sunday());
        let day = if self.either_day {
            day_of_month || day_of_week
        } else {
            day_of_month && day_of_week
        };
        day && has(self.months, date.month())
    }
}

/// The longest a month can be, counting February of leap years.
fn days_in_month_at_most(month: u32) -> u32 {
    match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// What one crontab field allows.
struct FieldSpec {
    /// The message's list of what is allowed.
    allowed: &'static str,
    field: CrontabField,
    max: u32,
    min: u32,
    /// Names for the values from `min` up, matched without regard to case.
    names: &'static [&'static str],
}

const MINUTE: FieldSpec = FieldSpec {
    allowed: "are 0-59, `*`, ranges `a-b`, steps `*/n` and `a-b/n`, and lists of these",
    field: CrontabField::Minute,
    max: 59,
    min: 0,
    names: &[],
};

const HOUR: FieldSpec = FieldSpec {
    allowed: "are 0-23, `*`, ranges `a-b`, steps `*/n` and `a-b/n`, and lists of these",
    field: CrontabField::Hour,
    max: 23,
    min: 0,
    names: &[],
};

const DAY_OF_MONTH: FieldSpec = FieldSpec {
    allowed: "are 1-31, `*`, ranges `a-b`, steps `*/n` and `a-b/n`, and lists of these",
    field: CrontabField::DayOfMonth,
    max: 31,
    min: 1,
    names: &[],
};

const MONTH: FieldSpec = FieldSpec {
    allowed: "are 1-12 or `JAN`-`DEC`, `*`, ranges `a-b`, steps `*/n` and `a-b/n`, \
              and lists of these",
    field: CrontabField::Month,
    max: 12,
    min: 1,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};

const DAY_OF_WEEK: FieldSpec = FieldSpec {
    allowed: "are 0-7 (0 and 7 are Sunday) or `SUN`-`SAT`, `*`, ranges `a-b`, \
              steps `*/n` and `a-b/n`, and lists of these",
    field: CrontabField::DayOfWeek,
    max: 7,
    min: 0,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};

/// What is wrong with one part of a field, before the error names the field and line.
struct FieldProblem {
    problem: &'static str,
    value: String,
}

fn parse_field(spec: &FieldSpec, text: &str, crontab: &str) -> Result<u64, ScheduleError> {
    let mut bits = 0;
    for element in text.split(',') {
        let parsed = if element.is_empty() {
            Err(FieldProblem {
                problem: "has an empty list item",
                value: text.to_owned(),
            })
        } else {
            parse_element(spec, element)
        };
        bits |= parsed.map_err(
            |FieldProblem { problem, value }| ScheduleError::InvalidField {
                allowed: spec.allowed,
                crontab: crontab.to_owned(),
                field: spec.field,
                problem,
                value,
            },
        )?;
    }
    Ok(bits)
}

/// One list item: `*`, `a`, `a-b`, `*/n` or `a-b/n`. A step after a single value (`5/15`)
/// is refused, as Vixie cron refuses it, rather than guessed at.
fn parse_element(spec: &FieldSpec, element: &str) -> Result<u64, FieldProblem> {
    let problem = |problem| FieldProblem {
        problem,
        value: element.to_owned(),
    };
    let (range, step) = match element.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (element, None),
    };
    let (low, high) = match range.split_once('-') {
        _ if range == "*" => (spec.min, spec.max),
        Some((low, high)) => parse_range(spec, element, low, high)?,
        None if step.is_some() => return Err(problem("has a step after a single value")),
        None => {
            let value = parse_value(spec, range)?;
            (value, value)
        }
    };
    if low > high {
        return Err(problem("is a range that runs backwards"));
    }
    let step = match step.map(str::parse::<usize>) {
        None => 1,
        Some(Ok(step)) if step > 0 => step,
        Some(_) => {
            return Err(problem(
                "has a step that is not a whole number of 1 or more",
            ));
        }
    };
    Ok((low..=high)
        .step_by(step)
        .fold(0, |bits, value| bits | 1 << value))
}

fn parse_range(
    spec: &FieldSpec,
    element: &str,
    low: &str,
    high: &str,
) -> Result<(u32, u32), FieldProblem> {
    if low.is_empty() || high.is_empty() {
        let value = element.to_owned();
        return Err(FieldProblem {
            problem: "is a range without two ends",
            value,
        });
    }
    let low = parse_value(spec, low)?;
    let high = parse_value(spec, high)?;
    // `FRI-SUN` means Friday to Sunday: read a range's closing Sunday as 7, not 0.
    if spec.field == CrontabField::DayOfWeek && high == 0 && low > 0 {
        return Ok((low, 7));
    }
    Ok((low, high))
}

fn parse_value(spec: &FieldSpec, text: &str) -> Result<u32, FieldProblem> {
    let problem = |problem| FieldProblem {
        problem,
        value: text.to_owned(),
    };
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(value) if (spec.min..=spec.max).contains(&value) => Ok(value),
            _ => Err(problem("is out of range")),
        };
    }
    let index = spec
        .names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text));
    match index.and_then(|index| u32::try_from(index).ok()) {
        Some(index) => Ok(spec.min + index),
        None if spec.names.is_empty() => Err(problem("is not a number")),
        None => Err(problem("is not a number or a name")),
    }
}

/// Day of week 7 is Sunday again; keep Sunday in bit 0 only.
fn fold_sunday(days_of_week: u64) -> u64 {
    if has(days_of_week, 7) {
        (days_of_week | 1) & !(1 << 7)
    } else {
        days_of_week
    }
}

fn has(bits: u64, value: u32) -> bool {
    bits & (1 << value) != 0
}

/// The values in a bit set, smallest first.
fn members(bits: u64) -> impl Iterator<Item = u32> {
    (0..64).filter(move |&value| has(bits, value))
}

fn parse_timezone(name: &str) -> Result<Tz, ScheduleError> {
    Tz::from_str(name).map_err(|_| ScheduleError::UnknownTimezone {
        // IANA names are case-sensitive, and `release.yaml` should spell them as the tz
        // database does; a name that is only mis-capitalised earns a hint, not a pass.
        suggestion: chrono_tz::TZ_VARIANTS
            .iter()
            .find(|zone| zone.name().eq_ignore_ascii_case(name))
            .map(|zone| zone.name().to_owned()),
        timezone: name.to_owned(),
    })
}

/// Parses a duration such as a grace period: whole numbers each followed by a unit, `d`
/// (24 hours), `h`, `m` or `s`, largest unit first and each at most once: `48h`, `90m`,
/// `2d`, `1d12h`, `30s`.
pub fn parse_duration(text: &str) -> Result<Duration, ScheduleError> {
    let invalid = |problem| ScheduleError::InvalidDuration {
        problem,
        text: text.to_owned(),
    };
    if text.is_empty() {
        return Err(invalid("is empty"));
    }
    let mut rest = text;
    let mut seconds: i64 = 0;
    let mut previous_rank = None;
    while !rest.is_empty() {
        let part = split_duration_part(rest).map_err(invalid)?;
        if previous_rank.is_some_and(|previous| previous >= part.rank) {
            return Err(invalid("repeats a unit or puts a smaller unit first"));
        }
        seconds = part
            .count
            .parse::<i64>()
            .ok()
            .and_then(|count| count.checked_mul(part.unit_seconds))
            .and_then(|part| part.checked_add(seconds))
            .ok_or_else(|| invalid("is too long"))?;
        previous_rank = Some(part.rank);
        rest = part.rest;
    }
    Duration::try_seconds(seconds).ok_or_else(|| invalid("is too long"))
}

/// One `<number><unit>` part from the front of a duration, and the text after it.
struct DurationPart<'a> {
    count: &'a str,
    rank: u8,
    rest: &'a str,
    unit_seconds: i64,
}

fn split_duration_part(text: &str) -> Result<DurationPart<'_>, &'static str> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    if digits == 0 {
        return Err("has a part that does not start with a number");
    }
    let (count, tail) = text.split_at(digits);
    let mut chars = tail.chars();
    let unit = chars.next().ok_or("ends in a number without a unit")?;
    let (rank, unit_seconds) = unit_in_seconds(unit).ok_or("has an unknown unit")?;
    Ok(DurationPart {
        count,
        rank,
        rest: chars.as_str(),
        unit_seconds,
    })
}

/// A unit's place in the required order, largest first, and its length in seconds.
fn unit_in_seconds(unit: char) -> Option<(u8, i64)> {
    match unit {
        'd' => Some((0, 24 * 60 * 60)),
        'h' => Some((1, 60 * 60)),
        'm' => Some((2, 60)),
        's' => Some((3, 1)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
