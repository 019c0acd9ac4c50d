//! The one output format of every command (`-o FORMAT`), as kubectl's `PrintFlags`: one [`Format`]
//! holding every form the suite prints, and per command the list of those it prints ([`Formats`]),
//! which is the flag's clap value parser. `-o` with a format the command does not print is a clap
//! error naming the accepted values, and `--help` and completion show that list with the command's
//! own words for each value.
//!
//! ```
//! use clap::Parser;
//! use harden_cli::format::{self, Format};
//!
//! #[derive(Parser)]
//! struct Get {
//!     #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "table", value_parser = format::TABLE_JSON_YAML)]
//!     output: Format,
//! }
//!
//! assert_eq!(Get::try_parse_from(["get", "-o", "json"]).unwrap().output, Format::Json);
//! // The form for a person, in either spelling; a format the command does not print is refused.
//! assert_eq!(Get::try_parse_from(["get", "-o", "text"]).unwrap().output, Format::Text);
//! assert!(Get::try_parse_from(["get", "-o", "csv"]).is_err());
//! ```
//!
//! The form for a person is one format, [`Format::Text`], spelled `table` by commands that print a
//! table and `text` by the others ([`Choice::table`], [`Choice::of`]): each command shows its own
//! spelling and accepts the other as an alias.

use std::ffi::OsStr;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

/// Every form a command of the suite prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// For a person: a table or lines of text (`table` or `text` on the command line).
    Text,
    Json,
    Yaml,
    /// `kind.group/name` of each object, one per line.
    Name,
    /// Only a token.
    Token,
    Csv,
    /// A Graphviz digraph.
    Dot,
    /// Markdown.
    Md,
    Html,
    Svg,
    Junit,
}

impl Format {
    /// The name `-o` takes (for [`Format::Text`], its `text` spelling).
    pub const fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Yaml => "yaml",
            Format::Name => "name",
            Format::Token => "token",
            Format::Csv => "csv",
            Format::Dot => "dot",
            Format::Md => "md",
            Format::Html => "html",
            Format::Svg => "svg",
            Format::Junit => "junit",
        }
    }

    /// The error for printing in a format the command does not list. Its `-o` parser never gives
    /// one, so only code that makes the format itself can meet this.
    pub fn unprinted(self) -> crate::error::Error {
        crate::error::Error::invalid(format!("-o {self} is not a format this command prints"))
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One value a command's `-o` accepts: the format, the name `--help` shows, a name also accepted,
/// and the line `--help` and completion show for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    format: Format,
    name: &'static str,
    alias: Option<&'static str>,
    help: Option<&'static str>,
}

impl Choice {
    /// `format` under its own name ([`Format::Text`] as `text`, `table` accepted too).
    pub const fn of(format: Format) -> Self {
        let alias = match format {
            Format::Text => Some("table"),
            _ => None,
        };
        Choice { format, name: format.name(), alias, help: None }
    }

    /// [`Format::Text`] spelled `table` (`text` accepted too), for commands that print a table.
    pub const fn table() -> Self {
        Choice { format: Format::Text, name: "table", alias: Some("text"), help: None }
    }

    /// With `help`, the line `--help` and completion show for this value.
    pub const fn help(self, help: &'static str) -> Self {
        Choice { help: Some(help), ..self }
    }

    pub const fn format(&self) -> Format {
        self.format
    }

    fn possible_value(&self) -> PossibleValue {
        let mut value = PossibleValue::new(self.name);
        if let Some(alias) = self.alias {
            value = value.alias(alias);
        }
        if let Some(help) = self.help {
            value = value.help(help);
        }
        value
    }
}

/// The formats one command prints, in the order `--help` lists them: the value parser of its
/// `-o`/`--output` flag (`value_parser = ...`), parsing to a [`Format`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats(&'static [Choice]);

impl Formats {
    pub const fn new(choices: &'static [Choice]) -> Self {
        Formats(choices)
    }

    /// Whether the command prints `format`.
    pub fn accepts(&self, format: Format) -> bool {
        self.0.iter().any(|c| c.format == format)
    }

    /// The names `--help` shows, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|c| c.name).collect()
    }
}

impl TypedValueParser for Formats {
    type Value = Format;

    fn parse_ref(&self, cmd: &clap::Command, arg: Option<&clap::Arg>, value: &OsStr) -> Result<Format, clap::Error> {
        // A value that is not UTF-8 matches nothing and is named lossily, as clap does for an enum.
        let value = value.to_string_lossy();
        let ignore_case = arg.is_some_and(|a| a.is_ignore_case_set());
        if let Some(choice) = self.0.iter().find(|c| c.possible_value().matches(&value, ignore_case)) {
            return Ok(choice.format);
        }
        // clap's own parser of the same names makes the error, naming the accepted values.
        let names = PossibleValuesParser::new(self.0.iter().map(Choice::possible_value));
        names.parse_ref(cmd, arg, OsStr::new(value.as_ref()))?;
        Err(clap::Error::new(clap::error::ErrorKind::InvalidValue).with_cmd(cmd))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.0.iter().map(Choice::possible_value)))
    }
}

/// `table`, `json` or `yaml`: commands that print a table for a person.
pub const TABLE_JSON_YAML: Formats =
    Formats::new(&[Choice::table(), Choice::of(Format::Json), Choice::of(Format::Yaml)]);

/// `text`, `json` or `yaml`: commands that print lines for a person.
pub const TEXT_JSON_YAML: Formats =
    Formats::new(&[Choice::of(Format::Text), Choice::of(Format::Json), Choice::of(Format::Yaml)]);

/// `text` or `json`.
pub const TEXT_JSON: Formats = Formats::new(&[Choice::of(Format::Text), Choice::of(Format::Json)]);

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    const EXTRA: Formats = Formats::new(&[
        Choice::table().help("One row per thing"),
        Choice::of(Format::Json),
        Choice::of(Format::Csv).help("One line per thing"),
    ]);

    #[derive(Parser, Debug)]
    #[command(name = "x")]
    struct Flags {
        /// Output format.
        #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "table", value_parser = EXTRA)]
        output: Format,
    }

    fn parse(args: &[&str]) -> Result<Format, clap::Error> {
        Flags::try_parse_from(std::iter::once("x").chain(args.iter().copied())).map(|f| f.output)
    }

    #[test]
    fn a_command_gets_the_formats_it_lists_under_either_spelling_of_text() {
        assert_eq!(parse(&[]).unwrap(), Format::Text);
        assert_eq!(parse(&["-o", "table"]).unwrap(), Format::Text);
        assert_eq!(parse(&["-o", "text"]).unwrap(), Format::Text);
        assert_eq!(parse(&["-o", "json"]).unwrap(), Format::Json);
        assert_eq!(parse(&["--output=csv"]).unwrap(), Format::Csv);
        assert_eq!(parse(&["-o", "table"]).unwrap(), parse(&["-o", "text"]).unwrap());
    }

    #[test]
    fn a_format_the_command_does_not_print_is_a_clap_error_naming_the_accepted_values() {
        for other in ["yaml", "dot", "name", "Table", "tables"] {
            let err = parse(&["-o", other]).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue, "{other}");
            let text = err.to_string();
            assert!(text.contains(&format!("invalid value '{other}' for '--output <FORMAT>'")), "{text}");
            assert!(text.contains("[possible values: table, json, csv]"), "{text}");
        }
    }

    /// What the per-command enums gave, for comparing word for word.
    #[derive(Clone, clap::ValueEnum)]
    enum Old {
        /// One row per thing.
        Table,
        Json,
        /// One line per thing.
        Csv,
    }

    #[derive(Parser)]
    #[command(name = "x")]
    struct OldFlags {
        /// Output format.
        #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "table")]
        _output: Old,
    }

    #[test]
    fn the_error_is_the_one_a_value_enum_gave() {
        for value in ["yaml", "text\u{0}"] {
            let old = OldFlags::try_parse_from(["x", "-o", value]).err().unwrap().to_string();
            assert_eq!(parse(&["-o", value]).unwrap_err().to_string(), old);
        }
        // Bytes that are not UTF-8, named the same way.
        use std::os::unix::ffi::OsStringExt;
        let args = || ["x".into(), "-o".into(), std::ffi::OsString::from_vec(vec![b't', 0xff])];
        let old = OldFlags::try_parse_from(args()).err().unwrap().to_string();
        assert_eq!(Flags::try_parse_from(args()).unwrap_err().to_string(), old);
    }

    #[test]
    fn help_is_the_one_a_value_enum_gave_without_the_alias() {
        use clap::CommandFactory;
        let help = Flags::command().render_long_help().to_string();
        assert_eq!(help, OldFlags::command().render_long_help().to_string());
        assert!(help.contains("- table: One row per thing") && !help.contains("text"), "{help}");
        assert_eq!(Flags::command().render_help().to_string(), OldFlags::command().render_help().to_string());
    }

    #[test]
    fn the_shared_sets_list_what_their_names_say() {
        assert_eq!(TABLE_JSON_YAML.names(), ["table", "json", "yaml"]);
        assert_eq!(TEXT_JSON_YAML.names(), ["text", "json", "yaml"]);
        assert_eq!(TEXT_JSON.names(), ["text", "json"]);
        assert!(TEXT_JSON.accepts(Format::Text) && !TEXT_JSON.accepts(Format::Yaml));
    }

    /// A format a command's match does not handle is an invalid-input error (exit 2), not a panic
    /// and not another format's output.
    #[test]
    fn an_unprinted_format_is_an_error_naming_it() {
        let err = Format::Csv.unprinted();
        assert_eq!(err.kind, crate::error::ErrorKind::InvalidInput);
        assert_eq!(err.message, "-o csv is not a format this command prints");
    }
}
