//! placeholder
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrintError { #[error("x")] X }
impl PrintError { pub fn message(&self, _l: crate::i18n::Lang) -> String { String::new() } }
