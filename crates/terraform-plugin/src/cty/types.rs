use std::collections::BTreeMap;

/// A cty type. Object attribute names are kept sorted, as cty does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    /// A Unicode string.
    String,
    /// An arbitrary-precision number.
    Number,
    /// `true` or `false`.
    Bool,
    /// The pseudo-type `dynamic`: the value carries its own type on the wire.
    Dynamic,
    /// An ordered sequence of elements of one type.
    List(Box<Type>),
    /// An unordered collection of distinct elements of one type.
    Set(Box<Type>),
    /// Elements of one type, each under a string key.
    Map(Box<Type>),
    /// Named attributes, each with its own type.
    Object(BTreeMap<String, Type>),
    /// A fixed sequence of elements, each with its own type.
    Tuple(Vec<Type>),
}

impl Type {
    /// The type `list(element)`.
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }
    /// The type `set(element)`.
    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }
    /// The type `map(element)`.
    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }
    /// The type `object({name = type, ...})` with the given attributes.
    pub fn object<I, K>(attributes: I) -> Type
    where
        I: IntoIterator<Item = (K, Type)>,
        K: Into<String>,
    {
        Type::Object(attributes.into_iter().map(|(k, t)| (k.into(), t)).collect())
    }
}
