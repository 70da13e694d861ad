//! What one item costs, in state transitions (Standard workflows are billed per transition), walked
//! on the definition itself: from the item processor's start to its end, taking the item's own
//! `steps` flags at every guard, and at every Choice on what a call found its first (happy) rule:
//! every wait loop done at its first check, every snapshot found, rdsguard's, and deleted (a
//! restored cluster with its one instance). Each further poll of a wait loop costs 4 more (check,
//! ready?, wait, count).

use serde_json::Value;

/// Transitions of the item `input` through the item processor of `definition`, happy path.
pub fn transitions(definition: &Value, input: &Value) -> Result<u64, String> {
    let processor = &definition["States"]["databases"]["ItemProcessor"];
    walk(processor, input)
}

/// Transitions from a processor's `StartAt` to an end state, `input` resolving the item's paths.
fn walk(processor: &Value, input: &Value) -> Result<u64, String> {
    let states = &processor["States"];
    let mut at = processor["StartAt"]
        .as_str()
        .ok_or("no StartAt")?
        .to_string();
    let mut count = 0u64;
    for _ in 0..10_000 {
        let state = states
            .get(&at)
            .ok_or_else(|| format!("`{at}` is not a state"))?;
        count += 1;
        if state["Type"] == "Map" {
            // A list of the item's input (`$.item.prune`): its names; a list a call found inside a
            // loop (a cluster's instances): one.
            let items = match input {
                Value::Null => 1,
                _ => resolve(input, state["ItemsPath"].as_str().unwrap_or_default())
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len),
            };
            for _ in 0..items {
                count += walk(&state["ItemProcessor"], &Value::Null)?;
            }
        }
        if state["End"] == true || matches!(state["Type"].as_str(), Some("Succeed" | "Fail")) {
            return Ok(count);
        }
        at = match state["Type"].as_str() {
            Some("Choice") => choose(state, input)?,
            _ => state["Next"].as_str().ok_or("no Next")?.to_string(),
        };
    }
    Err("more than 10000 states: a loop".into())
}

/// A path of the item's input (`$.steps.copy`), when the input holds it; `None` for what a call
/// finds at run time.
fn resolve<'v>(input: &'v Value, path: &str) -> Option<&'v Value> {
    let rest = path.strip_prefix("$.")?;
    let mut at = input;
    for part in rest.split('.') {
        at = at.get(part)?;
    }
    Some(at)
}

/// The Choice's branch: the first rule that holds on the input's values, or the first rule on a
/// value found at run time (the happy one, by how the definition is written), or the Default.
fn choose(state: &Value, input: &Value) -> Result<String, String> {
    for rule in state["Choices"]
        .as_array()
        .ok_or("Choice without Choices")?
    {
        let next = rule["Next"].as_str().ok_or("rule without Next")?;
        match holds(rule, input) {
            Some(true) | None => return Ok(next.to_string()),
            Some(false) => {}
        }
    }
    state["Default"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "no rule holds and no Default".to_string())
}

/// Whether a rule holds on the input; `None` when it reads what a call finds at run time.
fn holds(rule: &Value, input: &Value) -> Option<bool> {
    if let Some(all) = rule["And"].as_array() {
        return all
            .iter()
            .map(|r| holds(r, input))
            .try_fold(true, |a, h| Some(a && h?));
    }
    if let Some(any) = rule["Or"].as_array() {
        return any
            .iter()
            .map(|r| holds(r, input))
            .try_fold(false, |a, h| Some(a || h?));
    }
    if !rule["Not"].is_null() {
        return holds(&rule["Not"], input).map(|h| !h);
    }
    let path = rule["Variable"].as_str()?;
    let value = resolve(input, path);
    if rule["IsPresent"].is_boolean() {
        return Some(value.is_some() == (rule["IsPresent"] == true));
    }
    let value = value?;
    if let Some(expected) = rule.get("BooleanEquals") {
        return Some(value == expected);
    }
    if let Some(expected) = rule.get("StringEquals") {
        return Some(value == expected);
    }
    None
}
