use std::fmt;

/// One step of an attribute path (tfplugin `AttributePath.Step`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// An object attribute, by name (`.name`).
    Attribute(String),
    /// A map element, by key (`["key"]`).
    ElementKeyString(String),
    /// A list or tuple element, by index (`[0]`).
    ElementKeyInt(i64),
}

/// Where in a configuration a value (and so a diagnostic) sits, e.g. `user[0].moid`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AttributePath(pub Vec<PathStep>);

impl AttributePath {
    /// The empty path: the whole value.
    pub fn root() -> Self {
        AttributePath(Vec::new())
    }
    /// The path of the top-level attribute `name`.
    pub fn attr(name: impl Into<String>) -> Self {
        AttributePath(vec![PathStep::Attribute(name.into())])
    }
    /// This path followed by the attribute `name`.
    pub fn attribute(mut self, name: impl Into<String>) -> Self {
        self.0.push(PathStep::Attribute(name.into()));
        self
    }
    /// This path followed by element `i` of a list or tuple.
    pub fn index(mut self, i: i64) -> Self {
        self.0.push(PathStep::ElementKeyInt(i));
        self
    }
    /// This path followed by the map element with key `k`.
    pub fn key(mut self, k: impl Into<String>) -> Self {
        self.0.push(PathStep::ElementKeyString(k.into()));
        self
    }
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attribute(name) if i == 0 => write!(f, "{name}")?,
                PathStep::Attribute(name) => write!(f, ".{name}")?,
                PathStep::ElementKeyString(k) => write!(f, "[{k:?}]")?,
                PathStep::ElementKeyInt(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}
