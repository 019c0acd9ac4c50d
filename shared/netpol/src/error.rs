//! What can go wrong in the engine: input the API server would reject, and questions that have no
//! answer. Each variant carries the facts; the plugin that knows its flags turns them into hints.

/// An engine error. `Invalid*` and `Document` are input errors (the objects); the rest are
/// questions the objects cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An object the API server would reject, and the field that is wrong.
    #[error("{object}: {field}: {reason}")]
    InvalidObject { object: String, field: String, reason: String },

    /// A document that is not YAML or JSON, or not a Kubernetes object.
    #[error("{origin}: {reason}")]
    Document { origin: String, reason: String },

    /// A text whose collections nest deeper than the engine reads, refused before it is parsed.
    #[error(
        "{origin}: line {line}: collections nest more than {limit} deep; refused before parsing (Kubernetes objects nest about 15 deep)"
    )]
    TooDeep { origin: String, line: usize, limit: usize },

    /// The input is larger than the engine agrees to hold in memory.
    #[error("{origin} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { origin: String, size: u64, limit: u64 },

    /// A pod that the question names is not among the objects.
    #[error("pod {namespace}/{name} not found")]
    PodNotFound { namespace: String, name: String, known: Vec<String> },

    /// A named port asked of a destination that is an address: names resolve on pods only.
    #[error(
        "port {port:?} is a name, and names are resolved on the destination pod, but the destination is an address"
    )]
    NamedPortToAddress { port: String },

    /// The destination pod has no container port of that name.
    #[error("pod {pod} has no container port named {port}")]
    NoSuchNamedPort { pod: String, port: String, known: Vec<String> },

    /// Both ends are addresses: no NetworkPolicy governs that.
    #[error("both ends are addresses; NetworkPolicies only govern pods")]
    BothAddresses,

    /// A port (`PORT[/PROTO]`) that is neither a number 1-65535 nor a port name.
    #[error("invalid port {text:?}: {reason}")]
    InvalidPort { text: String, reason: String },

    /// A protocol other than TCP, UDP or SCTP.
    #[error("unknown protocol {text:?}: use TCP, UDP or SCTP")]
    InvalidProtocol { text: String },
}

impl Error {
    /// Whether the error is about the input (the objects or a value given), rather than a question
    /// the objects cannot answer.
    pub fn is_input(&self) -> bool {
        !matches!(self, Error::PodNotFound { .. } | Error::NoSuchNamedPort { .. })
    }

    pub(crate) fn invalid(object: impl Into<String>, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidObject { object: object.into(), field: field.into(), reason: reason.into() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
