//! Opaque per-conversation custom data (`conv_custom_data`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An opaque byte string attached to a conversation, at most 256 bytes by default.
///
/// In JSON it is a string (`conv_custom_data`), as in the C API. Bytes that are not UTF-8,
/// which the C API cannot produce but a Rust caller can, are written as an array of byte
/// values so that they survive a round trip exactly; both forms are accepted on input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CustomData(Vec<u8>);

impl CustomData {
    /// Wraps bytes.
    #[must_use]
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no custom data is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes as text, if they are UTF-8.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl From<&str> for CustomData {
    fn from(s: &str) -> Self {
        Self(s.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for CustomData {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl From<&[u8]> for CustomData {
    fn from(v: &[u8]) -> Self {
        Self(v.to_vec())
    }
}

impl Serialize for CustomData {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.as_str() {
            Some(text) => s.serialize_str(text),
            None => self.0.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for CustomData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Text(String),
            Bytes(Vec<u8>),
        }
        Ok(match Wire::deserialize(d)? {
            Wire::Text(t) => Self(t.into_bytes()),
            Wire::Bytes(b) => Self(b),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_bytes_round_trip() -> Result<(), serde_json::Error> {
        let text = CustomData::from("my_custom_data");
        assert_eq!(serde_json::to_string(&text)?, "\"my_custom_data\"");
        let raw = CustomData::new(vec![0xff, 0x00, 0x41]);
        let json = serde_json::to_string(&raw)?;
        assert_eq!(json, "[255,0,65]");
        assert_eq!(serde_json::from_str::<CustomData>(&json)?, raw);
        Ok(())
    }
}
