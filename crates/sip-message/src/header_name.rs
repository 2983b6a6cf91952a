//! Header field names: an enum of the names this crate knows, with their compact forms
//! (RFC 3261 §7.3.3 and the IANA SIP parameter registry), plus `Other` for the rest.
//!
//! Field names are case-insensitive (RFC 3261 §7.3.1); `Other` compares accordingly.

use std::fmt;
use std::hash::{Hash, Hasher};

macro_rules! header_names {
    ($( $variant:ident => $canon:literal, $lower:literal $(, $cbyte:literal, $compact:literal)? ; )*) => {
        /// A header field name.
        ///
        /// Known names (full or compact form, any case) map to their variant; anything else
        /// is `Other` with the name exactly as it appeared.
        #[derive(Debug, Clone, Copy)]
        #[non_exhaustive]
        pub enum HeaderName<'a> {
            $(
                #[doc = concat!("`", $canon, "`", $(" (compact form `", $compact, "`)")?)]
                $variant,
            )*
            /// Any other (extension) header name, as written on the wire.
            Other(&'a str),
        }

        /// The known names in declaration order: `Code::X as u8` is X's index in `KNOWN`.
        #[repr(u8)]
        #[allow(dead_code)] // only `as u8` reads the variants
        enum Code {
            $( $variant, )*
        }

        impl<'a> HeaderName<'a> {
            /// A one-byte code: the index of a known name in `KNOWN`, or [`OTHER`] (what the
            /// header index of a message stores instead of the 24-byte enum).
            #[inline]
            pub(crate) const fn code(&self) -> u8 {
                match self {
                    $( HeaderName::$variant => Code::$variant as u8, )*
                    HeaderName::Other(_) => OTHER,
                }
            }

            /// Classifies a field name (full or compact form, case-insensitive).
            ///
            /// `name` is expected to be a token; no check is made here.
            pub fn new(name: &'a str) -> Self {
                match HeaderName::classify(name.as_bytes()) {
                    HeaderName::Other(_) => HeaderName::Other(name),
                    known => known,
                }
            }

            /// The canonical (full, conventionally capitalised) name; `Other` as written.
            pub fn as_str(&self) -> &'a str {
                match self {
                    $( HeaderName::$variant => $canon, )*
                    HeaderName::Other(s) => s,
                }
            }

            /// The compact form, where one is defined.
            pub fn compact(&self) -> Option<&'static str> {
                match self {
                    $( $( HeaderName::$variant => { let _ = $cbyte; Some($compact) } )? )*
                    _ => None,
                }
            }

            /// Classifies raw name bytes; unknown names become `Other("")`.
            pub(crate) fn classify(b: &[u8]) -> HeaderName<'static> {
                Self::from_code(Self::classify_code(b))
            }

            /// [`HeaderName::classify`] as a code ([`HeaderName::code`]).
            pub(crate) fn classify_code(b: &[u8]) -> u8 {
                Self::classify_prefix(b, b.len())
            }

            /// The known name of a code; `Other("")` for [`OTHER`].
            #[inline]
            pub(crate) fn from_code(code: u8) -> HeaderName<'static> {
                KNOWN.get(usize::from(code)).map_or(HeaderName::Other(""), |k| k.1)
            }

            /// Classifies the name `buf[..len]` (`0 < len <= buf.len()`), where `buf` may go
            /// on past the name: its bytes let the name be read a word at a time. The name
            /// need not be a token: a known name is returned only if the bytes are one,
            /// because no other byte [`fold`]s onto a letter or '-'.
            #[inline(always)]
            pub(crate) fn classify_prefix(buf: &[u8], len: usize) -> u8 {
                let b = &buf[..len];
                if b.len() == 1 {
                    return match b[0].to_ascii_lowercase() {
                        $($( $cbyte => Code::$variant as u8, )?)*
                        _ => OTHER,
                    };
                }
                // Candidates share the length and (case-folded) first letter: almost
                // always one, never more than `PER_KEY`, so a known name costs one compare
                // of up to three words.
                let Some(row) = key(b.len(), b[0]).and_then(|k| BY_KEY.get(k)) else {
                    return OTHER;
                };
                // Most names fit one word: fold and compare the others only when needed.
                if len <= 8 {
                    if let Some(wide) = buf.first_chunk::<8>() {
                        let w0 = folded_word(wide, len);
                        for &i in row.iter().take_while(|&&i| i != NONE) {
                            if WORDS[i as usize][0] == w0 {
                                return i;
                            }
                        }
                        return OTHER;
                    }
                }
                let w = match buf.first_chunk::<24>() {
                    Some(wide) => folded_prefix_words(wide, len),
                    None => folded_words(b),
                };
                for &i in row.iter().take_while(|&&i| i != NONE) {
                    let k = &WORDS[i as usize];
                    if k[0] == w[0] && k[1] == w[1] && k[2] == w[2] {
                        return i;
                    }
                }
                OTHER
            }

        }

        /// Every known name in lower case, with its variant.
        const KNOWN: &[(&[u8], HeaderName<'static>)] = &[ $( ($lower, HeaderName::$variant), )* ];
    };
}

header_names! {
    Accept => "Accept", b"accept";
    AcceptContact => "Accept-Contact", b"accept-contact", b'a', "a";
    AcceptEncoding => "Accept-Encoding", b"accept-encoding";
    AcceptLanguage => "Accept-Language", b"accept-language";
    AlertInfo => "Alert-Info", b"alert-info";
    Allow => "Allow", b"allow";
    AllowEvents => "Allow-Events", b"allow-events", b'u', "u";
    Authorization => "Authorization", b"authorization";
    CallId => "Call-ID", b"call-id", b'i', "i";
    CallInfo => "Call-Info", b"call-info";
    Contact => "Contact", b"contact", b'm', "m";
    ContentDisposition => "Content-Disposition", b"content-disposition";
    ContentEncoding => "Content-Encoding", b"content-encoding", b'e', "e";
    ContentLanguage => "Content-Language", b"content-language";
    ContentLength => "Content-Length", b"content-length", b'l', "l";
    ContentType => "Content-Type", b"content-type", b'c', "c";
    CSeq => "CSeq", b"cseq";
    Date => "Date", b"date";
    Diversion => "Diversion", b"diversion";
    ErrorInfo => "Error-Info", b"error-info";
    Event => "Event", b"event", b'o', "o";
    Expires => "Expires", b"expires";
    From => "From", b"from", b'f', "f";
    Identity => "Identity", b"identity", b'y', "y";
    InReplyTo => "In-Reply-To", b"in-reply-to";
    MaxForwards => "Max-Forwards", b"max-forwards";
    MimeVersion => "MIME-Version", b"mime-version";
    MinExpires => "Min-Expires", b"min-expires";
    MinSe => "Min-SE", b"min-se";
    Organization => "Organization", b"organization";
    PAssertedIdentity => "P-Asserted-Identity", b"p-asserted-identity";
    PPreferredIdentity => "P-Preferred-Identity", b"p-preferred-identity";
    Priority => "Priority", b"priority";
    Privacy => "Privacy", b"privacy";
    ProxyAuthenticate => "Proxy-Authenticate", b"proxy-authenticate";
    ProxyAuthorization => "Proxy-Authorization", b"proxy-authorization";
    ProxyRequire => "Proxy-Require", b"proxy-require";
    RAck => "RAck", b"rack";
    Reason => "Reason", b"reason";
    RecordRoute => "Record-Route", b"record-route";
    ReferTo => "Refer-To", b"refer-to", b'r', "r";
    ReferredBy => "Referred-By", b"referred-by", b'b', "b";
    RejectContact => "Reject-Contact", b"reject-contact", b'j', "j";
    Replaces => "Replaces", b"replaces";
    ReplyTo => "Reply-To", b"reply-to";
    RequestDisposition => "Request-Disposition", b"request-disposition", b'd', "d";
    Require => "Require", b"require";
    RetryAfter => "Retry-After", b"retry-after";
    Route => "Route", b"route";
    RSeq => "RSeq", b"rseq";
    Server => "Server", b"server";
    SessionExpires => "Session-Expires", b"session-expires", b'x', "x";
    Subject => "Subject", b"subject", b's', "s";
    SubscriptionState => "Subscription-State", b"subscription-state";
    Supported => "Supported", b"supported", b'k', "k";
    Timestamp => "Timestamp", b"timestamp";
    To => "To", b"to", b't', "t";
    Unsupported => "Unsupported", b"unsupported";
    UserAgent => "User-Agent", b"user-agent";
    Via => "Via", b"via", b'v', "v";
    Warning => "Warning", b"warning";
    WwwAuthenticate => "WWW-Authenticate", b"www-authenticate";
}

/// Every known name as little-endian words, zero-padded (see [`folded_words`]).
const WORDS: [[u64; 3]; KNOWN.len()] = {
    let mut t = [[0u64; 3]; KNOWN.len()];
    let mut i = 0;
    while i < KNOWN.len() {
        let name = KNOWN[i].0;
        let mut j = 0;
        while j < name.len() {
            t[i][j / 8] |= (name[j] as u64) << (8 * (j % 8));
            j += 1;
        }
        i += 1;
    }
    t
};

/// Lower-cases the ASCII letters of eight bytes: 0x20 is OR-ed into the bytes that have bit
/// 0x40 (letters and the rest of 0x40..=0x7F, and non-ASCII bytes, which stay non-ASCII).
/// No other byte becomes a lower-case letter or '-': OR-ing 0x20 into every byte made CR
/// (0x0D) into '-', and "Call<CR>ID" a Call-ID (a bare CR is an error, RFC 3261 §7).
#[inline(always)]
const fn fold(w: u64) -> u64 {
    w | (w & 0x4040_4040_4040_4040) >> 1
}

/// A name of at most `MAX_LEN` bytes as three little-endian words, zero-padded, each
/// [`fold`]ed. Known names are lower-case letters and '-', and only their own spellings
/// (any case) fold onto them, so equal words mean the same name.
#[inline]
fn folded_words(b: &[u8]) -> [u64; 3] {
    let mut w = [0u64; 3];
    let mut chunks = b.chunks_exact(8);
    for (slot, c) in w.iter_mut().zip(&mut chunks) {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        *slot = fold(u64::from_le_bytes(a));
    }
    let tail = chunks.remainder();
    let mut v = 0u64;
    for (j, &c) in tail.iter().enumerate() {
        v |= u64::from(c) << (8 * j);
    }
    let v = fold(v);
    if let Some(slot) = w.get_mut(b.len() / 8) {
        *slot = v;
    }
    w
}

/// The first word of [`folded_words`] for a name `wide[..len]` of `1..=8` bytes.
#[inline]
fn folded_word(wide: &[u8; 8], len: usize) -> u64 {
    // len is 1..=8, so the shift is 0..=56.
    let mask = u64::MAX >> (64 - 8 * len.clamp(1, 8));
    fold(u64::from_le_bytes(*wide)) & mask
}

/// [`folded_words`] of `wide[..len]` (`len <= 24`): three plain loads, OR, mask.
#[inline]
fn folded_prefix_words(wide: &[u8; 24], len: usize) -> [u64; 3] {
    let word = |k: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&wide[8 * k..8 * k + 8]);
        // Keep the bytes of word k that belong to the name: 0..=8 of them.
        let keep = len.saturating_sub(8 * k).min(8) as u32;
        let mask = u64::MAX.checked_shr(64 - 8 * keep).unwrap_or(0);
        fold(u64::from_le_bytes(a)) & mask
    };
    [word(0), word(1), word(2)]
}

const NONE: u8 = u8::MAX;
/// The code of every name that is not known ([`HeaderName::code`]).
pub(crate) const OTHER: u8 = u8::MAX;
const _: () = assert!(KNOWN.len() < OTHER as usize);
const MAX_LEN: usize = 24;
const PER_KEY: usize = 3;

/// Table key of a name of `len` bytes starting with `first`: (length, letter).
#[inline]
const fn key(len: usize, first: u8) -> Option<usize> {
    let f = first | 0x20;
    if len > MAX_LEN || f < b'a' || f > b'z' {
        return None;
    }
    Some(len * 26 + (f - b'a') as usize)
}

/// Indices into `KNOWN` by (length, first letter), `NONE`-padded; built at compile time.
/// A fourth name on one key fails the build (index out of bounds in const evaluation).
const BY_KEY: [[u8; PER_KEY]; (MAX_LEN + 1) * 26] = {
    let mut t = [[NONE; PER_KEY]; (MAX_LEN + 1) * 26];
    let mut i = 0;
    while i < KNOWN.len() {
        let name = KNOWN[i].0;
        let k = match key(name.len(), name[0]) {
            Some(k) => k,
            None => panic!("known header names are 2..=24 bytes and start with a letter"),
        };
        let mut j = 0;
        while t[k][j] != NONE {
            j += 1;
        }
        t[k][j] = i as u8;
        i += 1;
    }
    t
};

impl PartialEq for HeaderName<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            // Known variants carry no data: equal exactly when the variants are.
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl Eq for HeaderName<'_> {}

impl Hash for HeaderName<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        if let HeaderName::Other(s) = self {
            for b in s.bytes() {
                b.to_ascii_lowercase().hash(state);
            }
        }
    }
}

impl fmt::Display for HeaderName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::HeaderName;

    #[test]
    fn compact_and_full_forms_match_case_insensitively() {
        let table = [
            ("v", HeaderName::Via),
            ("VIA", HeaderName::Via),
            ("i", HeaderName::CallId),
            ("call-id", HeaderName::CallId),
            ("f", HeaderName::From),
            ("T", HeaderName::To),
            ("m", HeaderName::Contact),
            ("l", HeaderName::ContentLength),
            ("c", HeaderName::ContentType),
            ("k", HeaderName::Supported),
            ("s", HeaderName::Subject),
            ("e", HeaderName::ContentEncoding),
            ("o", HeaderName::Event),
            ("u", HeaderName::AllowEvents),
            ("r", HeaderName::ReferTo),
            ("b", HeaderName::ReferredBy),
            ("x", HeaderName::SessionExpires),
            ("y", HeaderName::Identity),
            ("MaX-fOrWaRdS", HeaderName::MaxForwards),
            ("www-authenticate", HeaderName::WwwAuthenticate),
            ("P-Asserted-Identity", HeaderName::PAssertedIdentity),
        ];
        for (s, want) in table {
            assert_eq!(HeaderName::new(s), want, "{s}");
        }
    }

    #[test]
    fn every_known_name_classifies_to_itself_in_any_case() {
        for &(lower, want) in super::KNOWN {
            let name = std::str::from_utf8(lower).unwrap();
            assert_eq!(HeaderName::new(name), want, "{name}");
            assert_eq!(HeaderName::new(&name.to_ascii_uppercase()), want, "{name}");
            assert_eq!(HeaderName::new(want.as_str()), want, "{name}");
            assert!(want.as_str().eq_ignore_ascii_case(name));
            assert_eq!(HeaderName::from_code(want.code()), want, "{name}");
            assert_eq!(HeaderName::classify_code(lower), want.code(), "{name}");
            // A one-byte change makes it unknown (no false positives from the table).
            let mut changed = name.to_string();
            changed.push('x');
            assert!(
                matches!(HeaderName::new(&changed), HeaderName::Other(_)),
                "{changed}"
            );
        }
        assert!(matches!(HeaderName::new("Vib"), HeaderName::Other(_)));
        // CR in the place of '-' (CR OR 0x20 is '-'), in the one-word and three-word paths.
        for name in [
            "Call\rID",
            "Max\rForwards",
            "P-Asserted\rIdentity",
            "Call-ID\r",
        ] {
            assert!(
                matches!(HeaderName::new(name), HeaderName::Other(_)),
                "{name:?}"
            );
        }
        assert!(matches!(HeaderName::new("1via"), HeaderName::Other(_)));
        assert!(matches!(
            HeaderName::new(&"a".repeat(40)),
            HeaderName::Other(_)
        ));
    }

    #[test]
    fn other_names_compare_case_insensitively() {
        let a = HeaderName::new("X-Custom");
        assert_eq!(a, HeaderName::Other("x-custom"));
        assert_ne!(a, HeaderName::Via);
        assert_eq!(HeaderName::new("C%6Fntact"), HeaderName::Other("C%6Fntact"));
        assert_eq!(HeaderName::new("z"), HeaderName::Other("z"));
        assert_eq!(HeaderName::Via.as_str(), "Via");
        assert_eq!(HeaderName::CallId.compact(), Some("i"));
    }
}
