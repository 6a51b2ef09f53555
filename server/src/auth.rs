//! Signed tokens: how a device proves which user it is, and how the admin endpoints are
//! guarded.
//!
//! A user token has the shape of the original SDK's UserSig: an HMAC-SHA256, keyed by the
//! server secret, over the user ID and an expiry. On the wire it is three dot-separated
//! parts, `<user, base64url>.<expiry, Unix seconds>.<signature, base64url>`; the signature
//! covers the first two parts exactly as written. [`mint`] makes one; [`Keys::verify`] checks
//! one in constant time and yields the user it names. The server trusts nothing else about
//! the caller: every request acts on the token's user only.
//!
//! The same secret also signs pull bookmarks ([`Keys::sign_bookmark`]), so that a bookmark
//! handed out to one user is refused from another (or when made up).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The longest user ID a token may name, in bytes.
pub const MAX_USER_ID_BYTES: usize = 128;

/// Why a token was refused. Each maps to HTTP 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No token was sent.
    #[error("no token: send `Authorization: Bearer <token>`")]
    Missing,
    /// Not of the token's shape.
    #[error("malformed token")]
    Malformed,
    /// The signature does not match (tampered, or signed with another secret).
    #[error("invalid token signature")]
    BadSignature,
    /// Past its expiry.
    #[error("the token expired at {0}")]
    Expired(u64),
}

impl AuthError {
    /// The numeric code sent with the refusal: 70001 expired, 70003 invalid, 6014 missing
    /// (the original service's codes for a UserSig).
    #[must_use]
    pub fn code(&self) -> i32 {
        match self {
            AuthError::Missing => 6014,
            AuthError::Malformed | AuthError::BadSignature => 70003,
            AuthError::Expired(_) => 70001,
        }
    }
}

/// Seconds since the Unix epoch, now.
#[must_use]
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn mac(secret: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes a key of any length, so the fallback is never used.
    let mut mac =
        HmacSha256::new_from_slice(secret).unwrap_or_else(|_| HmacSha256::new(&Default::default()));
    for (n, part) in parts.iter().enumerate() {
        if n > 0 {
            mac.update(b"\n");
        }
        mac.update(part);
    }
    mac
}

/// A token for `user`, valid until `expires_at` (Unix seconds), signed with `secret`.
#[must_use]
pub fn mint(secret: &[u8], user: &str, expires_at: u64) -> String {
    let head = format!("{}.{expires_at}", URL_SAFE_NO_PAD.encode(user.as_bytes()));
    let signature = mac(secret, &[b"user", head.as_bytes()])
        .finalize()
        .into_bytes();
    format!("{head}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The server's secrets: one for user tokens and bookmarks, one for the admin endpoints.
#[derive(Clone)]
pub struct Keys {
    secret: Vec<u8>,
    admin: Vec<u8>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys { .. }")
    }
}

impl Keys {
    /// Keys from the two secrets.
    #[must_use]
    pub fn new(secret: impl Into<Vec<u8>>, admin: impl Into<Vec<u8>>) -> Self {
        Self {
            secret: secret.into(),
            admin: admin.into(),
        }
    }

    /// A token for `user` valid for `ttl_secs` from now.
    #[must_use]
    pub fn mint(&self, user: &str, ttl_secs: u64) -> String {
        mint(&self.secret, user, now_secs().saturating_add(ttl_secs))
    }

    /// The user a token names, if it is well formed, correctly signed and not expired at
    /// `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: u64) -> Result<String, AuthError> {
        let mut parts = token.split('.');
        let (Some(user), Some(expiry), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed);
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| AuthError::Malformed)?;
        let head = &token[..user.len() + 1 + expiry.len()];
        mac(&self.secret, &[b"user", head.as_bytes()])
            .verify_slice(&signature)
            .map_err(|_| AuthError::BadSignature)?;
        let expires_at: u64 = expiry.parse().map_err(|_| AuthError::Malformed)?;
        if expires_at <= now {
            return Err(AuthError::Expired(expires_at));
        }
        let user = URL_SAFE_NO_PAD
            .decode(user)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|u| !u.is_empty() && u.len() <= MAX_USER_ID_BYTES)
            .ok_or(AuthError::Malformed)?;
        Ok(user)
    }

    /// Whether `given` is the admin secret (compared in constant time).
    #[must_use]
    pub fn is_admin(&self, given: &str) -> bool {
        let expected = mac(&self.secret, &[b"admin", &self.admin]).finalize();
        mac(&self.secret, &[b"admin", given.as_bytes()])
            .verify(&expected.into_bytes())
            .is_ok()
    }

    /// The bookmark a client of `user` gets for `version`: the version and a signature.
    #[must_use]
    pub fn sign_bookmark(&self, user: &str, version: u64) -> String {
        let version = version.to_string();
        let tag = mac(
            &self.secret,
            &[b"bookmark", user.as_bytes(), version.as_bytes()],
        )
        .finalize()
        .into_bytes();
        format!("{version}.{}", URL_SAFE_NO_PAD.encode(&tag[..12]))
    }

    /// The version of a bookmark signed for `user`; `None` if it was not (made up, altered,
    /// or another user's).
    #[must_use]
    pub fn open_bookmark(&self, user: &str, bookmark: &str) -> Option<u64> {
        let (version, tag) = bookmark.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        mac(
            &self.secret,
            &[b"bookmark", user.as_bytes(), version.as_bytes()],
        )
        .verify_truncated_left(&tag)
        .ok()?;
        if tag.len() < 12 {
            return None;
        }
        version.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_user_until_it_expires() {
        let keys = Keys::new("s3cret", "admin");
        let token = mint(b"s3cret", "alice", 1000);
        assert_eq!(keys.verify(&token, 999), Ok("alice".to_owned()));
        assert_eq!(keys.verify(&token, 1000), Err(AuthError::Expired(1000)));
        assert_eq!(keys.verify("", 0), Err(AuthError::Malformed));
        let other = Keys::new("other", "admin");
        assert_eq!(other.verify(&token, 999), Err(AuthError::BadSignature));
        // Another user's name on alice's signature.
        let (_, rest) = token.split_once('.').unwrap();
        let forged = format!("{}.{rest}", URL_SAFE_NO_PAD.encode("bob"));
        assert_eq!(keys.verify(&forged, 999), Err(AuthError::BadSignature));
        // A later expiry on the same signature.
        let parts: Vec<&str> = token.split('.').collect();
        let extended = format!("{}.2000.{}", parts[0], parts[2]);
        assert_eq!(keys.verify(&extended, 999), Err(AuthError::BadSignature));
    }

    #[test]
    fn bookmarks_open_only_for_their_user() {
        let keys = Keys::new("s3cret", "admin");
        let b = keys.sign_bookmark("alice", 42);
        assert_eq!(keys.open_bookmark("alice", &b), Some(42));
        assert_eq!(keys.open_bookmark("bob", &b), None);
        let forged = b.replacen("42", "43", 1);
        assert_eq!(keys.open_bookmark("alice", &forged), None);
        assert_eq!(keys.open_bookmark("alice", "42"), None);
        assert_eq!(keys.open_bookmark("alice", "42."), None);
    }

    #[test]
    fn the_admin_secret_is_checked() {
        let keys = Keys::new("s3cret", "admin-pass");
        assert!(keys.is_admin("admin-pass"));
        assert!(!keys.is_admin("admin-pas"));
        assert!(!keys.is_admin(""));
    }
}
