//! Conversation marks: a 64-bit set, only recorded (they change no count and hide nothing).

use crate::error::{Error, Result};

bitflags::bitflags! {
    /// The marks of a conversation (`conv_mark_array`).
    ///
    /// Four standard marks, and bits 32..=63 free for the application ("extension marks").
    /// Bits 4..=31 are reserved: [`MarkFlags::checked`] refuses them. Marks are only recorded:
    /// [`MarkFlags::UNREAD`] does not change the unread count, and `FOLD`/`HIDE` remove nothing
    /// from lists or totals.
    ///
    /// ```
    /// use timconv::MarkFlags;
    ///
    /// let windows_online = MarkFlags::extension(32).expect("32..=63");
    /// let marks = MarkFlags::STAR | windows_online;
    /// assert_eq!(marks.bits(), 0x1 | (1 << 32));
    /// assert!(MarkFlags::checked(1 << 4).is_err()); // reserved
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
    pub struct MarkFlags: u64 {
        /// Star (`0x1`).
        const STAR = 0x1;
        /// Unread (`0x2`): recorded only; the unread count is not touched.
        const UNREAD = 0x2;
        /// Fold (`0x4`).
        const FOLD = 0x4;
        /// Hide (`0x8`).
        const HIDE = 0x8;
        // Keep every bit (extension and unknown ones) when decoding or loading.
        const _ = !0;
    }
}

/// As its bits, a number (the C API's `conv_mark_type` form).
impl serde::Serialize for MarkFlags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_u64(self.bits())
    }
}

/// From its bits, keeping every one (reserved bits are refused where marks are set, by
/// [`MarkFlags::checked`]).
impl<'de> serde::Deserialize<'de> for MarkFlags {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        u64::deserialize(d).map(Self::from_bits_retain)
    }
}

impl MarkFlags {
    /// The bits reserved by the SDK (4..=31).
    pub const RESERVED: u64 = 0xFFFF_FFF0;

    /// The extension mark `1 << n`, for `32 <= n < 64`; `None` otherwise.
    #[must_use]
    pub fn extension(n: u32) -> Option<Self> {
        (32..64)
            .contains(&n)
            .then(|| Self::from_bits_retain(1u64 << n))
    }

    /// Marks from raw bits, refusing the reserved bits 4..=31.
    ///
    /// # Errors
    /// [`Error::ReservedMarkBits`] (6017) naming the reserved bits that were set.
    pub fn checked(bits: u64) -> Result<Self> {
        let reserved = bits & Self::RESERVED;
        if reserved != 0 {
            return Err(Error::ReservedMarkBits(reserved));
        }
        Ok(Self::from_bits_retain(bits))
    }

    /// Each set bit as its own value, lowest first: the `conv_mark_array` form.
    pub fn each_bit(self) -> impl Iterator<Item = u64> {
        let bits = self.bits();
        (0..64).map(|n| 1u64 << n).filter(move |b| bits & b != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_range() {
        assert!(MarkFlags::extension(31).is_none());
        assert!(MarkFlags::extension(64).is_none());
        assert_eq!(MarkFlags::extension(63).map(|m| m.bits()), Some(1 << 63));
    }

    #[test]
    fn reserved_bits_refused_others_kept() {
        for n in 4..32 {
            assert_eq!(
                MarkFlags::checked(1 << n)
                    .expect_err("reserved")
                    .code()
                    .as_i32(),
                6017
            );
        }
        let all = MarkFlags::checked(0xF | 0xFFFF_FFFF_0000_0000).expect("allowed");
        assert_eq!(all.each_bit().count(), 36);
    }

    #[test]
    fn serde_as_bits_keeping_every_bit() -> std::result::Result<(), serde_json::Error> {
        let marks = MarkFlags::STAR | MarkFlags::HIDE | MarkFlags::from_bits_retain(1 << 40);
        let json = serde_json::to_string(&marks)?;
        assert_eq!(json, (0x9u64 | (1 << 40)).to_string());
        assert_eq!(serde_json::from_str::<MarkFlags>(&json)?, marks);
        let reserved: MarkFlags = serde_json::from_str("16")?;
        assert_eq!(reserved.bits(), 16, "kept, and refused where marks are set");
        assert!(serde_json::from_str::<MarkFlags>("-1").is_err());
        Ok(())
    }
}
