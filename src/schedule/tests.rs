//! Tests of the schedule maths, by behaviour: what a release engineer writes in `release.yaml`
//! and when the release is due.

use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};

use super::*;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("test instants are RFC 3339")
        .to_utc()
}

fn utcs(texts: &[&str]) -> Vec<DateTime<Utc>> {
    texts.iter().map(|text| utc(text)).collect()
}

fn schedule(crontab: &str, timezone: &str) -> Schedule {
    Schedule::parse(crontab, timezone).expect("test schedules are valid")
}

fn error(crontab: &str, timezone: &str) -> String {
    Schedule::parse(crontab, timezone)
        .expect_err("test schedule is invalid")
        .to_string()
}

#[test]
fn tuesday_means_tuesday_however_it_is_written() {
    let monday = utc("2026-11-30T00:00:00Z");
    assert_eq!(monday.weekday(), Weekday::Mon);
    for crontab in ["0 9 * * 2", "0 9 * * TUE", "0 9 * * tue", "0 9 * * Tue"] {
        let slots = schedule(crontab, "UTC").next_n(monday, 3);
        let expected = [
            "2026-12-01T09:00:00Z",
            "2026-12-08T09:00:00Z",
            "2026-12-15T09:00:00Z",
        ];
        assert_eq!(slots, utcs(&expected), "{crontab}");
        assert!(
            slots.iter().all(|slot| slot.weekday() == Weekday::Tue),
            "{crontab}"
        );
    }
}

#[test]
fn every_day_of_week_number_and_name_fires_on_that_weekday() {
    let start = utc("2026-11-30T00:00:00Z");
    let weekdays = [
        (0, "SUN", Weekday::Sun),
        (1, "MON", Weekday::Mon),
        (2, "TUE", Weekday::Tue),
        (3, "WED", Weekday::Wed),
        (4, "THU", Weekday::Thu),
        (5, "FRI", Weekday::Fri),
        (6, "SAT", Weekday::Sat),
        (7, "sun", Weekday::Sun),
    ];
    for (number, name, weekday) in weekdays {
        let by_number = schedule(&format!("0 9 * * {number}"), "UTC").next_n(start, 5);
        let by_name = schedule(&format!("0 9 * * {name}"), "UTC").next_n(start, 5);
        assert_eq!(by_number, by_name, "{number} and {name}");
        assert!(
            by_number.iter().all(|slot| slot.weekday() == weekday),
            "{number}"
        );
        assert!(
            by_number
                .windows(2)
                .all(|pair| pair[1] - pair[0] == Duration::weeks(1))
        );
    }
}

#[test]
fn sunday_is_both_0_and_7() {
    let start = utc("2026-11-30T00:00:00Z");
    let expected = utcs(&["2026-12-06T09:00:00Z", "2026-12-13T09:00:00Z"]);
    assert_eq!(schedule("0 9 * * 0", "UTC").next_n(start, 2), expected);
    assert_eq!(schedule("0 9 * * 7", "UTC").next_n(start, 2), expected);
    assert_eq!(schedule("0 9 * * 0,7", "UTC").next_n(start, 2), expected);
}

#[test]
fn weekday_ranges_by_name_and_number_cover_monday_to_friday() {
    let friday = utc("2026-12-04T10:00:00Z");
    let by_name = schedule("0 9 * * MON-FRI", "UTC").next_n(friday, 10);
    assert_eq!(by_name, schedule("0 9 * * 1-5", "UTC").next_n(friday, 10));
    assert_eq!(by_name[0], utc("2026-12-07T09:00:00Z"));
    let weekdays: Vec<Weekday> = by_name.iter().map(|slot| slot.weekday()).collect();
    let week = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];
    assert_eq!(weekdays, [week, week].concat());
}

#[test]
fn a_weekday_range_ending_on_sunday_wraps_to_7() {
    let start = utc("2026-11-30T00:00:00Z");
    let slots = schedule("0 9 * * FRI-SUN", "UTC").next_n(start, 3);
    assert_eq!(schedule("0 9 * * 5-7", "UTC").next_n(start, 3), slots);
    let weekdays: Vec<Weekday> = slots.iter().map(|slot| slot.weekday()).collect();
    assert_eq!(weekdays, [Weekday::Fri, Weekday::Sat, Weekday::Sun]);
}

#[test]
fn minute_steps_fire_every_quarter_hour() {
    let start = utc("2026-11-30T00:00:00Z");
    let slots = schedule("*/15 9 * * TUE", "UTC").next_n(start, 5);
    let expected = [
        "2026-12-01T09:00:00Z",
        "2026-12-01T09:15:00Z",
        "2026-12-01T09:30:00Z",
        "2026-12-01T09:45:00Z",
        "2026-12-08T09:00:00Z",
    ];
    assert_eq!(slots, utcs(&expected));
}

#[test]
fn ranges_with_steps_and_lists_combine() {
    let start = utc("2026-11-30T00:00:00Z");
    let slots = schedule("0 9,17 * * MON,THU", "UTC").next_n(start, 5);
    let expected = [
        "2026-11-30T09:00:00Z",
        "2026-11-30T17:00:00Z",
        "2026-12-03T09:00:00Z",
        "2026-12-03T17:00:00Z",
        "2026-12-07T09:00:00Z",
    ];
    assert_eq!(slots, utcs(&expected));
    let stepped = schedule("10-40/15 8-12/2 * * *", "UTC").next_n(start, 4);
    let expected = [
        "2026-11-30T08:10:00Z",
        "2026-11-30T08:25:00Z",
        "2026-11-30T08:40:00Z",
    ];
    assert_eq!(stepped[..3], utcs(&expected)[..]);
    assert_eq!(stepped[3], utc("2026-11-30T10:10:00Z"));
}

#[test]
fn month_names_match_month_numbers() {
    let start = utc("2026-11-30T00:00:00Z");
    let by_name = schedule("0 0 1 jan,Jul *", "UTC").next_n(start, 3);
    assert_eq!(by_name, schedule("0 0 1 1,7 *", "UTC").next_n(start, 3));
    let expected = [
        "2027-01-01T00:00:00Z",
        "2027-07-01T00:00:00Z",
        "2028-01-01T00:00:00Z",
    ];
    assert_eq!(by_name, utcs(&expected));
}

#[test]
fn slots_agree_with_the_cron_crate_where_its_semantics_match_crontab() {
    // The cron crate is an independent implementation. It agrees with crontab in UTC when
    // day-of-month or day-of-week is `*`, given seconds and weekday names.
    let pairs = [
        ("0 9 * * 2", "0 0 9 * * Tue"),
        ("0 9 * * 0", "0 0 9 * * Sun"),
        ("0 9 * * 7", "0 0 9 * * Sun"),
        ("*/15 8-10 * * 1-5", "0 */15 8-10 * * Mon-Fri"),
        ("30 6 1,15 * *", "0 30 6 1,15 * *"),
        ("5 4 * JUN-AUG SAT", "0 5 4 * Jun-Aug Sat"),
    ];
    let starts = [
        "2026-11-30T00:00:00Z",
        "2026-12-29T09:00:00Z",
        "2028-02-28T23:59:59Z",
    ];
    for (crontab, six_fields) in pairs {
        let theirs = cron::Schedule::from_str(six_fields).expect("oracle line is valid");
        for start in starts.map(utc) {
            let ours = schedule(crontab, "UTC").next_n(start, 30);
            let expected: Vec<DateTime<Utc>> = theirs.after(&start).take(30).collect();
            assert_eq!(ours, expected, "{crontab} after {start}");
        }
    }
}

#[test]
fn tuesday_9am_in_tokyo_is_midnight_utc() {
    let tokyo = schedule("0 9 * * TUE", "Asia/Tokyo");
    let slots = tokyo.next_n(utc("2026-11-30T00:00:00Z"), 2);
    assert_eq!(
        slots,
        utcs(&["2026-12-01T00:00:00Z", "2026-12-08T00:00:00Z"])
    );
}

#[test]
fn new_york_slots_stay_at_9am_local_across_both_dst_changes() {
    let new_york = schedule("0 9 * * TUE", "America/New_York");
    // Daylight time ends on Sunday 2026-11-01 and starts on Sunday 2027-03-14.
    let autumn = new_york.next_n(utc("2026-10-21T00:00:00Z"), 2);
    assert_eq!(
        autumn,
        utcs(&["2026-10-27T13:00:00Z", "2026-11-03T14:00:00Z"])
    );
    let spring = new_york.next_n(utc("2027-03-03T00:00:00Z"), 2);
    assert_eq!(
        spring,
        utcs(&["2027-03-09T14:00:00Z", "2027-03-16T13:00:00Z"])
    );
}

#[test]
fn berlin_slots_stay_at_9am_local_across_both_dst_changes() {
    let berlin = schedule("0 9 * * TUE", "Europe/Berlin");
    // Summer time ends on Sunday 2026-10-25 and starts on Sunday 2027-03-28.
    let autumn = berlin.next_n(utc("2026-10-19T00:00:00Z"), 2);
    assert_eq!(
        autumn,
        utcs(&["2026-10-20T07:00:00Z", "2026-10-27T08:00:00Z"])
    );
    let spring = berlin.next_n(utc("2027-03-22T00:00:00Z"), 2);
    assert_eq!(
        spring,
        utcs(&["2027-03-23T08:00:00Z", "2027-03-30T07:00:00Z"])
    );
}

#[test]
fn a_local_time_skipped_by_spring_forward_fires_when_the_clocks_jump() {
    // New York skips 02:00-02:59 on 2027-03-14: 02:30 fires at 03:00 EDT, 07:00Z.
    let new_york = schedule("30 2 * * *", "America/New_York");
    let slots = new_york.next_n(utc("2027-03-13T00:00:00Z"), 3);
    let expected = [
        "2027-03-13T07:30:00Z",
        "2027-03-14T07:00:00Z",
        "2027-03-15T06:30:00Z",
    ];
    assert_eq!(slots, utcs(&expected));
    let latest = new_york.latest_at_or_before(utc("2027-03-14T12:00:00Z"));
    assert_eq!(latest, Some(utc("2027-03-14T07:00:00Z")));
    // Berlin skips 02:00-02:59 on 2027-03-28: 02:30 fires at 03:00 CEST, 01:00Z.
    let berlin = schedule("30 2 * * *", "Europe/Berlin");
    let slots = berlin.next_n(utc("2027-03-27T00:00:00Z"), 3);
    let expected = [
        "2027-03-27T01:30:00Z",
        "2027-03-28T01:00:00Z",
        "2027-03-29T00:30:00Z",
    ];
    assert_eq!(slots, utcs(&expected));
}

#[test]
fn every_local_time_in_one_gap_fires_once_at_its_end() {
    // 02:00 and 02:30 do not exist on 2027-03-14 and 03:00 EDT is the end of the gap:
    // all three are the same instant.
    let new_york = schedule("0,30 2-3 * * *", "America/New_York");
    let slots = new_york.next_n(utc("2027-03-14T05:00:00Z"), 3);
    let expected = [
        "2027-03-14T07:00:00Z",
        "2027-03-14T07:30:00Z",
        "2027-03-15T06:00:00Z",
    ];
    assert_eq!(slots, utcs(&expected));
}

#[test]
fn a_local_time_repeated_by_fall_back_fires_once_at_its_first_occurrence() {
    // New York repeats 01:00-01:59 on 2026-11-01: 01:30 EDT is 05:30Z, 01:30 EST 06:30Z.
    let new_york = schedule("30 1 * * *", "America/New_York");
    let slots = new_york.next_n(utc("2026-10-31T00:00:00Z"), 3);
    let expected = [
        "2026-10-31T05:30:00Z",
        "2026-11-01T05:30:00Z",
        "2026-11-02T06:30:00Z",
    ];
    assert_eq!(slots, utcs(&expected));
    // During the second 01:30, the latest Slot is still the first one.
    let latest = new_york.latest_at_or_before(utc("2026-11-01T06:45:00Z"));
    assert_eq!(latest, Some(utc("2026-11-01T05:30:00Z")));
    // Between the two occurrences, the next Slot is the next day's.
    let next = new_york.next_n(utc("2026-11-01T06:00:00Z"), 1);
    assert_eq!(next, utcs(&["2026-11-02T06:30:00Z"]));
}

#[test]
fn frequent_slots_skip_the_repeated_hour_after_fall_back() {
    let new_york = schedule("*/30 * * * *", "America/New_York");
    let slots = new_york.next_n(utc("2026-11-01T03:30:00Z"), 6);
    let expected = [
        "2026-11-01T04:00:00Z",
        "2026-11-01T04:30:00Z",
        "2026-11-01T05:00:00Z",
        "2026-11-01T05:30:00Z",
        "2026-11-01T07:00:00Z",
        "2026-11-01T07:30:00Z",
    ];
    assert_eq!(slots, utcs(&expected));
}

#[test]
fn slots_cross_the_turn_of_the_year() {
    let tuesdays = schedule("0 9 * * TUE", "UTC");
    let slots = tuesdays.next_n(utc("2026-12-22T09:00:00Z"), 2);
    assert_eq!(
        slots,
        utcs(&["2026-12-29T09:00:00Z", "2027-01-05T09:00:00Z"])
    );
    let latest = tuesdays.latest_at_or_before(utc("2027-01-04T12:00:00Z"));
    assert_eq!(latest, Some(utc("2026-12-29T09:00:00Z")));
    let latest = tuesdays.latest_at_or_before(utc("2027-01-05T09:00:00Z"));
    assert_eq!(latest, Some(utc("2027-01-05T09:00:00Z")));
}

#[test]
fn restricted_day_of_month_and_day_of_week_fire_on_either() {
    let slots = schedule("0 9 13 * FRI", "UTC").next_n(utc("2026-11-01T00:00:00Z"), 9);
    let expected = [
        "2026-11-06T09:00:00Z",
        "2026-11-13T09:00:00Z",
        "2026-11-20T09:00:00Z",
        "2026-11-27T09:00:00Z",
        "2026-12-04T09:00:00Z",
        "2026-12-11T09:00:00Z",
        "2026-12-13T09:00:00Z",
        "2026-12-18T09:00:00Z",
        "2026-12-25T09:00:00Z",
    ];
    assert_eq!(slots, utcs(&expected));
    assert_eq!(
        slots[6].weekday(),
        Weekday::Sun,
        "the 13th fires on a Sunday too"
    );
    assert!(
        slots
            .iter()
            .all(|slot| slot.weekday() == Weekday::Fri || slot.day() == 13)
    );
}

#[test]
fn a_day_field_starting_with_a_star_makes_both_day_fields_match() {
    // crontab(5) counts a field as restricted only when it does not start with `*`.
    let slots = schedule("0 9 */2 * FRI", "UTC").next_n(utc("2026-11-01T00:00:00Z"), 4);
    let expected = [
        "2026-11-13T09:00:00Z",
        "2026-11-27T09:00:00Z",
        "2026-12-11T09:00:00Z",
        "2026-12-25T09:00:00Z",
    ];
    assert_eq!(slots, utcs(&expected));
}

#[test]
fn latest_at_or_before_includes_a_slot_exactly_at_now() {
    let tuesdays = schedule("0 9 * * TUE", "UTC");
    let slot = utc("2026-12-01T09:00:00Z");
    assert_eq!(tuesdays.latest_at_or_before(slot), Some(slot));
    let just_before = utc("2026-12-01T08:59:59Z");
    assert_eq!(
        tuesdays.latest_at_or_before(just_before),
        Some(utc("2026-11-24T09:00:00Z"))
    );
}

#[test]
fn latest_at_or_before_reads_tokyo_local_time() {
    let tokyo = schedule("0 9 * * TUE", "Asia/Tokyo");
    let slot = utc("2026-12-01T00:00:00Z");
    assert_eq!(tokyo.latest_at_or_before(slot), Some(slot));
    let just_before = utc("2026-11-30T23:59:59Z");
    assert_eq!(
        tokyo.latest_at_or_before(just_before),
        Some(utc("2026-11-24T00:00:00Z"))
    );
}

#[test]
fn february_29th_is_found_across_the_years_between_leap_days() {
    let leap_day = schedule("0 9 29 2 *", "UTC");
    let now = utc("2027-06-01T00:00:00Z");
    assert_eq!(
        leap_day.latest_at_or_before(now),
        Some(utc("2024-02-29T09:00:00Z"))
    );
    assert_eq!(leap_day.next_n(now, 1), utcs(&["2028-02-29T09:00:00Z"]));
}

#[test]
fn a_day_that_samoa_skipped_fires_once_when_its_clocks_jump() {
    // Samoa moved across the date line by skipping all of 2011-12-30, local time.
    let apia = schedule("0 9 * * *", "Pacific/Apia");
    let slots = apia.next_n(utc("2011-12-29T00:00:00Z"), 3);
    let expected = [
        "2011-12-29T19:00:00Z",
        "2011-12-30T10:00:00Z",
        "2011-12-30T19:00:00Z",
    ];
    assert_eq!(slots, utcs(&expected));
}

#[test]
fn latest_and_after_agree_around_the_year_in_zones_with_dst() {
    // For any instant t: the latest Slot at or before t is followed by a Slot after t, and
    // the first Slot after t is its own latest. Checked every 5 hours of a year, so every
    // hour of the day and both DST changes of each zone are crossed.
    let crontabs = [
        "30 1 * * *",
        "*/20 2 * * SUN",
        "0 9 * * TUE",
        "0 0 13 * FRI",
    ];
    let zones = ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe"];
    for (crontab, zone) in crontabs.iter().flat_map(|c| zones.map(|z| (*c, z))) {
        let schedule = schedule(crontab, zone);
        let mut t = utc("2026-09-01T00:17:00Z");
        while t < utc("2027-09-01T00:00:00Z") {
            let latest = schedule.latest_at_or_before(t).expect("a slot before t");
            let next = schedule.next_n(t, 1)[0];
            assert!(latest <= t && t < next, "{schedule} at {t}");
            assert_eq!(schedule.next_n(latest, 1), [next], "{schedule} at {t}");
            assert_eq!(
                schedule.latest_at_or_before(next),
                Some(next),
                "{schedule} at {t}"
            );
            t += Duration::hours(5);
        }
    }
}

#[test]
fn display_shows_the_crontab_and_the_zone() {
    let berlin = schedule("  0 9 * * TUE ", "Europe/Berlin");
    assert_eq!(berlin.to_string(), "0 9 * * TUE in Europe/Berlin");
    assert_eq!(berlin.crontab(), "0 9 * * TUE");
    assert_eq!(berlin.timezone(), Tz::Europe__Berlin);
}

#[test]
fn a_line_without_exactly_five_fields_is_refused() {
    let expected = "crontab `0 9 * *` has 4 fields: allowed is exactly 5, \
                    `minute hour day-of-month month day-of-week`, as in `0 9 * * TUE`";
    assert_eq!(error("0 9 * *", "UTC"), expected);
    assert!(error("0 0 9 * * TUE", "UTC").starts_with("crontab `0 0 9 * * TUE` has 6 fields"));
    assert!(error("", "UTC").starts_with("crontab `` has 0 fields"));
    assert!(error("@weekly", "UTC").starts_with("crontab `@weekly` has 1 fields"));
}

#[test]
fn values_out_of_range_are_refused_naming_the_field_and_what_is_allowed() {
    let expected = "minute `60` in crontab `60 9 * * 2` is out of range: allowed are 0-59, \
                    `*`, ranges `a-b`, steps `*/n` and `a-b/n`, and lists of these";
    assert_eq!(error("60 9 * * 2", "UTC"), expected);
    let weekday = error("0 9 * * 8", "UTC");
    assert!(weekday.starts_with("day-of-week `8` in crontab `0 9 * * 8` is out of range"));
    assert!(weekday.contains("allowed are 0-7 (0 and 7 are Sunday) or `SUN`-`SAT`"));
    assert!(error("0 24 * * *", "UTC").starts_with("hour `24` in crontab"));
    assert!(error("0 9 0 * *", "UTC").starts_with("day-of-month `0` in crontab"));
    assert!(error("0 9 * 13 *", "UTC").starts_with("month `13` in crontab"));
    assert!(error("0 9 * * 99999999999", "UTC").contains("`99999999999` in crontab"));
}

/// Each case: the input, and how its error message starts.
const MALFORMED_FIELDS: [(&str, &str); 10] = [
    (
        "0 9 * * FOO",
        "day-of-week `FOO` in crontab `0 9 * * FOO` is not a number or a name",
    ),
    (
        "0 9 * * TUES",
        "day-of-week `TUES` in crontab `0 9 * * TUES` is not a number or",
    ),
    (
        "0 9 * FOO *",
        "month `FOO` in crontab `0 9 * FOO *` is not a number or a name",
    ),
    (
        "MON 9 * * *",
        "minute `MON` in crontab `MON 9 * * *` is not a number:",
    ),
    (
        "0 9 * * 5-1",
        "day-of-week `5-1` in crontab `0 9 * * 5-1` is a range that runs",
    ),
    (
        "*/0 9 * * *",
        "minute `*/0` in crontab `*/0 9 * * *` has a step that is not a",
    ),
    (
        "5/15 9 * * *",
        "minute `5/15` in crontab `5/15 9 * * *` has a step after a single",
    ),
    (
        "0 9,,17 * * *",
        "hour `9,,17` in crontab `0 9,,17 * * *` has an empty list item",
    ),
    (
        "0 -9 * * *",
        "hour `-9` in crontab `0 -9 * * *` is a range without two ends",
    ),
    (
        "0 9 ? * TUE",
        "day-of-month `?` in crontab `0 9 ? * TUE` is not a number:",
    ),
];

#[test]
fn malformed_values_are_refused_naming_the_bad_part() {
    for (crontab, start) in MALFORMED_FIELDS {
        let message = error(crontab, "UTC");
        assert!(message.starts_with(start), "{message}");
        assert!(message.contains(": allowed are "), "{message}");
    }
}

#[test]
fn the_leftmost_bad_field_is_the_one_named() {
    assert!(error("60 9 0 * 8", "UTC").starts_with("minute `60`"));
    assert!(error("0 9 0 * 8", "UTC").starts_with("day-of-month `0`"));
}

#[test]
fn a_schedule_that_can_never_fire_is_refused() {
    assert!(error("0 9 31 2 *", "UTC").starts_with("crontab `0 9 31 2 *` never fires"));
    assert!(error("0 9 31 4,6 *", "UTC").contains("never fires"));
    // With both day fields restricted, February Mondays still fire.
    assert!(Schedule::parse("0 9 30-31 FEB MON", "UTC").is_ok());
    assert!(Schedule::parse("0 9 31 4,5 *", "UTC").is_ok());
}

#[test]
fn unknown_time_zones_are_refused_by_name() {
    let expected = "unknown time zone `Mars/Olympus_Mons`: allowed are IANA names such as \
                    `UTC`, `Europe/Berlin` or `America/New_York`";
    assert_eq!(error("0 9 * * TUE", "Mars/Olympus_Mons"), expected);
    let hinted = error("0 9 * * TUE", "europe/berlin");
    assert!(
        hinted.ends_with("\nhelp: did you mean `Europe/Berlin`?"),
        "{hinted}"
    );
    assert!(error("0 9 * * TUE", "").starts_with("unknown time zone ``"));
}

#[test]
fn durations_accept_days_hours_minutes_and_seconds() {
    assert_eq!(parse_duration("48h"), Ok(Duration::hours(48)));
    assert_eq!(parse_duration("90m"), Ok(Duration::minutes(90)));
    assert_eq!(parse_duration("2d"), Ok(Duration::days(2)));
    assert_eq!(parse_duration("1d12h"), Ok(Duration::hours(36)));
    assert_eq!(parse_duration("30s"), Ok(Duration::seconds(30)));
    assert_eq!(parse_duration("1d2h3m4s"), Ok(Duration::seconds(93_784)));
    assert_eq!(parse_duration("0h"), Ok(Duration::zero()));
}

/// Each case: the input, and how its error message starts.
const BAD_DURATIONS: [(&str, &str); 11] = [
    ("", "duration `` is empty"),
    ("48", "duration `48` ends in a number without a unit"),
    (
        "h",
        "duration `h` has a part that does not start with a number",
    ),
    (
        "-1h",
        "duration `-1h` has a part that does not start with a number",
    ),
    ("1.5h", "duration `1.5h` has an unknown unit"),
    ("2w", "duration `2w` has an unknown unit"),
    ("48 h", "duration `48 h` has an unknown unit"),
    (
        "12h1d",
        "duration `12h1d` repeats a unit or puts a smaller unit first",
    ),
    (
        "1h1h",
        "duration `1h1h` repeats a unit or puts a smaller unit first",
    ),
    (
        "99999999999999999999d",
        "duration `99999999999999999999d` is too long",
    ),
    (
        "999999999999999d",
        "duration `999999999999999d` is too long",
    ),
];

#[test]
fn bad_durations_are_refused_saying_what_is_allowed() {
    for (text, start) in BAD_DURATIONS {
        let message = parse_duration(text).expect_err(text).to_string();
        assert!(message.starts_with(start), "{message}");
        assert!(
            message.ends_with("as in `48h`, `90m`, `2d` or `1d12h`"),
            "{message}"
        );
    }
}
