//! Reading a text's documents, and a list's items, one at a time: a list of a hundred thousand
//! pods never exists as one tree. Apart from [`super::Objects`]'s checks of each object because
//! serde's visitor plumbing (a document seed, a sequence of items read before the list's kind is
//! known) is its own concern.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{Head, Implied, Objects, Skipped, Source, yaml_reason};
use crate::error::{Error, Result};
use crate::split;

impl Objects {
    /// A kubectl list cut into its items ([`split`]): each item parsed on its own, then added as
    /// the whole document's items would be. `None` when a part does not parse: the whole text is
    /// then read as it is, and its errors name the lines of the whole.
    pub(super) fn add_cut(&mut self, cut: &split::Cut<'_>, source: &str) -> Option<Result<()>> {
        let place: Source = Arc::from(format!("{source}: document 1"));
        let head: serde_yaml::Mapping = serde_yaml::from_str(&cut.head()).ok()?;
        let mut items = Items::new(Head::default(), &self.default_namespace, &place);
        for (index, lines) in cut.items.iter().enumerate() {
            let item: serde_yaml::Value = serde_yaml::from_str(&cut.item(lines)).ok()?;
            items.item(index, item);
        }
        Some(items.finish(head, self, &place))
    }

    /// Every document of the text, parsed as a whole.
    pub(crate) fn add_whole(&mut self, text: &str, source: &str) -> Result<()> {
        if text.trim_start().starts_with(['{', '[']) {
            // JSON is YAML; a JSON parser reads it without holding the whole document's events.
            let mut added = Objects::new(&self.default_namespace);
            let mut json = serde_json::Deserializer::from_str(text);
            let place: Source = Arc::from(format!("{source}: document 1"));
            let mut failure = None;
            let read =
                DocumentSeed { objects: &mut added, place: &place, failure: &mut failure }.deserialize(&mut json);
            if let Some(failure) = failure {
                return Err(failure);
            }
            if read.is_ok() && json.end().is_ok() {
                self.append(added);
                return Ok(());
            }
            // Not JSON after all (YAML flow style, several documents): the YAML parser says why.
        }
        for (i, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
            let place: Source = Arc::from(format!("{source}: document {}", i + 1));
            let mut failure = None;
            let read = DocumentSeed { objects: self, place: &place, failure: &mut failure }.deserialize(document);
            if let Some(failure) = failure {
                return Err(failure);
            }
            read.map_err(|e| Error::Document { origin: place.to_string(), reason: yaml_reason(&e) })?;
        }
        Ok(())
    }
}

/// Reads one document: an object, or a list whose items are read and added one at a time.
/// Errors of the engine go to `failure` (the parser's own error type cannot carry them).
struct DocumentSeed<'a> {
    objects: &'a mut Objects,
    place: &'a Source,
    failure: &'a mut Option<Error>,
}

impl DocumentSeed<'_> {
    fn fail<E: de::Error>(&mut self, error: Error) -> E {
        let message = error.to_string();
        self.failure.get_or_insert(error);
        E::custom(message)
    }

    fn skip(&mut self) {
        self.objects.skipped.push(Skipped { source: self.place.clone(), what: "not a Kubernetes object".into() });
    }
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object or list")
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_bool<E: de::Error>(mut self, _: bool) -> std::result::Result<(), E> {
        self.skip();
        Ok(())
    }

    fn visit_i64<E: de::Error>(mut self, _: i64) -> std::result::Result<(), E> {
        self.skip();
        Ok(())
    }

    fn visit_u64<E: de::Error>(mut self, _: u64) -> std::result::Result<(), E> {
        self.skip();
        Ok(())
    }

    fn visit_f64<E: de::Error>(mut self, _: f64) -> std::result::Result<(), E> {
        self.skip();
        Ok(())
    }

    fn visit_str<E: de::Error>(mut self, _: &str) -> std::result::Result<(), E> {
        self.skip();
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> std::result::Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.skip();
        Ok(())
    }

    fn visit_enum<A: de::EnumAccess<'de>>(mut self, data: A) -> std::result::Result<(), A::Error> {
        // A tagged document (`!Thing {...}`): not a Kubernetes object.
        let (_, variant) = data.variant::<IgnoredAny>()?;
        de::VariantAccess::newtype_variant::<IgnoredAny>(variant)?;
        self.skip();
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> std::result::Result<(), A::Error> {
        let mut head = serde_yaml::Mapping::new();
        let mut items: Option<Items> = None;
        while let Some(key) = map.next_key::<serde_yaml::Value>()? {
            if head.contains_key(&key) || (items.is_some() && key.as_str() == Some("items")) {
                let shown = key.as_str().map_or_else(|| "in YAML map".to_string(), |k| format!("with key {k:?}"));
                return Err(de::Error::custom(format!("duplicate entry {shown}")));
            }
            if key.as_str() == Some("items") {
                let head_now = Head {
                    kind: head.get("kind").and_then(|k| k.as_str()).map(String::from),
                    api_version: head.get("apiVersion").and_then(|k| k.as_str()).map(String::from),
                };
                let mut read = Items::new(head_now, &self.objects.default_namespace, self.place);
                map.next_value_seed(&mut read)?;
                items = Some(read);
            } else {
                let value: serde_yaml::Value = map.next_value()?;
                head.insert(key, value);
            }
        }
        let result = match items {
            None => self.objects.add_value(serde_yaml::Value::Mapping(head), None, self.place),
            Some(items) => items.finish(head, self.objects, self.place),
        };
        result.map_err(|e| self.fail(e))
    }
}

/// The `items` of a document's top-level mapping, read one at a time. Whether the mapping is a
/// list (and which) is only known once it is read whole (kubectl writes `kind: List` after
/// `items`), so items are added to objects of their own, kept only if it is; an item without
/// kind and apiVersion waits for the list's.
struct Items {
    head: Head,
    added: Objects,
    /// Items that said their own kind and apiVersion: index, kind, apiVersion (a typed list's must agree).
    typed: Vec<(usize, String, String)>,
    /// Items that did not, to be read with the list's kind.
    waiting: Vec<(usize, serde_yaml::Value)>,
    /// Not a sequence: the mapping is not a list.
    other: Option<serde_yaml::Value>,
    failure: Option<Error>,
    place: Source,
}

impl Items {
    fn new(head: Head, default_namespace: &str, place: &Source) -> Self {
        Items {
            head,
            added: Objects::new(default_namespace),
            typed: Vec::new(),
            waiting: Vec::new(),
            other: None,
            failure: None,
            place: place.clone(),
        }
    }

    /// What the list implies for its items, once its head is known; `None` for a plain `List`.
    fn implied(head: &Head) -> Option<Implied> {
        let kind = head.kind.as_deref()?.strip_suffix("List").filter(|k| !k.is_empty())?;
        Some(Implied { kind: kind.to_string(), api_version: head.api_version.clone().unwrap_or_default() })
    }

    fn item(&mut self, index: usize, item: serde_yaml::Value) {
        if self.failure.is_some() {
            return;
        }
        let place: Source = Arc::from(format!("{}: items[{index}]", self.place));
        let known_list =
            self.head.kind.as_deref().is_some_and(|k| k.ends_with("List")) && self.head.api_version.is_some();
        let result = if known_list {
            let implied = Self::implied(&self.head);
            self.added.add_value(item, implied.as_ref(), &place)
        } else {
            let text = |key: &str| item.get(key).and_then(|v| v.as_str()).filter(|s| !s.is_empty()).map(String::from);
            match (text("kind"), text("apiVersion")) {
                (Some(kind), Some(api_version)) => {
                    self.typed.push((index, kind, api_version));
                    self.added.add_value(item, None, &place)
                }
                _ => {
                    self.waiting.push((index, item));
                    Ok(())
                }
            }
        };
        if let Err(e) = result {
            self.failure = Some(e);
        }
    }

    /// Adds what was read if the mapping is a list; otherwise adds the mapping as an object.
    fn finish(self, mut head: serde_yaml::Mapping, objects: &mut Objects, place: &Source) -> Result<()> {
        let kind = head.get("kind").and_then(|k| k.as_str()).map(String::from);
        let api_version = head.get("apiVersion").and_then(|k| k.as_str()).map(String::from);
        let is_list = kind.as_deref().is_some_and(|k| k.ends_with("List")) && self.other.is_none();
        if !is_list {
            head.insert("items".into(), self.other.unwrap_or_default());
            return objects.add_value(serde_yaml::Value::Mapping(head), None, place);
        }
        let head = Head { kind, api_version };
        let list = head.kind.clone().unwrap_or_default();
        if head.api_version.as_deref().is_none_or(str::is_empty) {
            return Err(Error::invalid(
                format!("{place}: {list}"),
                "apiVersion",
                "Required value: the list's type, and its items', is not certain without it",
            ));
        }
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        let implied = Self::implied(&head);
        let mut added = self.added;
        if let Some(implied) = &implied {
            for (index, kind, api_version) in &self.typed {
                if *kind != implied.kind || *api_version != implied.api_version {
                    let (field, given, expected) = if *kind != implied.kind {
                        ("kind", kind, &implied.kind)
                    } else {
                        ("apiVersion", api_version, &implied.api_version)
                    };
                    return Err(Error::invalid(
                        format!("{place}: items[{index}]"),
                        field,
                        format!(
                            "Invalid value: {given:?}: an item of a {list} ({}) says {field} {given:?}, not {expected:?}: \
                             its type is not certain",
                            implied.api_version
                        ),
                    ));
                }
            }
        }
        for (index, item) in self.waiting {
            let item_place: Source = Arc::from(format!("{place}: items[{index}]"));
            added.add_value(item, implied.as_ref(), &item_place)?;
        }
        objects.append(added);
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for &mut Items {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for &mut Items {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let mut index = 0;
        while let Some(item) = seq.next_element::<serde_yaml::Value>()? {
            self.item(index, item);
            index += 1;
        }
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<(), A::Error> {
        let value = serde_yaml::Mapping::deserialize(de::value::MapAccessDeserializer::new(map))?;
        self.other = Some(serde_yaml::Value::Mapping(value));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, text: &str) -> std::result::Result<(), E> {
        self.other = Some(serde_yaml::Value::String(text.to_string()));
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<(), E> {
        self.other = Some(serde_yaml::Value::Bool(v));
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<(), E> {
        self.other = Some(serde_yaml::Value::Number(v.into()));
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<(), E> {
        self.other = Some(serde_yaml::Value::Number(v.into()));
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<(), E> {
        self.other = Some(serde_yaml::Value::Number(v.into()));
        Ok(())
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> std::result::Result<(), A::Error> {
        let (_, variant) = data.variant::<IgnoredAny>()?;
        de::VariantAccess::newtype_variant::<IgnoredAny>(variant)?;
        self.other = Some(serde_yaml::Value::Null);
        Ok(())
    }
}
