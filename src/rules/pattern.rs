//! Wildcard patterns for selectors and exemptions: `*` matches any run of characters, `?` one character.
//! Nothing else is special, so ARNs and identifiers need no escaping.

pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matching with backtracking to the last `*`: linear in practice, no recursion.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((star_pi, star_ti)) = star {
            pi = star_pi + 1;
            ti = star_ti + 1;
            star = Some((star_pi, star_ti + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn wildcards() {
        assert!(matches("*", ""));
        assert!(matches("*", "anything"));
        assert!(matches("legacy-*", "legacy-orders"));
        assert!(!matches("legacy-*", "orders-legacy"));
        assert!(matches(
            "arn:aws:rds:*:111111111111:db:*",
            "arn:aws:rds:us-east-1:111111111111:db:x"
        ));
        assert!(!matches(
            "arn:aws:rds:*:111111111111:db:*",
            "arn:aws:rds:us-east-1:211111111111:db:x"
        ));
        assert!(matches("db-?", "db-1"));
        assert!(!matches("db-?", "db-10"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("orders", "orders"));
        assert!(!matches("orders", "orders2"));
    }
}
