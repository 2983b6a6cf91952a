//! Identity newtypes (STYLE.md §5). Values are `Bytes` views, so cloning is a reference-count
//! increment and comparing is a byte comparison.

use std::fmt;

use bytes::{BufMut as _, Bytes, BytesMut};
use rand_core::RngCore;

/// The RFC 3261 branch magic cookie (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

macro_rules! bytes_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Bytes);

        impl $name {
            /// Wraps raw bytes (as found on the wire).
            pub fn new(value: impl Into<Bytes>) -> Self {
                Self(value.into())
            }

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }

            /// The underlying `Bytes`.
            pub fn to_bytes(&self) -> Bytes {
                self.0.clone()
            }

            /// The value as text; non-UTF-8 bytes (never produced by this crate) yield `"?"`.
            pub fn as_str(&self) -> &str {
                std::str::from_utf8(&self.0).unwrap_or("?")
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

bytes_id!(
    /// A Call-ID header value.
    CallId
);
bytes_id!(
    /// A From/To `tag` parameter.
    Tag
);
bytes_id!(
    /// A Via `branch` parameter.
    Branch
);

impl Branch {
    /// Whether the branch starts with the RFC 3261 magic cookie; branches without it come
    /// from RFC 2543 elements and are matched by the fallback rules of §17.2.3.
    pub fn is_rfc3261(&self) -> bool {
        self.0.starts_with(MAGIC_COOKIE.as_bytes())
    }
}

/// Generates identifiers from the caller-seeded RNG: enough entropy for global uniqueness
/// (§8.1.1.4 Call-ID, §19.3 tags, §8.1.1.7 branches), never a thread RNG.
///
/// Tokens are cut from `arena`, a shared buffer, so an identifier costs no allocation of its
/// own and cloning it is a reference-count increment.
pub(crate) fn random_token(
    rng: &mut impl RngCore,
    arena: &mut BytesMut,
    prefix: &str,
    bytes: usize,
) -> Bytes {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let len = prefix.len() + bytes * 2;
    if arena.capacity() < len {
        arena.reserve(ARENA.max(len));
    }
    arena.put_slice(prefix.as_bytes());
    let mut left = bytes;
    while left > 0 {
        let word = rng.next_u64().to_le_bytes();
        for b in word.iter().take(left.min(8)) {
            arena.put_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]]);
        }
        left = left.saturating_sub(8);
    }
    arena.split().freeze()
}

/// Concatenates `parts` into one `Bytes` cut from `arena` (see [`random_token`]).
pub(crate) fn concat(arena: &mut BytesMut, parts: &[&[u8]]) -> Bytes {
    let len = parts.iter().map(|p| p.len()).sum::<usize>();
    if arena.capacity() < len {
        arena.reserve(ARENA.max(len));
    }
    for p in parts {
        arena.put_slice(p);
    }
    arena.split().freeze()
}

/// Size of each identifier arena allocation.
const ARENA: usize = 4096;

/// A dialog identifier (§12): Call-ID plus local and remote tags, from this endpoint's view.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// The Call-ID.
    pub call_id: CallId,
    /// The tag this endpoint put in From (UAC) or To (UAS).
    pub local_tag: Tag,
    /// The peer's tag.
    pub remote_tag: Tag,
}

/// Which side of a transaction a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// A client transaction (we sent the request).
    Client,
    /// A server transaction (we received the request).
    Server,
}

/// How transactions are matched (§17.1.3 client side, §17.2.3 server side).
///
/// `method` is the request method, with ACK folded into INVITE on the server side because an
/// ACK for a non-2xx final response belongs to the INVITE transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TransactionKey {
    /// RFC 3261: branch (with magic cookie), sent-by (server side only) and method.
    Rfc3261 {
        /// Client or server.
        side: Side,
        /// The Via branch.
        branch: Branch,
        /// The top Via sent-by (`host[:port]`, lowercased host); empty on the client side.
        sent_by: Bytes,
        /// The request method (ACK folded into INVITE).
        method: MethodKey,
    },
    /// RFC 2543 fallback (§17.2.3): no magic cookie, so match on the request's identity.
    Rfc2543 {
        /// Request-URI as received.
        request_uri: Bytes,
        /// Call-ID.
        call_id: CallId,
        /// From tag (may be empty).
        from_tag: Bytes,
        /// CSeq number.
        cseq: u32,
        /// Top Via (sent-by and branch as received).
        via: Bytes,
        /// The request method (ACK folded into INVITE).
        method: MethodKey,
    },
}

/// The method part of a [`TransactionKey`]: a compact copy of the request method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MethodKey {
    /// A method known to the parser.
    Known(crate::Method),
    /// An extension method, by name.
    Other(Bytes),
}
