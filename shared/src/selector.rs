//! kubectl's label selector syntax (`tier=backend,env in (a,b),!legacy`) to and from the API's
//! `LabelSelector`, and matching a `LabelSelector` against labels with the API's semantics.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use crate::error::{Error, Result};

/// Parses `key=value,key!=value,key in (a,b),key notin (a),key,!key`. An empty string is `{}`
/// (everything).
pub fn parse(text: &str) -> Result<LabelSelector> {
    let mut match_labels = BTreeMap::new();
    let mut expressions = Vec::new();
    for term in split_terms(text)? {
        let term = term.trim();
        if term.is_empty() {
            continue;
        }
        let bad = |why: &str| Error::invalid(format!("invalid label selector {text:?}: {why} in {term:?}"));
        if let Some(key) = term.strip_prefix('!') {
            let key = key.trim();
            validate_key(key).map_err(|e| bad(&e))?;
            expressions.push(requirement(key, "DoesNotExist", vec![]));
        } else if let Some((key, values)) = split_set(term, " notin ").or_else(|| split_set(term, " in ")) {
            let operator = if term.contains(" notin ") { "NotIn" } else { "In" };
            validate_key(key).map_err(|e| bad(&e))?;
            let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
            for value in &values {
                validate_value(value).map_err(|e| bad(&e))?;
            }
            expressions.push(requirement(key, operator, values));
        } else if let Some((key, value)) = term.split_once("!=") {
            validate_key(key.trim()).map_err(|e| bad(&e))?;
            validate_value(value.trim()).map_err(|e| bad(&e))?;
            expressions.push(requirement(key.trim(), "NotIn", vec![value.trim().to_string()]));
        } else if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
            let (key, value) = (key.trim(), value.trim());
            validate_key(key).map_err(|e| bad(&e))?;
            validate_value(value).map_err(|e| bad(&e))?;
            if let Some(previous) = match_labels.insert(key.to_string(), value.to_string())
                && previous != value
            {
                return Err(bad("the same key must not ask for two values"));
            }
        } else {
            validate_key(term).map_err(|e| bad(&e))?;
            expressions.push(requirement(term, "Exists", vec![]));
        }
    }
    Ok(LabelSelector {
        match_labels: (!match_labels.is_empty()).then_some(match_labels),
        match_expressions: (!expressions.is_empty()).then_some(expressions),
    })
}

/// Splits on commas that are not inside `( )`.
fn split_terms(text: &str) -> Result<Vec<&str>> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return Err(Error::invalid(format!("invalid label selector {text:?}: unbalanced parentheses")));
        }
    }
    if depth != 0 {
        return Err(Error::invalid(format!("invalid label selector {text:?}: unbalanced parentheses")));
    }
    terms.push(&text[start..]);
    Ok(terms)
}

fn split_set<'a>(term: &'a str, operator: &str) -> Option<(&'a str, &'a str)> {
    let (key, rest) = term.split_once(operator)?;
    let values = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some((key.trim(), values))
}

fn requirement(key: &str, operator: &str, values: Vec<String>) -> LabelSelectorRequirement {
    LabelSelectorRequirement {
        key: key.to_string(),
        operator: operator.to_string(),
        values: (!values.is_empty()).then_some(values),
    }
}

/// A label key: optional DNS-subdomain prefix and `/`, then a name of at most 63 characters.
pub fn validate_key(key: &str) -> std::result::Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && !crate::names::is_dns_subdomain(prefix)
    {
        return Err(format!("key prefix {prefix:?} must be a DNS subdomain"));
    }
    if name.is_empty() || name.len() > 63 || !is_label_name(name) {
        return Err(format!(
            "key {key:?} must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// A label value: empty, or at most 63 characters of the name alphabet.
pub fn validate_value(value: &str) -> std::result::Result<(), String> {
    if value.is_empty() || (value.len() <= 63 && is_label_name(value)) {
        Ok(())
    } else {
        Err(format!(
            "value {value:?} must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ))
    }
}

fn is_label_name(text: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    text.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
        && text.chars().next().is_some_and(alnum)
        && text.chars().last().is_some_and(alnum)
}

/// Whether `labels` satisfy `selector` (API semantics: every matchLabel and every expression; `{}`
/// matches everything). Unknown operators match nothing, as the API server would reject them.
pub fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector.match_labels.iter().flatten().all(|(key, value)| labels.get(key) == Some(value));
    labels_ok
        && selector.match_expressions.iter().flatten().all(|req| {
            let values = req.values.as_deref().unwrap_or_default();
            match req.operator.as_str() {
                "In" => labels.get(&req.key).is_some_and(|v| values.contains(v)),
                "NotIn" => labels.get(&req.key).is_none_or(|v| !values.contains(v)),
                "Exists" => labels.contains_key(&req.key),
                "DoesNotExist" => !labels.contains_key(&req.key),
                _ => false,
            }
        })
}

/// Renders a selector back in kubectl's syntax, for messages (`{}` renders as `<all>`).
pub fn display(selector: &LabelSelector) -> String {
    let mut terms: Vec<String> = selector.match_labels.iter().flatten().map(|(k, v)| format!("{k}={v}")).collect();
    for req in selector.match_expressions.iter().flatten() {
        let values = req.values.as_deref().unwrap_or_default().join(",");
        terms.push(match req.operator.as_str() {
            "In" => format!("{} in ({values})", req.key),
            "NotIn" => format!("{} notin ({values})", req.key),
            "Exists" => req.key.clone(),
            "DoesNotExist" => format!("!{}", req.key),
            other => format!("{} {other} ({values})", req.key),
        });
    }
    if terms.is_empty() { "<all>".to_string() } else { terms.join(",") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn equality_terms_become_match_labels() {
        let sel = parse("tier=backend,app==orion").unwrap();
        assert_eq!(sel.match_labels.unwrap(), labels(&[("app", "orion"), ("tier", "backend")]));
        assert!(sel.match_expressions.is_none());
    }

    #[test]
    fn set_and_existence_terms_become_expressions() {
        let sel = parse("env in (prod, staging),tier notin (db),team,!legacy,zone!=a").unwrap();
        let ops: Vec<&str> = sel.match_expressions.as_ref().unwrap().iter().map(|r| r.operator.as_str()).collect();
        assert_eq!(ops, ["In", "NotIn", "Exists", "DoesNotExist", "NotIn"]);
        assert!(matches(&sel, &labels(&[("env", "prod"), ("team", "x")])));
        assert!(!matches(&sel, &labels(&[("env", "prod"), ("team", "x"), ("legacy", "")])));
        assert!(!matches(&sel, &labels(&[("env", "dev"), ("team", "x")])));
        assert!(!matches(&sel, &labels(&[("env", "prod"), ("team", "x"), ("zone", "a")])));
        assert_eq!(display(&sel), "env in (prod,staging),tier notin (db),team,!legacy,zone notin (a)");
    }

    #[test]
    fn empty_selects_everything() {
        let sel = parse("").unwrap();
        assert!(matches(&sel, &labels(&[])));
        assert_eq!(display(&sel), "<all>");
    }

    #[test]
    fn invalid_selectors_are_rejected_with_the_term() {
        for bad in ["tier=back end", "=x", "env in (a", "a/b/c=d", "-x=y", "k=v-", "a=b,a=c"] {
            let err = parse(bad).unwrap_err();
            assert!(err.message.contains("invalid label selector"), "{bad}: {err}");
        }
    }

    #[test]
    fn not_in_matches_missing_keys() {
        let sel = parse("tier!=db").unwrap();
        assert!(matches(&sel, &labels(&[])));
    }
}
