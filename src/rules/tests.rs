use std::path::PathBuf;

use super::*;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write rule file");
    path
}

fn load_text(text: &str) -> Result<RuleSet, RulesError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(&dir, "rules.toml", text);
    load(&[path])
}

/// Diagnostics as `line: message`, without the temporary folder's name.
fn problems(result: Result<RuleSet, RulesError>) -> Vec<String> {
    let err = result.expect_err("rules should be rejected");
    err.errors
        .iter()
        .map(|d| match d.line {
            Some(line) => format!("{line}: {}", d.message),
            None => d.message.clone(),
        })
        .collect()
}

const DESIGN_EXAMPLE: &str = r#"
[[rule]]
id = "prod-postgres"
description = "Production databases: daily copy in the vault account"
select = { tags = { env = "prod" }, engines = ["postgres"], accounts = ["*"], regions = ["us-east-1"] }
destination = { account = "222222222222", region = "same", kms_key = "alias/rds-vault" }
source_kms_key = "alias/rds-share"
max_age = "26h"
retain = { min = 3, max = 7 }
severity = "high"

[[exemption]]
arn = "arn:aws:rds:us-east-1:111111111111:db:legacy-*"
reason = "Decommission ticket OPS-123"
expires = "2027-01-31"
"#;

#[test]
fn loads_the_design_example() {
    let set = load_text(DESIGN_EXAMPLE).expect("valid rules");
    assert_eq!(set.rules.len(), 1);
    let rule = &set.rules[0];
    assert_eq!(rule.id, "prod-postgres");
    assert_eq!(rule.max_age.seconds, 26 * 3600);
    assert_eq!(
        rule.retain,
        Retain {
            min: Some(3),
            max: Some(7)
        }
    );
    assert_eq!(rule.destination.account, "222222222222");
    assert_eq!(rule.destination.region, DestinationRegion::Same);
    assert_eq!(rule.destination.kms_key.as_deref(), Some("alias/rds-vault"));
    assert_eq!(rule.severity, Severity::High);
    assert_eq!(rule.location.line, 2);
    assert_eq!(set.exemptions.len(), 1);
    assert_eq!(
        set.exemptions[0].expires,
        NaiveDate::from_ymd_opt(2027, 1, 31)
    );
    assert_eq!(set.sha256.len(), 64);
    assert_eq!(set.pinned_regions(), Some(vec!["us-east-1".to_string()]));
}

#[test]
fn reports_every_problem_with_its_line() {
    let text = r#"
[[rule]]
id = "Prod_Rule"
destination = { account = "2222", region = "mars-1" }
max_age = "26 parsecs"
retain = { min = 5, max = 2 }
severity = "urgent"

[[rule]]
id = "second"
max_agee = "1d"
destination = { account = "222222222222", colour = "red" }
max_age = "1d"

[[rule]]
id = "third"
destination = { account = "222222222222" }
max_age = 26

[[exemption]]
arn = "arn:aws:rds:*:*:db:x"
expires = "someday"
"#;
    let found = problems(load_text(text));
    assert_eq!(
        found,
        vec![
            "3: rule `Prod_Rule`: id `Prod_Rule` must be kebab-case (lowercase letters, digits and single hyphens)",
            "4: rule `Prod_Rule`: destination.account `2222` is not a 12-digit AWS account id",
            "4: rule `Prod_Rule`: destination.region `mars-1` is not a region name (or \"same\")",
            "5: rule `Prod_Rule`: max_age: `26 parsecs`: unknown unit `parsecs`; expected a duration such as `26h`, `7d` or `1d12h` (units: s, m, h, d, w)",
            "6: rule `Prod_Rule`: retain.min (5) is greater than retain.max (2)",
            "7: rule `Prod_Rule`: severity `urgent` is not one of: informational, low, medium, high, critical",
            "11: unknown key `max_agee` in rule `second` (expected one of: id, description, select, destination, source_kms_key, max_age, grace, cadence, retain, restore, immutable, remediate, backup, drill, severity)",
            "12: unknown key `colour` in `destination` of rule `second` (expected one of: account, region, kms_key, replicas, vault, option_group)",
            "18: in rule `third`: invalid type: integer `26`, expected a string",
            "20: exemption for `arn:aws:rds:*:*:db:x` has no reason: add reason = \"...\" for the auditors",
            "22: exemption expires `someday` is not a date like 2027-01-31",
        ]
    );
}

/// One run shows every problem of a rule: an unknown key does not hide a missing key, a bad duration
/// or bad bounds, and a missing key does not hide the rest either (issue 11).
#[test]
fn every_problem_of_one_rule_is_reported_at_once() {
    let text = r#"[[rule]]
id = "x"
max_age = "26 parsecs"
retain = { min = 3, max = 1 }
bogus_key = 1
select = { accounts = ["1234"], kinds = ["aurora"], regoin = ["us-east-1"] }
"#;
    assert_eq!(
        problems(load_text(text)),
        vec![
            "1: rule `x`: missing required key `destination` (for example destination = { account = \"222222222222\" })",
            "3: rule `x`: max_age: `26 parsecs`: unknown unit `parsecs`; expected a duration such as `26h`, `7d` or `1d12h` (units: s, m, h, d, w)",
            "4: rule `x`: retain.min (3) is greater than retain.max (1)",
            "5: unknown key `bogus_key` in rule `x` (expected one of: id, description, select, destination, source_kms_key, max_age, grace, cadence, retain, restore, immutable, remediate, backup, drill, severity)",
            "6: rule `x`: select.accounts: `1234` is not a 12-digit account id or a pattern like \"*\"",
            "6: rule `x`: select.kinds: `aurora` is not `db-instance` or `db-cluster`",
            "6: unknown key `regoin` in `select` of rule `x` (expected one of: tags, engines, accounts, regions, identifiers, kinds, read_replicas)",
        ]
    );
    // Wrong types are reported each at its line, with the rest of the rule.
    let text = r#"[[rule]]
id = 7
max_age = 26
retain = { min = "three" }
destination = { kms_key = "alias/aws/rds" }
restore = { keep = 0 }
"#;
    assert_eq!(
        problems(load_text(text)),
        vec![
            "2: in a rule: invalid type: integer `7`, expected a string",
            "3: in a rule: invalid type: integer `26`, expected a string",
            "4: in a rule: invalid type: string \"three\", expected i64",
            "5: a rule: destination.kms_key `alias/aws/rds` is an AWS managed key; pin a customer managed key",
            "5: a rule: destination: missing required key `account` (the vault's 12-digit account id)",
            "6: a rule: restore.keep must be at least 1 (the current restore), not 0",
            "6: a rule: restore: missing required key `instance_class` (for example instance_class = \"db.t3.medium\")",
        ]
    );
}

/// The keys a table accepts are its raw type's fields, read from the type (no list to keep in step).
#[test]
fn accepted_keys_come_from_the_raw_types() {
    use super::raw::{fields_of, RawDestination, RawRule};
    assert_eq!(
        fields_of::<RawRule>(),
        [
            "id",
            "description",
            "select",
            "destination",
            "source_kms_key",
            "max_age",
            "grace",
            "cadence",
            "retain",
            "restore",
            "immutable",
            "remediate",
            "backup",
            "drill",
            "severity"
        ]
    );
    assert_eq!(
        fields_of::<RawDestination>(),
        [
            "account",
            "region",
            "kms_key",
            "replicas",
            "vault",
            "option_group"
        ]
    );
}

#[test]
fn reports_all_syntax_errors_and_bad_structure() {
    let found = problems(load_text("[[rule]\nid = \n"));
    assert!(!found.is_empty());
    assert!(found.iter().all(|p| p.contains("TOML syntax")), "{found:?}");
    assert!(found[0].starts_with("1: "), "{found:?}");

    let found = problems(load_text("rule = \"x\"\nrules = []\n"));
    assert_eq!(
        found,
        vec![
            "1: `rule` must be an array of tables: write each one as [[rule]]",
            "2: unknown key `rules` in the file (expected one of: rule, exemption)",
        ]
    );
}

#[test]
fn duplicate_ids_across_files_name_the_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rule =
        "[[rule]]\nid = \"prod\"\ndestination = { account = \"222222222222\" }\nmax_age = \"1d\"\n";
    write(&dir, "a.toml", rule);
    write(&dir, "b.toml", &format!("\n{rule}"));
    let err = load(&[dir.path().to_path_buf()]).expect_err("duplicate");
    assert_eq!(err.errors.len(), 1);
    let d = &err.errors[0];
    assert!(d.file.ends_with("b.toml"));
    assert_eq!(d.line, Some(3));
    assert!(
        d.message
            .contains("duplicate rule id `prod`: first defined at ")
            && d.message.ends_with("a.toml:1"),
        "{}",
        d.message
    );
}

#[test]
fn rejects_empty_folders_huge_files_and_non_utf8() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = load(&[dir.path().to_path_buf()]).expect_err("empty folder");
    assert!(err.errors[0].message.contains("no *.toml rule files"));

    let huge = write(
        &dir,
        "huge.toml",
        &"# padding\n".repeat((MAX_RULE_FILE_BYTES / 10 + 1) as usize),
    );
    let err = load(&[huge]).expect_err("huge");
    assert!(err.errors[0].message.contains("limited to"), "{err}");

    let path = dir.path().join("latin1.toml");
    std::fs::write(&path, b"# ok\n# caf\xe9\n").expect("write");
    let err = load(&[path]).expect_err("latin-1");
    assert_eq!(err.errors[0].line, Some(2));
    assert!(err.errors[0].message.contains("not UTF-8"));

    let err = load_text("# only a comment\n").expect_err("no rules");
    assert!(err.errors[0].message.contains("no [[rule]] found"));

    let err = load(&[dir.path().join("missing.toml")]).expect_err("missing");
    assert!(err.errors[0].message.contains("cannot read rules path"));
}

#[test]
fn refuses_aws_managed_keys_and_validates_restore() {
    let text = r#"
[[rule]]
id = "vault"
destination = { account = "222222222222", kms_key = "alias/aws/rds" }
source_kms_key = "arn:aws:kms:us-east-1:111111111111:alias/aws/rds"
max_age = "1d"
"#;
    let found = problems(load_text(text));
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("destination.kms_key `alias/aws/rds` is an AWS managed key"));
    assert!(found[1].contains("cannot be shared"));

    let text = r#"
[[rule]]
id = "vault"
destination = { account = "222222222222" }
max_age = "1d"
restore = { instance_class = "db.t3.medium" }
"#;
    let set = load_text(text).expect("valid");
    assert!(set.warnings.is_empty());
    let restore = set.rules[0].restore.as_ref().expect("restore");
    assert_eq!(
        restore.keep, 2,
        "the current restore and one rollback target by default"
    );
    let found = problems(load_text(
        &text.replace("\"db.t3.medium\" }", "\"db.t3.medium\", keep = 0 }"),
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("restore.keep must be at least 1"),
        "{found:?}"
    );
}

#[test]
fn first_matching_rule_wins_and_selectors_combine() {
    use crate::inventory::{Database, Source, SourceKind};
    let text = r#"
[[rule]]
id = "legacy"
select = { identifiers = ["legacy-*"], kinds = ["db-instance"] }
destination = { account = "222222222222" }
max_age = "7d"

[[rule]]
id = "prod"
select = { tags = { env = "prod*" }, engines = ["postgres", "aurora-*"], accounts = ["1111*"] }
destination = { account = "222222222222" }
max_age = "1d"
"#;
    let set = load_text(text).expect("valid");
    let source = |id: &str, engine: &str, env: Option<&str>, account: &str| Source {
        db: Database {
            arn: format!("arn:aws:rds:us-east-1:{account}:db:{id}"),
            kind: SourceKind::DbInstance,
            account_id: account.into(),
            region: "us-east-1".into(),
            identifier: id.into(),
            engine: engine.into(),
        },
        status: None,
        encrypted: true,
        kms_key_id: None,
        tags: env
            .map(|e| [("env".to_string(), e.to_string())].into())
            .unwrap_or_default(),
        created_at: None,
        read_replica_of: None,
        option_group: None,
        green_of: None,
    };
    let rule_of = |s: &Source| set.rule_for(s).map(|r| r.id.clone());
    assert_eq!(
        rule_of(&source("legacy-a", "mysql", Some("prod"), "111111111111")),
        Some("legacy".into())
    );
    assert_eq!(
        rule_of(&source(
            "orders",
            "postgres",
            Some("production"),
            "111111111111"
        )),
        Some("prod".into())
    );
    assert_eq!(
        rule_of(&source("orders", "mysql", Some("prod"), "111111111111")),
        None
    );
    assert_eq!(
        rule_of(&source("orders", "postgres", None, "111111111111")),
        None
    );
    assert_eq!(
        rule_of(&source("orders", "postgres", Some("prod"), "333333333333")),
        None
    );
    assert_eq!(set.pinned_regions(), None);
}

/// `destination.replicas`, `destination.vault` and `immutable` (AWS Backup copies, issue 13): every
/// wrong value is named at its line; the defaults count both kinds and ask no immutability.
#[test]
fn replica_kinds_vault_patterns_and_immutability() {
    let set = load_text(
        r#"[[rule]]
id = "plain"
destination = { account = "222222222222" }
max_age = "26h"

[[rule]]
id = "locked"
destination = { account = "222222222222", replicas = ["backup"], vault = "central-*" }
max_age = "26h"
immutable = { min_retention = "30d" }
"#,
    )
    .expect("valid rules");
    let plain = &set.rules[0];
    assert_eq!(plain.destination.replicas, ReplicaKinds::default());
    assert!(plain.destination.replicas.snapshot && plain.destination.replicas.backup);
    assert_eq!(plain.immutable, None);
    let locked = &set.rules[1];
    assert!(!locked.destination.replicas.snapshot && locked.destination.replicas.backup);
    assert_eq!(locked.destination.vault.as_deref(), Some("central-*"));
    assert_eq!(
        locked
            .immutable
            .and_then(|i| i.min_retention)
            .map(|d| d.seconds),
        Some(30 * 86_400)
    );

    let text = r#"[[rule]]
id = "x"
destination = { account = "222222222222", replicas = ["tape"], vault = "v" }
max_age = "26h"
immutable = "yes"

[[rule]]
id = "y"
destination = { account = "222222222222", replicas = ["snapshot"] }
max_age = "26h"
immutable = { min_retention = "a week", mode = "compliance" }
"#;
    assert_eq!(
        problems(load_text(text)),
        vec![
            "3: rule `x`: destination.replicas: `tape` is not a kind of copy (expected \"snapshot\" for manual DB snapshots, \"backup\" for AWS Backup recovery points)",
            "3: rule `x`: destination.vault names backup vaults, but destination.replicas does not count \"backup\"",
            "5: in rule `x`: invalid type: string \"yes\", expected true, false, or a table such as { min_retention = \"7d\" }",
            "11: rule `y`: immutable.min_retention: `a week` is not a duration; expected a duration such as `26h`, `7d` or `1d12h` (units: s, m, h, d, w)",
            "11: rule `y`: immutable: only an AWS Backup recovery point in a locked vault can be immutable, but destination.replicas does not count \"backup\"",
            "11: unknown key `mode` in `immutable` of rule `y` (expected one of: min_retention)",
        ]
    );
}

/// `remediate = "backup"` and its `backup` table: defaults, and every wrong combination at its line.
#[test]
fn backup_remediation_keys() {
    let set = load_text(
        r#"[[rule]]
id = "by-backup"
destination = { account = "222222222222", replicas = ["backup"], vault = "central*" }
max_age = "26h"
remediate = "backup"
backup = { destination_vault = "central-locked", delete_after = "36h" }
"#,
    )
    .expect("valid rules");
    let backup = set.rules[0].backup_remediation.clone().expect("backup");
    assert_eq!(backup.source_vault, "Default");
    assert_eq!(backup.role, DEFAULT_BACKUP_ROLE);
    assert_eq!(backup.delete_after_days, 2);
    assert_eq!(
        backup.role_arn("aws", "111111111111"),
        "arn:aws:iam::111111111111:role/service-role/AWSBackupDefaultServiceRole"
    );

    let text = r#"[[rule]]
id = "a"
destination = { account = "222222222222", vault = "central*" }
max_age = "26h"
remediate = "backup"
backup = { destination_vault = "other", delete_after = "2h", role = "/bad role" }

[[rule]]
id = "b"
destination = { account = "222222222222" }
max_age = "26h"
remediate = "tape"
backup = { destination_vault = "central" }

[[rule]]
id = "c"
destination = { account = "222222222222", replicas = ["snapshot"] }
max_age = "26h"
remediate = "backup"
restore = { instance_class = "db.t3.micro" }
"#;
    assert_eq!(
        problems(load_text(text)),
        vec![
            "6: rule `a`: backup.delete_after must be at least 1d (AWS Backup keeps recovery points whole days)",
            "6: rule `a`: backup.destination_vault `other` does not match destination.vault `central*`: its copies would not count",
            "6: rule `a`: backup.role `/bad role` is not a role name (with its path, e.g. service-role/AWSBackupDefaultServiceRole) or an IAM role ARN",
            "12: rule `b`: remediate `tape` is not \"snapshot\" (copy snapshots, the default) or \"backup\" (start AWS Backup jobs)",
            "15: rule `c`: restore: restoring from an AWS Backup recovery point is not built yet; a rule with remediate = \"backup\" cannot have restore",
            "19: rule `c`: remediate = \"backup\" makes recovery points, but destination.replicas does not count \"backup\"",
            "19: rule `c`: remediate = \"backup\" needs a backup table, for example backup = { destination_vault = \"central\" }",
        ]
    );
}

#[test]
fn drill_is_validated_key_by_key_each_at_its_line() {
    let text = r#"
[[rule]]
id = "vault"
destination = { account = "222222222222" }
max_age = "1d"
drill = { every = "30d", rto = "2h", instance_class = "db.t3.micro", subnet_group = "drills", security_groups = ["sg-0123"], probe = "pg_isready", secret = "rds/{identifier}" }
"#;
    let set = load_text(text).expect("valid");
    let drill = set.rules[0].drill.as_ref().expect("drill");
    assert_eq!(drill.every.seconds, 30 * 86_400);
    assert_eq!(drill.rto.seconds, 7_200);
    assert_eq!(drill.instance_class, "db.t3.micro");
    assert_eq!(drill.subnet_group.as_deref(), Some("drills"));
    assert_eq!(drill.security_groups, vec!["sg-0123".to_string()]);
    assert_eq!(drill.probe.as_deref(), Some("pg_isready"));
    assert_eq!(drill.probe_timeout.seconds, 600, "10m by default");

    let text = r#"[[rule]]
id = "vault"
destination = { account = "222222222222" }
max_age = "1d"
[rule.drill]
every = "30 days"
rto = "0s"
instance_class = "t3.micro"
security_groups = ["default"]
probe = " "
probe_timeout = "soon"
colour = "red"
"#;
    let found = problems(load_text(text));
    let lines: Vec<&str> = found
        .iter()
        .map(|f| f.split(':').next().unwrap_or_default())
        .collect();
    assert_eq!(
        lines,
        vec!["6", "7", "8", "9", "10", "11", "12"],
        "every problem at its own line: {found:?}"
    );
    assert!(found[0].contains("drill.every"), "{found:?}");
    assert!(found[1].contains("drill.rto"), "{found:?}");
    assert!(found[2].contains("not a DB instance class"), "{found:?}");
    assert!(
        found[3].contains("not a VPC security group id"),
        "{found:?}"
    );
    assert!(
        found[4].contains("drill.probe must not be empty"),
        "{found:?}"
    );
    assert!(found[5].contains("drill.probe_timeout"), "{found:?}");
    assert!(
        found[6].contains("unknown key `colour` in `drill`"),
        "{found:?}"
    );

    let found = problems(load_text(
        "[[rule]]\nid = \"v\"\ndestination = { account = \"222222222222\" }\nmax_age = \"1d\"\ndrill = { probe = \"true\" }\n",
    ));
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found.iter().all(|f| f.starts_with("5: ")), "{found:?}");
    assert!(
        found[0].contains("missing required key `every`"),
        "{found:?}"
    );
}

#[test]
fn destination_option_group_is_a_name_or_names_by_region_each_checked_at_its_line() {
    use crate::rules::TargetOptionGroup;
    let text = r#"[[rule]]
id = "one-name"
destination = { account = "222222222222", region = "us-west-2", option_group = "vault-oracle" }
max_age = "1d"

[[rule]]
id = "by-region"
destination = { account = "222222222222", region = "us-west-2", option_group = { us-west-2 = "vault-west", us-east-1 = "vault-east" } }
max_age = "1d"
"#;
    let set = load_text(text).expect("valid");
    let one = set.rules[0]
        .destination
        .option_group
        .as_ref()
        .expect("named");
    assert_eq!(one, &TargetOptionGroup::Everywhere("vault-oracle".into()));
    assert_eq!(one.for_region("eu-west-1"), Some("vault-oracle"));
    let by_region = set.rules[1]
        .destination
        .option_group
        .as_ref()
        .expect("named");
    assert_eq!(by_region.for_region("us-east-1"), Some("vault-east"));
    assert_eq!(by_region.for_region("us-west-2"), Some("vault-west"));
    assert_eq!(by_region.for_region("eu-west-1"), None);

    let bad = r#"[[rule]]
id = "bad"
destination = { account = "222222222222", option_group = "default:oracle-ee-19" }
max_age = "1d"

[[rule]]
id = "worse"
max_age = "1d"
[rule.destination]
account = "222222222222"
replicas = ["backup"]
[rule.destination.option_group]
mars-1 = "fine-name"
us-east-1 = "2-starts-with-a-digit"
eu-west-1 = "trailing-"

[[rule]]
id = "typed"
destination = { account = "222222222222", option_group = 7 }
max_age = "1d"
"#;
    let found = problems(load_text(bad));
    assert_eq!(
        found,
        vec![
            "3: rule `bad`: destination.option_group `default:oracle-ee-19` is a default option group: it holds no options, so it cannot carry the source's (name one you created in the destination account)",
            "12: rule `worse`: destination.option_group is for remediation's snapshot copies, but destination.replicas does not count \"snapshot\"",
            "13: rule `worse`: destination.option_group: `mars-1` is not a region name",
            "14: rule `worse`: destination.option_group.us-east-1 `2-starts-with-a-digit` is not an option group name (1 to 255 letters, digits or hyphens, starting with a letter, no hyphen at the end or two in a row)",
            "15: rule `worse`: destination.option_group.eu-west-1 `trailing-` is not an option group name (1 to 255 letters, digits or hyphens, starting with a letter, no hyphen at the end or two in a row)",
            "19: in rule `typed`: invalid type: integer `7`, expected an option group name, or a table of names by region such as { us-west-2 = \"vault-options\" }",
        ]
    );
}

/// `grace = "0s"` is no grace at all (new databases fail from their first minute, as docs/rules.md
/// says); every other duration must be positive.
#[test]
fn grace_may_be_zero_and_no_other_duration_may() {
    let rule = |extra: &str| {
        format!("[[rule]]\nid = \"r\"\ndestination = {{ account = \"222222222222\" }}\nmax_age = \"26h\"\n{extra}")
    };
    let set = load_text(&rule("grace = \"0s\"\n")).expect("grace 0s is valid");
    assert_eq!(set.rules[0].grace.seconds, 0);
    let found = problems(load_text(&rule("cadence = \"0h\"\nretain = { min = 3 }\n")));
    assert_eq!(
        found,
        ["5: rule `r`: cadence: `0h` is zero; a duration here must be positive"]
    );
}
