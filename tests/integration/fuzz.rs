//! Property tests (proptest) of the rules loader and the duration parser, through the library: arbitrary
//! input never panics, every rejection names its file and a line inside it, valid durations round-trip
//! and valid generated rule files load. Case counts are kept moderate so the whole file runs in seconds;
//! proptest saves any failing input under proptest-regressions/ next to this file, and replays it first.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::Config;

use rdsguard::rules::{format_seconds, load, parse_duration, Diagnostic, RulesError};

/// The parser's upper bound: ten years of 366 days (src/rules/duration.rs).
const MAX_SECONDS: i64 = 10 * 366 * 86_400;
const UNITS: [(&str, i64); 5] = [
    ("w", 604_800),
    ("d", 86_400),
    ("h", 3_600),
    ("m", 60),
    ("s", 1),
];

fn config(cases: u32) -> Config {
    Config {
        cases,
        ..Config::default()
    }
}

/// Writes `files` into a fresh folder; returns it (kept alive by the guard) and the files' paths.
fn folder(files: &[(&str, &[u8])]) -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = files
        .iter()
        .map(|(name, bytes)| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).expect("write rule file");
            path
        })
        .collect();
    (dir, paths)
}

/// Every diagnostic names one of `files` (or the folder they are in, for folder-wide problems), and its
/// line, when it has one, exists in that file.
fn assert_located(
    error: &RulesError,
    files: &[(PathBuf, &[u8])],
    folder: &Path,
) -> Result<(), TestCaseError> {
    prop_assert!(!error.errors.is_empty(), "a rejection carries a problem");
    for Diagnostic {
        file,
        line,
        message,
    } in &error.errors
    {
        prop_assert!(!message.trim().is_empty(), "{file}: empty message");
        if let Some((_, bytes)) = files.iter().find(|(p, _)| p.display().to_string() == *file) {
            let lines = bytes.iter().filter(|b| **b == b'\n').count() + 1;
            if let Some(line) = line {
                prop_assert!(
                    (1..=lines).contains(line),
                    "{file}:{line} is outside the file's {lines} line(s): {message}"
                );
            }
        } else {
            prop_assert_eq!(
                file,
                &folder.display().to_string(),
                "a problem names neither a file nor the folder: {}",
                message
            );
            prop_assert!(line.is_none(), "{file}:{line:?}: {message}");
        }
    }
    let text = error.to_string();
    let count = format!("{} problem", error.errors.len());
    prop_assert!(text.starts_with(&count), "{text}");
    Ok(())
}

fn load_one(bytes: &[u8]) -> Result<(), TestCaseError> {
    let (dir, paths) = folder(&[("rules.toml", bytes)]);
    if let Err(error) = load(&paths) {
        assert_located(&error, &[(paths[0].clone(), bytes)], dir.path())?;
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Durations
// ------------------------------------------------------------------------------------------------

/// Text that looks like a duration more often than not: digits, spaces, unit letters, signs, and the odd
/// non-ASCII digit or letter.
fn duration_like() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => "[0-9]{1,21}",
            4 => "[wdhmsx]",
            1 => " ",
            1 => "[-+.,_]",
            1 => "[٣é\u{200b}\u{0}Ｈ]",
        ],
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

/// A valid duration written as terms, largest unit first, each unit at most once, optional spaces
/// between a number and its unit and around the whole. Returns the text and its seconds.
fn duration_terms() -> impl Strategy<Value = (String, i64)> {
    (
        proptest::collection::vec(proptest::option::of(0i64..2_000), 5),
        any::<[bool; 6]>(),
    )
        .prop_filter_map(
            "at least one positive term, within ten years",
            |(values, spaces)| {
                let mut text = String::new();
                let mut total = 0i64;
                if spaces[5] {
                    text.push(' ');
                }
                for (i, ((unit, size), value)) in UNITS.iter().zip(&values).enumerate() {
                    // Weeks below 400, so that most combinations stay within ten years.
                    if let Some(value) = value.map(|v| if i == 0 { v % 400 } else { v }) {
                        text.push_str(&value.to_string());
                        if spaces[i] {
                            text.push(' ');
                        }
                        text.push_str(unit);
                        total += value * size;
                    }
                }
                (total > 0 && total <= MAX_SECONDS).then_some((text, total))
            },
        )
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn parse_duration_never_panics_on_any_string(text in any::<String>()) {
        match parse_duration(&text) {
            Ok(d) => prop_assert!((1..=MAX_SECONDS).contains(&d.seconds)),
            Err(message) => prop_assert!(!message.is_empty()),
        }
    }

    #[test]
    fn parse_duration_never_panics_on_duration_like_text(text in duration_like()) {
        match parse_duration(&text) {
            Ok(d) => {
                prop_assert!((1..=MAX_SECONDS).contains(&d.seconds), "{text:?} -> {}", d.seconds);
                // Accepted text reads back to the same value through its display form.
                prop_assert_eq!(parse_duration(&d.to_string()), Ok(d));
            }
            Err(message) => prop_assert!(!message.is_empty()),
        }
    }

    #[test]
    fn valid_durations_parse_to_their_value_and_round_trip((text, seconds) in duration_terms()) {
        let parsed = parse_duration(&text).map_err(TestCaseError::fail)?;
        prop_assert_eq!(parsed.seconds, seconds, "{:?}", text);
        prop_assert_eq!(parse_duration(&parsed.to_string()), Ok(parsed));
    }

    #[test]
    fn every_positive_duration_round_trips_through_its_display(seconds in 1..=MAX_SECONDS) {
        let shown = format_seconds(seconds);
        let parsed = parse_duration(&shown).map_err(TestCaseError::fail)?;
        prop_assert_eq!(parsed.seconds, seconds, "{}", shown);
        prop_assert_eq!(parsed.to_string(), shown);
    }
}

// ------------------------------------------------------------------------------------------------
// Rule files
// ------------------------------------------------------------------------------------------------

/// A TOML value for a rule key: mostly well-formed, of every type, right and wrong for the key.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "\"[a-z0-9 -]{0,12}\"".prop_map(|s| s),
        Just("\"prod-db\"".to_string()),
        Just("\"26h\"".to_string()),
        Just("\"1d12h\"".to_string()),
        Just("\"26 parsecs\"".to_string()),
        Just("\"0s\"".to_string()),
        Just("\"99999999999999999999h\"".to_string()),
        Just("\"222222222222\"".to_string()),
        Just("\"alias/aws/rds\"".to_string()),
        Just("\"alias/rds-vault\"".to_string()),
        Just("\"arn:aws:rds:*:*:db:x\"".to_string()),
        Just("\"2027-01-31\"".to_string()),
        Just("\"high\"".to_string()),
        Just("2027-01-31".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("[]".to_string()),
        Just("[\"us-east-1\", 5]".to_string()),
        Just("{ account = \"222222222222\", region = \"same\" }".to_string()),
        Just(
            "{ account = \"222222222222\", region = \"eu-west-1\", kms_key = \"alias/rds-vault\" }"
                .to_string()
        ),
        Just(
            "{ account = \"2222\", region = \"mars-1\", kms_key = \"alias/aws/rds\" }".to_string()
        ),
        Just("{ min = 1, max = 3 }".to_string()),
        Just("{ min = 5, max = 2 }".to_string()),
        Just("{ min = -1, max = 0 }".to_string()),
        Just("{ min = 4294967296 }".to_string()),
        Just(
            "{ tags = { env = \"prod\" }, regions = [\"us-east-1\"], kinds = [\"db-cluster\"] }"
                .to_string()
        ),
        Just(
            "{ accounts = [\"12345\"], regions = [\"Mars\"], kinds = [\"db-thing\"] }".to_string()
        ),
        Just("{ instance_class = \"db.t3.micro\", keep = 0 }".to_string()),
        Just("{ instance_class = \"db.t3.micro\", secret = \"rds/{identifier}\" }".to_string()),
        Just("{ regoin = \"x\" }".to_string()),
    ]
}

/// One `[[rule]]` / `[[exemption]]` block with distinct keys of its kind (so that most blocks get past
/// the TOML syntax and the unknown-key check into validation), sometimes with a key of the other kind, an
/// unknown key, a broken header or a stray line.
fn toml_block() -> impl Strategy<Value = String> {
    let rule_key = prop_oneof![
        3 => Just("id"),
        1 => Just("description"),
        2 => Just("select"),
        3 => Just("destination"),
        1 => Just("source_kms_key"),
        3 => Just("max_age"),
        2 => Just("retain"),
        1 => Just("restore"),
        1 => Just("severity"),
        1 => Just("reason"),
        1 => Just("colour"),
    ];
    let exemption_key = prop_oneof![
        3 => Just("arn"),
        2 => Just("reason"),
        2 => Just("expires"),
        1 => Just("id"),
    ];
    let header = prop_oneof![
        20 => Just("[[rule]]"),
        1 => Just("[rule]"),
        1 => Just("[[rule]"),
        1 => Just(""),
    ];
    let stray = proptest::option::weighted(0.05, "[^\n]{0,20}");
    let rule = (
        header,
        proptest::collection::btree_map(rule_key, toml_value(), 0..9),
    );
    let exemption = (
        Just("[[exemption]]"),
        proptest::collection::btree_map(exemption_key, toml_value(), 0..4),
    );
    (prop_oneof![3 => rule, 1 => exemption], stray).prop_map(|((header, entries), stray)| {
        let mut lines = vec![header.to_string()];
        lines.extend(entries.iter().map(|(k, v)| format!("{k} = {v}")));
        lines.extend(stray);
        lines.join("\n")
    })
}

fn toml_like_file() -> impl Strategy<Value = String> {
    proptest::collection::vec(toml_block(), 0..6).prop_map(|blocks| blocks.join("\n\n"))
}

/// A valid rule as TOML, with its id and max_age.
fn valid_rule(id: String) -> impl Strategy<Value = (String, String)> {
    let region = prop_oneof![
        Just("same".to_string()),
        Just("us-east-1".to_string()),
        Just("eu-central-2".to_string()),
        Just("us-gov-west-1".to_string()),
    ];
    let key = prop_oneof![
        Just(None),
        Just(Some("alias/rds-vault".to_string())),
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}".prop_map(Some),
        "[0-9]{12}".prop_map(|a| Some(format!("arn:aws:kms:us-east-1:{a}:key/abcd"))),
    ];
    let select = (
        proptest::option::of(("[a-z]{1,8}", "[a-z0-9*?]{1,8}")),
        proptest::option::of(prop_oneof![
            Just("postgres"),
            Just("mysql"),
            Just("aurora-*")
        ]),
        proptest::option::of(prop_oneof![
            "[0-9]{12}".prop_map(|a| a),
            Just("*".to_string())
        ]),
        proptest::option::of(prop_oneof![
            Just("us-east-1"),
            Just("eu-*"),
            Just("ap-southeast-7")
        ]),
        proptest::option::of(prop_oneof![Just("db-instance"), Just("db-cluster")]),
    );
    let retain = (
        proptest::option::of(0u32..20),
        proptest::option::of(1u32..20),
    );
    let severity = proptest::option::of(prop_oneof![
        Just("informational"),
        Just("low"),
        Just("medium"),
        Just("high"),
        Just("critical"),
    ]);
    (
        "[0-9]{12}",
        region,
        key,
        select,
        duration_terms(),
        retain,
        severity,
        any::<bool>(),
    )
        .prop_map(
            move |(account, region, key, select, (age, _), (min, max), severity, restore)| {
                let mut lines = vec!["[[rule]]".to_string(), format!("id = \"{id}\"")];
                let (tag, engine, accounts, regions, kind) = select;
                let mut selectors = Vec::new();
                if let Some((k, v)) = tag {
                    selectors.push(format!("tags = {{ {k} = \"{v}\" }}"));
                }
                if let Some(e) = engine {
                    selectors.push(format!("engines = [\"{e}\"]"));
                }
                if let Some(a) = accounts {
                    selectors.push(format!("accounts = [\"{a}\"]"));
                }
                if let Some(r) = regions {
                    selectors.push(format!("regions = [\"{r}\"]"));
                }
                if let Some(k) = kind {
                    selectors.push(format!("kinds = [\"{k}\"]"));
                }
                if !selectors.is_empty() {
                    lines.push(format!("select = {{ {} }}", selectors.join(", ")));
                }
                let mut destination = format!("account = \"{account}\", region = \"{region}\"");
                if let Some(key) = &key {
                    destination.push_str(&format!(", kms_key = \"{key}\""));
                }
                lines.push(format!("destination = {{ {destination} }}"));
                if let Some(key) = key {
                    lines.push(format!("source_kms_key = \"{key}\""));
                }
                lines.push(format!("max_age = \"{age}\""));
                // A valid retain: min never above max.
                let retain: Vec<String> = match (min, max) {
                    (Some(min), Some(max)) => {
                        vec![format!("min = {}", min.min(max)), format!("max = {max}")]
                    }
                    (Some(min), None) => vec![format!("min = {min}")],
                    (None, Some(max)) => vec![format!("max = {max}")],
                    (None, None) => Vec::new(),
                };
                if !retain.is_empty() {
                    lines.push(format!("retain = {{ {} }}", retain.join(", ")));
                }
                if let Some(severity) = severity {
                    lines.push(format!("severity = \"{severity}\""));
                }
                if restore {
                    lines.push(
                        "restore = { instance_class = \"db.t3.micro\", secret = \"rds/{identifier}\" }"
                            .to_string(),
                    );
                }
                (lines.join("\n"), age)
            },
        )
}

/// A valid rule file: unique kebab-case ids, then optional exemptions with reasons.
fn valid_file() -> impl Strategy<Value = (String, Vec<(String, String)>)> {
    proptest::collection::btree_set("[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,6}){0,2}", 1..6)
        .prop_flat_map(|ids| {
            let rules: Vec<_> = ids.into_iter().map(valid_rule).collect();
            let exemptions = proptest::collection::vec(
                (
                    "[a-z0-9*-]{1,12}",
                    "[A-Za-z0-9 .-]{0,20}[A-Za-z0-9]",
                    proptest::option::of((2000i32..2100, 1u32..=12, 1u32..=28)),
                ),
                0..3,
            );
            (rules, exemptions)
        })
        .prop_map(|(rules, exemptions)| {
            let mut text = String::from("# generated\n");
            let mut expected = Vec::new();
            for (rule, age) in &rules {
                text.push('\n');
                text.push_str(rule);
                text.push('\n');
                let id = rule
                    .lines()
                    .nth(1)
                    .and_then(|l| l.split('"').nth(1))
                    .unwrap_or_default()
                    .to_string();
                expected.push((id, age.clone()));
            }
            for (arn, reason, expires) in exemptions {
                text.push_str(&format!(
                    "\n[[exemption]]\narn = \"arn:aws:rds:*:*:db:{arn}\"\nreason = \"{reason}\"\n"
                ));
                if let Some((y, m, d)) = expires {
                    text.push_str(&format!("expires = \"{y:04}-{m:02}-{d:02}\"\n"));
                }
            }
            (text, expected)
        })
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn arbitrary_bytes_never_panic_and_every_problem_is_located(
        bytes in proptest::collection::vec(any::<u8>(), 0..600)
    ) {
        load_one(&bytes)?;
    }

    #[test]
    fn arbitrary_text_never_panics_and_every_problem_is_located(text in any::<String>()) {
        load_one(text.as_bytes())?;
    }

    #[test]
    fn toml_like_files_never_panic_and_every_problem_is_located(text in toml_like_file()) {
        load_one(text.as_bytes())?;
    }

    #[test]
    fn two_files_in_a_folder_are_each_located(a in toml_like_file(), b in toml_like_file()) {
        let (dir, paths) = folder(&[("a.toml", a.as_bytes()), ("b.toml", b.as_bytes())]);
        let files = [(paths[0].clone(), a.as_bytes()), (paths[1].clone(), b.as_bytes())];
        if let Err(error) = load(&[dir.path().to_path_buf()]) {
            assert_located(&error, &files, dir.path())?;
        }
    }

    #[test]
    fn valid_generated_rule_files_load((text, expected) in valid_file()) {
        let (_dir, paths) = folder(&[("rules.toml", text.as_bytes())]);
        let set = load(&paths).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(set.rules.len(), expected.len());
        for (rule, (id, age)) in set.rules.iter().zip(&expected) {
            prop_assert_eq!(&rule.id, id);
            prop_assert_eq!(Ok(rule.max_age), parse_duration(age));
            // The rule's location is its [[rule]] header.
            let header = text.lines().nth(rule.location.line - 1).unwrap_or_default();
            prop_assert_eq!(header, "[[rule]]", "{}", rule.location);
            if let (Some(min), Some(max)) = (rule.retain.min, rule.retain.max) {
                prop_assert!(min <= max);
            }
        }
        prop_assert_eq!(set.files.len(), 1);
        prop_assert_eq!(set.sha256.len(), 64);
    }

    /// Changing one character of a valid file either still loads or is rejected with a located problem.
    #[test]
    fn one_changed_byte_in_a_valid_file_is_located(
        (text, _) in valid_file(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = text.into_bytes();
        let at = position.index(bytes.len());
        bytes[at] = byte;
        load_one(&bytes)?;
    }
}
