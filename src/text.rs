//! The text forms of the public enums: one macro, so that every enum prints and parses the
//! same way.
//!
//! Each variant has a snake-case name (`"c2c"`, `"av_chat_room"`, `"not_notify"`...):
//! [`Display`](std::fmt::Display) prints it and [`FromStr`](std::str::FromStr) reads it back.
//! Text that names no variant is refused with
//! [`Error::InvalidParameter`](crate::Error::InvalidParameter) (6017), changing nothing.

/// Implements `Display` and `FromStr` over a table of variant names. `$what` names the type in
/// errors ("conversation type").
macro_rules! text_forms {
    ($name:ident, $what:literal { $($variant:ident => $text:literal,)+ }) => {
        impl $name {
            /// Its name, as [`Display`](std::fmt::Display) prints it.
            #[must_use]
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::Error;

            /// Reads a name back.
            ///
            /// # Errors
            /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) (6017) for text
            /// that names none.
            fn from_str(text: &str) -> crate::Result<Self> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => Err(crate::text::unknown($what, other)),
                }
            }
        }
    };
}

pub(crate) use text_forms;

/// The error for text that names no value of a type.
pub(crate) fn unknown(what: &str, text: &str) -> crate::Error {
    crate::Error::InvalidParameter(format!("unknown {what} {text:?}"))
}
