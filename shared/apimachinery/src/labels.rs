//! Label selectors: kubectl's `-l` syntax to and from the API's `LabelSelector`, the API server's
//! validation of a `LabelSelector`, and matching labels with the API's semantics.
//!
//! [`parse`] is a port of `labels.Parse` (`k8s.io/apimachinery/pkg/labels/selector.go`): the same
//! lexer, the same grammar, the same errors in substance. Where kubectl accepts a selector, so does
//! this; where kubectl refuses one (`tier==backend,`), so does this. The result is converted to a
//! `LabelSelector` as `metav1.ParseToLabelSelector` does, with one difference that only ever
//! narrows: a key asked for twice with `=` (`a=b,a=c`, which selects nothing) keeps both
//! requirements (the second as `a in (c)`) instead of letting the last one win.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use crate::validation::{label_key_errors, label_value_errors};

/// Labels of an object.
pub type Labels = BTreeMap<String, String>;

/// A selector kubectl would not accept, or a `LabelSelector` the API server would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid label selector {selector:?}: {reason}")]
pub struct SelectorError {
    /// The selector as given (kubectl syntax), or as rendered by [`display`].
    pub selector: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
    Error,
}

fn keyword(text: &str) -> Option<Token> {
    Some(match text {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "in" => Token::In,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "notin" => Token::NotIn,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// The lexer of `labels.Parse`, on bytes: identifiers end at whitespace or a special symbol, and
/// special symbols are read greedily as long as they form a token (`!=`, `==`).
fn lex(text: &str) -> Vec<(Token, String)> {
    let bytes = text.as_bytes();
    let mut items = Vec::new();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && is_whitespace(bytes[pos]) {
            pos += 1;
        }
        if pos >= bytes.len() {
            items.push((Token::End, String::new()));
            return items;
        }
        let start = pos;
        if is_special(bytes[pos]) {
            let mut last: Option<(Token, usize)> = None;
            while pos < bytes.len() && is_special(bytes[pos]) {
                pos += 1;
                match keyword(&text[start..pos]) {
                    Some(token) => last = Some((token, pos)),
                    None if last.is_some() => {
                        pos -= 1;
                        break;
                    }
                    None => {}
                }
            }
            match last {
                Some((token, end)) => {
                    pos = end;
                    items.push((token, text[start..end].to_string()));
                }
                None => {
                    items.push((Token::Error, format!("error expected: keyword found '{}'", &text[start..pos])));
                }
            }
        } else {
            while pos < bytes.len() && !is_special(bytes[pos]) && !is_whitespace(bytes[pos]) {
                pos += 1;
            }
            let word = &text[start..pos];
            items.push((keyword(word).unwrap_or(Token::Identifier), word.to_string()));
        }
    }
}

/// One requirement of a parsed selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Operator {
    Exists,
    DoesNotExist,
    Equals,
    NotEquals,
    In,
    NotIn,
    GreaterThan,
    LessThan,
}

struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

impl Parser {
    /// In value position `in` and `notin` are plain words (`env in (in)`).
    fn value_token(token: Token) -> Token {
        match token {
            Token::In | Token::NotIn => Token::Identifier,
            other => other,
        }
    }

    fn lookahead(&self) -> (Token, &str) {
        let (token, literal) = &self.items[self.position.min(self.items.len() - 1)];
        (Self::value_token(*token), literal)
    }

    fn consume_raw(&mut self) -> (Token, String) {
        let item = self.items[self.position.min(self.items.len() - 1)].clone();
        self.position += 1;
        item
    }

    fn consume(&mut self) -> (Token, String) {
        let (token, literal) = self.consume_raw();
        (Self::value_token(token), literal)
    }

    fn parse(&mut self) -> Result<Vec<(String, Operator, Vec<String>)>, String> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead();
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    let requirement =
                        self.parse_requirement().map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(requirement);
                    let (token, literal) = self.consume();
                    match token {
                        Token::End => return Ok(requirements),
                        Token::Comma => {
                            let (next, literal) = self.lookahead();
                            if next != Token::Identifier && next != Token::DoesNotExist {
                                return Err(format!("found '{literal}', expected: identifier after ','"));
                            }
                        }
                        _ => return Err(format!("found '{literal}', expected: ',' or 'end of string'")),
                    }
                }
                Token::End => return Ok(requirements),
                _ => return Err(format!("found '{literal}', expected: !, identifier, or 'end of string'")),
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<(String, Operator, Vec<String>), String> {
        let (mut token, mut literal) = self.consume();
        let mut operator = None;
        if token == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (token, literal) = self.consume();
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        let key = literal;
        check_key(&key)?;
        let (next, _) = self.lookahead();
        if next == Token::End || next == Token::Comma {
            return Ok((key, operator.unwrap_or(Operator::Exists), Vec::new()));
        }
        if let Some(operator) = operator {
            // `!key=x`: the requirement ends at the key; the caller then refuses what follows.
            return Ok((key, operator, Vec::new()));
        }
        let (token, literal) = self.consume_raw();
        let operator = match token {
            Token::In => Operator::In,
            Token::NotIn => Operator::NotIn,
            Token::Equals | Token::DoubleEquals => Operator::Equals,
            Token::NotEquals => Operator::NotEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            _ => return Err(format!("found '{literal}', expected: in, notin, =, ==, !=, gt, lt")),
        };
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        for value in &values {
            let errors = label_value_errors(value);
            if !errors.is_empty() {
                return Err(format!("values[0][{key}]: Invalid value: {value:?}: {}", errors.join("; ")));
            }
        }
        if matches!(operator, Operator::GreaterThan | Operator::LessThan) && values[0].parse::<i64>().is_err() {
            return Err(format!(
                "values[0]: Invalid value: {:?}: for 'Gt', 'Lt' operators, the value must be an integer",
                values[0]
            ));
        }
        Ok((key, operator, values))
    }

    /// `(a,b)`; `()` and empty items (`(a,)`) are the empty value, as in `labels.Parse`.
    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (token, literal) = self.consume();
        if token != Token::OpenPar {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.lookahead();
        let literal = literal.to_string();
        let values = match token {
            Token::Identifier | Token::Comma => {
                let values = self.parse_identifiers()?;
                if self.consume().0 != Token::ClosedPar {
                    return Err(format!("found '{literal}', expected: ')'"));
                }
                values
            }
            Token::ClosedPar => {
                self.consume();
                vec![String::new()]
            }
            _ => return Err(format!("found '{literal}', expected: ',', ')' or identifier")),
        };
        let mut values = values;
        values.sort();
        values.dedup();
        Ok(values)
    }

    fn parse_identifiers(&mut self) -> Result<Vec<String>, String> {
        let mut values = Vec::new();
        loop {
            let (token, literal) = self.consume();
            match token {
                Token::Identifier => {
                    values.push(literal);
                    match self.lookahead() {
                        (Token::Comma, _) => continue,
                        (Token::ClosedPar, _) => return Ok(values),
                        (_, literal) => return Err(format!("found '{literal}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    match self.lookahead().0 {
                        Token::ClosedPar => {
                            values.push(String::new());
                            return Ok(values);
                        }
                        Token::Comma => values.push(String::new()),
                        _ => {}
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (token, _) = self.lookahead();
        if token == Token::End || token == Token::Comma {
            return Ok(vec![String::new()]);
        }
        match self.consume() {
            (Token::Identifier, literal) => Ok(vec![literal]),
            (_, literal) => Err(format!("found '{literal}', expected: identifier")),
        }
    }
}

fn check_key(key: &str) -> Result<(), String> {
    let errors = label_key_errors(key);
    if errors.is_empty() { Ok(()) } else { Err(format!("key: Invalid value: {key:?}: {}", errors.join("; "))) }
}

/// Parses kubectl's selector syntax (`tier=backend,env in (a,b),!legacy,team`) exactly as
/// `labels.Parse` does, into a `LabelSelector`. An empty (or all-blank) string is `{}`: everything.
/// `>` and `<` parse in kubectl but have no `LabelSelector` form, so they are refused here.
pub fn parse(text: &str) -> Result<LabelSelector, SelectorError> {
    let error = |reason: String| SelectorError { selector: text.to_string(), reason };
    let mut parser = Parser { items: lex(text), position: 0 };
    if let Some((_, message)) = parser.items.iter().find(|(t, _)| *t == Token::Error) {
        // The Go lexer reports a bad symbol where the parser meets it; the message is the same.
        let message = message.clone();
        return Err(error(format!("unable to parse requirement: found '{message}'")));
    }
    let mut requirements = parser.parse().map_err(error)?;
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    let mut match_labels = BTreeMap::new();
    let mut expressions = Vec::new();
    for (key, operator, values) in requirements {
        let (operator, values) = match operator {
            Operator::Equals => match match_labels.get(&key) {
                None => {
                    match_labels.insert(key, values[0].clone());
                    continue;
                }
                Some(_) => ("In", values),
            },
            Operator::NotEquals => ("NotIn", values),
            Operator::In => ("In", values),
            Operator::NotIn => ("NotIn", values),
            Operator::Exists => ("Exists", values),
            Operator::DoesNotExist => ("DoesNotExist", values),
            Operator::GreaterThan | Operator::LessThan => {
                return Err(error(format!(
                    "{key}: '>' and '<' have no form in a NetworkPolicy or RBAC LabelSelector; use in, notin, =, != or exists"
                )));
            }
        };
        expressions.push(requirement(&key, operator, values));
    }
    Ok(LabelSelector {
        match_labels: (!match_labels.is_empty()).then_some(match_labels),
        match_expressions: (!expressions.is_empty()).then_some(expressions),
    })
}

fn requirement(key: &str, operator: &str, values: Vec<String>) -> LabelSelectorRequirement {
    LabelSelectorRequirement {
        key: key.to_string(),
        operator: operator.to_string(),
        values: (!values.is_empty()).then_some(values),
    }
}

/// Checks a `LabelSelector` as the API server does (`ValidateLabelSelector`): label keys and values,
/// known operators, values present for `In`/`NotIn` and absent for `Exists`/`DoesNotExist`.
/// `field` names the selector in the message, e.g. `spec.podSelector`.
pub fn validate(selector: &LabelSelector, field: &str) -> Result<(), SelectorError> {
    let error = |reason: String| SelectorError { selector: display(selector), reason };
    for (key, value) in selector.match_labels.iter().flatten() {
        let errors = label_key_errors(key);
        if !errors.is_empty() {
            return Err(error(format!("{field}.matchLabels: Invalid value: {key:?}: {}", errors.join("; "))));
        }
        let errors = label_value_errors(value);
        if !errors.is_empty() {
            return Err(error(format!("{field}.matchLabels[{key}]: Invalid value: {value:?}: {}", errors.join("; "))));
        }
    }
    for (i, req) in selector.match_expressions.iter().flatten().enumerate() {
        let at = format!("{field}.matchExpressions[{i}]");
        let values = req.values.as_deref().unwrap_or_default();
        match req.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                return Err(error(format!(
                    "{at}.values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
                )));
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(error(format!(
                    "{at}.values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                )));
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => {
                return Err(error(format!(
                    "{at}.operator: Invalid value: {other:?}: not a valid selector operator (In, NotIn, Exists, DoesNotExist)"
                )));
            }
        }
        let errors = label_key_errors(&req.key);
        if !errors.is_empty() {
            return Err(error(format!("{at}.key: Invalid value: {:?}: {}", req.key, errors.join("; "))));
        }
        for (j, value) in values.iter().enumerate() {
            let errors = label_value_errors(value);
            if !errors.is_empty() {
                return Err(error(format!("{at}.values[{j}]: Invalid value: {value:?}: {}", errors.join("; "))));
            }
        }
    }
    Ok(())
}

/// Whether `labels` satisfy `selector` (API semantics: every matchLabel and every expression; `{}`
/// matches everything). Unknown operators match nothing: [`validate`] refuses them before.
pub fn matches(selector: &LabelSelector, labels: &Labels) -> bool {
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

/// The first requirement of `selector` that `labels` fail, in kubectl's syntax, for explanations
/// ("lacks app=orion"); `None` when the labels match.
pub fn first_unmet(selector: &LabelSelector, labels: &Labels) -> Option<String> {
    for (key, value) in selector.match_labels.iter().flatten() {
        if labels.get(key) != Some(value) {
            return Some(format!("{key}={value}"));
        }
    }
    for req in selector.match_expressions.iter().flatten() {
        let single = LabelSelector { match_labels: None, match_expressions: Some(vec![req.clone()]) };
        if !matches(&single, labels) {
            return Some(display(&single));
        }
    }
    None
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

    fn labels(pairs: &[(&str, &str)]) -> Labels {
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
        // Sorted by key, as labels.Parse sorts its requirements.
        assert_eq!(ops, ["In", "DoesNotExist", "Exists", "NotIn", "NotIn"]);
        assert!(matches(&sel, &labels(&[("env", "prod"), ("team", "x")])));
        assert!(!matches(&sel, &labels(&[("env", "prod"), ("team", "x"), ("legacy", "")])));
        assert!(!matches(&sel, &labels(&[("env", "dev"), ("team", "x")])));
        assert!(!matches(&sel, &labels(&[("env", "prod"), ("team", "x"), ("zone", "a")])));
        assert_eq!(display(&sel), "env in (prod,staging),!legacy,team,tier notin (db),zone notin (a)");
    }

    #[test]
    fn empty_and_blank_select_everything() {
        for text in ["", "  ", "\t\n"] {
            let sel = parse(text).unwrap();
            assert!(matches(&sel, &labels(&[])));
            assert_eq!(display(&sel), "<all>");
        }
    }

    /// Each of these is refused by `kubectl get pods -l ...` (labels.Parse), with this reason.
    #[test]
    fn what_kubectl_refuses_is_refused_with_its_reason() {
        let cases = [
            ("tier==backend,", "found '', expected: identifier after ','"),
            ("tier=backend,,x", "found ',', expected: identifier after ','"),
            (",tier", "found ',', expected: !, identifier, or 'end of string'"),
            ("tier=back end", "found 'end', expected: ',' or 'end of string'"),
            ("env in (a", "found '', expected: ',' or ')'"),
            ("env in a", "found 'a' expected: '('"),
            ("a/b/c=d", "key: Invalid value"),
            ("-x=y", "key: Invalid value"),
            ("k=v-", "Invalid value: \"v-\""),
            ("tier=(x)", "found '(', expected: identifier"),
            ("!tier=x", "found '=', expected: ',' or 'end of string'"),
            ("tier ~ x", "found '~', expected: in, notin, =, ==, !=, gt, lt"),
            ("x>y", "the value must be an integer"),
            ("=x", "found '=', expected: !, identifier, or 'end of string'"),
            ("x=>y", "unable to parse requirement"),
        ];
        for (text, reason) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.reason.contains(reason), "{text:?}: {err}");
            assert!(err.to_string().starts_with(&format!("invalid label selector {text:?}: ")), "{err}");
        }
    }

    #[test]
    fn what_kubectl_accepts_is_accepted() {
        let accepted = [
            "a",
            "!a",
            "a=",
            "a==",
            "a!=",
            "a in ()",
            "a in (,)",
            "a in (b,)",
            "a notin (in, notin)",
            "a in(b)",
            "a=b , c=d",
            "x.io/a=b",
            "A_b=C.d",
        ];
        for text in accepted {
            parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        }
        let sel = parse("a in (b,)").unwrap();
        assert_eq!(sel.match_expressions.unwrap()[0].values.as_deref().unwrap(), ["", "b"]);
    }

    #[test]
    fn the_same_key_twice_keeps_both_requirements() {
        let sel = parse("a=b,a=c").unwrap();
        assert_eq!(sel.match_labels.as_ref().unwrap()["a"], "b");
        assert_eq!(sel.match_expressions.as_ref().unwrap()[0].operator, "In");
        assert!(!matches(&sel, &labels(&[("a", "b")])), "selects nothing, as kubectl's does");
        assert!(!matches(&sel, &labels(&[("a", "c")])));
    }

    #[test]
    fn greater_and_less_than_have_no_label_selector_form() {
        let err = parse("replicas>3").unwrap_err();
        assert!(err.reason.contains("no form"), "{err}");
    }

    #[test]
    fn not_in_matches_missing_keys() {
        let sel = parse("tier!=db").unwrap();
        assert!(matches(&sel, &labels(&[])));
    }

    #[test]
    fn validation_follows_the_api_server() {
        let bad = |ops: &str, values: Option<Vec<&str>>| LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "k".into(),
                operator: ops.into(),
                values: values.map(|v| v.into_iter().map(String::from).collect()),
            }]),
        };
        assert!(validate(&bad("In", None), "spec.podSelector").unwrap_err().reason.contains("Required value"));
        assert!(validate(&bad("Exists", Some(vec!["x"])), "s").unwrap_err().reason.contains("Forbidden"));
        assert!(
            validate(&bad("Gt", Some(vec!["1"])), "s").unwrap_err().reason.contains("not a valid selector operator")
        );
        assert!(validate(&bad("in", Some(vec!["x"])), "s").is_err(), "operators are case-sensitive");
        assert!(validate(&bad("In", Some(vec!["x"])), "s").is_ok());
        let labels_bad = LabelSelector { match_labels: Some(labels(&[("k", "a b")])), match_expressions: None };
        let err = validate(&labels_bad, "spec.podSelector").unwrap_err();
        assert!(err.reason.starts_with("spec.podSelector.matchLabels[k]"), "{err}");
    }

    #[test]
    fn first_unmet_names_the_missing_label() {
        let sel = parse("app=orion,tier in (web)").unwrap();
        assert_eq!(first_unmet(&sel, &labels(&[])).as_deref(), Some("app=orion"));
        assert_eq!(first_unmet(&sel, &labels(&[("app", "orion")])).as_deref(), Some("tier in (web)"));
        assert_eq!(first_unmet(&sel, &labels(&[("app", "orion"), ("tier", "web")])), None);
    }

    proptest::proptest! {
        /// No input panics, and what is accepted renders to a selector that parses to the same.
        #[test]
        fn parse_never_panics_and_round_trips(text in "[a-z=!,() in]{0,24}|\\PC{0,16}") {
            if let Ok(sel) = parse(&text) {
                let shown = display(&sel);
                if shown != "<all>" {
                    let again = parse(&shown).unwrap();
                    proptest::prop_assert_eq!(display(&again), shown);
                }
            }
        }
    }
}
