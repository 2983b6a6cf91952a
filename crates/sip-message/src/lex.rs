//! Byte-level lexing shared by the typed parsers (RFC 3261 §25.1 basic rules).
//!
//! Header values are handed out raw, folding included, so every typed parser treats CR and
//! LF as whitespace: the framer already guaranteed that a CRLF inside a value is followed by
//! SP/HT, which makes it LWS (RFC 3261 §7.3.1).

use std::borrow::Cow;

use crate::error::{ErrorKind, ParseError};
use crate::find;

// Character classes as one 256-entry table of bit flags: one load per byte instead of a
// chain of comparisons on the hottest loops.
const WS: u16 = 1;
pub(crate) const TOKEN: u16 = 2;
const UNRESERVED: u16 = 4;
const ALNUM: u16 = 8;
pub(crate) const USER: u16 = 16;
const PASSWORD: u16 = 32;
pub(crate) const PARAMCHAR: u16 = 64;
const HNV: u16 = 128;
pub(crate) const GEN_VALUE: u16 = 256;
const HOST: u16 = 512;
const HOST_NAME: u16 = 1024;
/// '%': OR-ed into [`run_acc`]'s summary, it says whether escapes need checking.
pub(crate) const PCT: u16 = 2048;
/// gen-value bytes that are not token bytes (':' '[' ']').
const GEN_NOT_TOKEN: u16 = 4096;
/// '.' (see [`host_run`]).
const DOT: u16 = 8192;

const fn build_classes() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let alnum = b.is_ascii_alphanumeric();
        let mut f = 0;
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            f |= WS;
        }
        if alnum
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            )
        {
            f |= TOKEN;
        }
        if alnum
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            )
        {
            f |= UNRESERVED;
        }
        if alnum {
            f |= ALNUM;
        }
        let unreserved = f & UNRESERVED != 0;
        // user = 1*( unreserved / escaped / user-unreserved )
        if unreserved
            || matches!(
                b,
                b'%' | b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/'
            )
        {
            f |= USER;
        }
        // password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
        if unreserved || matches!(b, b'%' | b'&' | b'=' | b'+' | b'$' | b',') {
            f |= PASSWORD;
        }
        // paramchar = param-unreserved / unreserved / escaped
        if unreserved || matches!(b, b'%' | b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
            f |= PARAMCHAR;
        }
        // hname / hvalue = hnv-unreserved / unreserved / escaped
        if unreserved || matches!(b, b'%' | b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$') {
            f |= HNV;
        }
        // gen-value = token / host / quoted-string: token plus ':' '[' ']' for IPv6.
        if f & TOKEN != 0 || matches!(b, b':' | b'[' | b']') {
            f |= GEN_VALUE;
        }
        // hostname / IPv4address characters (RFC 3261 §25.1; '_' accepted as before), and
        // those of them that cannot appear in an IPv4address.
        if alnum || matches!(b, b'-' | b'_' | b'.') {
            f |= HOST;
            if !b.is_ascii_digit() && b != b'.' {
                f |= HOST_NAME;
            }
            if b == b'.' {
                f |= DOT;
            }
        }
        if b == b'%' {
            f |= PCT;
        }
        if f & GEN_VALUE != 0 && f & TOKEN == 0 {
            f |= GEN_NOT_TOKEN;
        }
        t[c] = f;
        c += 1;
    }
    t
}

static CLASSES: [u16; 256] = build_classes();

/// SP, HTAB, or the CR/LF of a fold.
#[inline(always)]
pub(crate) fn is_ws(b: u8) -> bool {
    CLASSES[b as usize] & WS != 0
}

/// RFC 3261 `token` characters.
#[inline(always)]
pub(crate) fn is_token(b: u8) -> bool {
    CLASSES[b as usize] & TOKEN != 0
}

/// RFC 3261 `unreserved` = alphanum / mark.
#[inline(always)]
pub(crate) fn is_unreserved(b: u8) -> bool {
    CLASSES[b as usize] & UNRESERVED != 0
}

/// SIP-URI `password` characters.
#[inline(always)]
pub(crate) fn is_password_char(b: u8) -> bool {
    CLASSES[b as usize] & PASSWORD != 0
}

/// SIP-URI `paramchar`.
#[inline(always)]
pub(crate) fn is_param_char(b: u8) -> bool {
    CLASSES[b as usize] & PARAMCHAR != 0
}

/// SIP-URI header name/value characters.
#[inline(always)]
pub(crate) fn is_hnv_char(b: u8) -> bool {
    CLASSES[b as usize] & HNV != 0
}

/// The end of the run of bytes of class `class` that starts at `from` (`b.len()` at most).
#[inline(always)]
pub(crate) fn run(b: &[u8], from: usize, class: u16) -> usize {
    let tail = b.get(from..).unwrap_or_default();
    from + tail
        .iter()
        .position(|&c| CLASSES[c as usize] & class == 0)
        .unwrap_or(tail.len())
}

/// [`run`], also returning the OR of the class bits of the bytes taken (e.g. [`PCT`]: then
/// escapes need checking).
#[inline(always)]
pub(crate) fn run_acc(b: &[u8], from: usize, class: u16) -> (usize, u16) {
    let mut acc = 0u16;
    let mut i = from;
    while let Some(&c) = b.get(i) {
        let f = CLASSES[c as usize];
        if f & class == 0 {
            break;
        }
        acc |= f;
        i += 1;
    }
    (i, acc)
}

/// A hostname / IPv4address character (letter, digit, '-', '_', '.').
#[inline(always)]
pub(crate) fn is_host_char(b: u8) -> bool {
    CLASSES[b as usize] & HOST != 0
}

/// The length of the run of host characters (letters, digits, '-', '_', '.') at the start
/// of `b`, and whether the run is digits and dots only (an IPv4address candidate).
/// `None` for an empty label: a leading '.' or "..".
#[inline]
pub(crate) fn host_run(b: &[u8]) -> Option<(usize, bool)> {
    // One loop with one exit: a loop per label cost a mispredicted exit per label (perf).
    // ".." shows as two neighbours that both have the DOT bit.
    if b.first() == Some(&b'.') {
        return None;
    }
    let (mut seen, mut prev, mut pairs) = (0u16, 0u16, 0u16);
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let f = CLASSES[c as usize];
        if f & HOST == 0 {
            break;
        }
        seen |= f;
        pairs |= prev & f;
        prev = f;
        i += 1;
    }
    if pairs & DOT != 0 {
        return None;
    }
    Some((i, seen & HOST_NAME == 0))
}

/// Letters and digits.
#[inline(always)]
pub(crate) fn is_alnum(b: u8) -> bool {
    CLASSES[b as usize] & ALNUM != 0
}

/// Whether `a` is `lower` (lower-case letters, digits, '-' ...: no byte with bit 0x40 other
/// than lower-case letters) in any ASCII case. The length is a constant, so the compare is a
/// few word operations instead of `eq_ignore_ascii_case`'s byte loop.
///
/// Case is folded by OR-ing 0x20 into the bytes that have bit 0x40: only 'A'..'Z' and
/// 'a'..'z' land on a lower-case letter, and no byte lands on a byte without bit 0x40.
#[inline(always)]
pub(crate) fn eq_folded<const N: usize>(a: &str, lower: &[u8; N]) -> bool {
    a.len() == N && starts_folded(a.as_bytes(), lower)
}

/// Whether `a` starts with `lower` in any ASCII case (see [`eq_folded`]).
#[inline(always)]
pub(crate) fn starts_folded<const N: usize>(a: &[u8], lower: &[u8; N]) -> bool {
    let Some(x) = a.first_chunk::<N>() else {
        return false;
    };
    let mut diff = 0u8;
    for (&c, &l) in x.iter().zip(lower) {
        diff |= (c | (c & 0x40) >> 1) ^ l;
    }
    diff == 0
}

/// Trims LWS on both ends.
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    let (mut i, mut j) = (0, b.len());
    while i < j && is_ws(b[i]) {
        i += 1;
    }
    while j > i && is_ws(b[j - 1]) {
        j -= 1;
    }
    // Cuts are next to ASCII whitespace, hence char boundaries.
    s.get(i..j).unwrap_or("")
}

/// Checks that every `%` in `s` starts a `%HEXHEX` escape.
pub(crate) fn check_escapes(s: &[u8]) -> Result<(), usize> {
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'%', &s[i..]) {
        let at = i + p;
        match (s.get(at + 1), s.get(at + 2)) {
            (Some(a), Some(b)) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => i = at + 3,
            _ => return Err(at),
        }
    }
    Ok(())
}

/// Decodes `%HEXHEX` escapes (RFC 3261 §19.1.2); borrows when there is nothing to decode.
///
/// Decoding is done once, never recursively (RFC 4475 §3.1.1.3: `%2541` is `%41`, not `A`).
/// A decoded byte sequence that is not UTF-8 is converted lossily.
pub fn unescape(s: &str) -> Cow<'_, str> {
    if !s.as_bytes().contains(&b'%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Removes the quoted-pair backslashes of a quoted-string's inner text (RFC 3261 §25.1);
/// borrows when there are none.
pub fn unquote(inner: &str) -> Cow<'_, str> {
    if !inner.as_bytes().contains(&b'\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Parses a decimal that must fit `u32` (leading zeros allowed, RFC 4475 §3.1.1.1).
pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: u64 = 0;
    for b in s.bytes() {
        v = v * 10 + u64::from(b - b'0');
        if v > u64::from(u32::MAX) {
            return None;
        }
    }
    u32::try_from(v).ok()
}

/// A forward-only cursor over a header value, producing errors with offsets relative to the
/// start of the value.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    pub(crate) s: &'a str,
    pub(crate) pos: usize,
    pub(crate) kind: ErrorKind,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str, kind: ErrorKind) -> Self {
        Cursor { s, pos: 0, kind }
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    #[inline]
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    #[inline]
    pub(crate) fn ws(&mut self) {
        let b = self.s.as_bytes();
        while self.pos < b.len() && is_ws(b[self.pos]) {
            self.pos += 1;
        }
    }

    /// Consumes `c` after optional LWS; leaves the cursor after `c` (LWS after is not eaten).
    #[inline]
    pub(crate) fn eat(&mut self, c: u8) -> bool {
        let save = self.pos;
        self.ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            self.pos = save;
            false
        }
    }

    pub(crate) fn err(&self) -> ParseError {
        ParseError::new(self.kind, self.pos)
    }

    pub(crate) fn err_kind(&self, kind: ErrorKind) -> ParseError {
        ParseError::new(kind, self.pos)
    }

    /// Takes bytes while `f` holds (possibly none).
    #[inline]
    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let b = self.s.as_bytes();
        let start = self.pos;
        while self.pos < b.len() && f(b[self.pos]) {
            self.pos += 1;
        }
        // Every predicate used stops on ASCII bytes only, so the cut is a char boundary.
        self.s.get(start..self.pos).unwrap_or("")
    }

    /// A token after optional LWS.
    pub(crate) fn token(&mut self) -> Result<&'a str, ParseError> {
        self.ws();
        let start = self.pos;
        self.pos = run(self.s.as_bytes(), start, TOKEN);
        // Token bytes are ASCII, so the cut is a char boundary.
        let t = self.s.get(start..self.pos).unwrap_or("");
        if t.is_empty() { Err(self.err()) } else { Ok(t) }
    }

    /// A quoted-string after optional LWS; returns the inner text with quoted-pairs intact.
    pub(crate) fn quoted(&mut self) -> Result<&'a str, ParseError> {
        self.ws();
        let b = self.s.as_bytes();
        if self.peek() != Some(b'"') {
            return Err(self.err());
        }
        let start = self.pos + 1;
        let mut i = start;
        // Only '"' and '\\' matter; the text between is skipped 16 bytes at a time.
        while let Some(p) = b.get(i..).and_then(|t| find::find2(t, b'"', b'\\')) {
            i += p;
            match b[i] {
                b'\\' => {
                    // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                    match b.get(i + 1) {
                        Some(&n) if n <= 0x7f && n != b'\r' && n != b'\n' => i += 2,
                        _ => return Err(ParseError::new(ErrorKind::QuotedString, i)),
                    }
                }
                b'"' => {
                    self.pos = i + 1;
                    return Ok(self.s.get(start..i).unwrap_or(""));
                }
                _ => i += 1,
            }
        }
        Err(ParseError::new(ErrorKind::QuotedString, self.pos))
    }

    /// The rest of the input.
    pub(crate) fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }
}

/// Splits a header value at top-level commas, respecting quoted strings and `<...>`
/// (RFC 3261 §7.3.1). Items are trimmed; empty items are yielded (callers decide).
#[derive(Debug, Clone)]
pub(crate) struct CommaSplit<'a> {
    s: &'a str,
    pos: usize,
    done: bool,
    whole: bool,
}

impl<'a> CommaSplit<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        CommaSplit {
            s,
            pos: 0,
            done: false,
            whole: false,
        }
    }

    /// Yields `s` as a single item (for headers that are not comma lists).
    pub(crate) fn whole(s: &'a str) -> Self {
        CommaSplit {
            s,
            pos: 0,
            done: false,
            whole: true,
        }
    }
}

impl<'a> Iterator for CommaSplit<'a> {
    /// (offset of the item within the value, trimmed item)
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.whole {
            self.done = true;
            return Some((0, self.s));
        }
        let b = self.s.as_bytes();
        let start = self.pos;
        let mut i = start;
        let mut in_quote = false;
        let mut angle = false;
        while i < b.len() {
            match b[i] {
                b'\\' if in_quote => i += 1,
                b'"' if !angle => in_quote = !in_quote,
                b'<' if !in_quote => angle = true,
                b'>' if !in_quote => angle = false,
                b',' if !in_quote && !angle => break,
                _ => {}
            }
            i += 1;
        }
        let end = i.min(b.len());
        if i >= b.len() {
            self.done = true;
        } else {
            self.pos = i + 1;
        }
        let raw = self.s.get(start..end).unwrap_or("");
        let lead = raw.bytes().take_while(|&c| is_ws(c)).count();
        Some((start + lead, trim(raw)))
    }
}

/// Parses `*( SEMI generic-param )` (RFC 3261 §25.1) starting at the cursor, validating it,
/// and returns the raw text consumed.
pub(crate) fn generic_params<'a>(c: &mut Cursor<'a>) -> Result<&'a str, ParseError> {
    scan_params(c, |_, _, _| true)
}

/// Like [`generic_params`], calling `f(name, value, token)` for each parameter as it is
/// parsed (quoted values without their quotes; `token`: the value, quotes removed, is all
/// token bytes, as `branch` and `tag` must be); `f` returning false rejects the value.
#[inline]
pub(crate) fn scan_params<'a>(
    c: &mut Cursor<'a>,
    mut f: impl FnMut(&'a str, Option<&'a str>, bool) -> bool,
) -> Result<&'a str, ParseError> {
    let s = c.s;
    let b = s.as_bytes();
    let start = c.pos;
    let skip_ws = |mut j: usize| {
        while j < b.len() && is_ws(b[j]) {
            j += 1;
        }
        j
    };
    let fail = |c: &mut Cursor<'a>, at: usize| {
        c.pos = at;
        Err(c.err_kind(ErrorKind::Param))
    };
    // `i` is the end of the last complete parameter (trailing LWS not consumed).
    let mut i = start;
    loop {
        let mut j = skip_ws(i);
        if b.get(j) != Some(&b';') {
            break;
        }
        j = skip_ws(j + 1);
        let ns = j;
        j = run(b, j, TOKEN);
        if j == ns {
            return fail(c, j);
        }
        let name = &s[ns..j];
        let k = skip_ws(j);
        let (value, end, token) = if b.get(k) == Some(&b'=') {
            let mut k = skip_ws(k + 1);
            if b.get(k) == Some(&b'"') {
                c.pos = k;
                let v = c.quoted()?;
                (Some(v), c.pos, v.bytes().all(is_token))
            } else {
                let vs = k;
                let seen;
                (k, seen) = run_acc(b, k, GEN_VALUE);
                if k == vs {
                    return fail(c, k);
                }
                (Some(&s[vs..k]), k, seen & GEN_NOT_TOKEN == 0)
            }
        } else {
            (None, j, false)
        };
        if !f(name, value, token) {
            return fail(c, end);
        }
        i = end;
    }
    c.pos = i;
    Ok(&s[start..i])
}

/// One `name[=value]` parameter. Quoted values are returned without their quotes, with
/// quoted-pairs intact (see [`unquote`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// Parameter name, as written.
    pub name: &'a str,
    /// Value, if any (`;lr` has none).
    pub value: Option<&'a str>,
    /// Whether the value was a quoted-string.
    pub quoted: bool,
}

/// Iterator over already-validated `;name=value` parameters (header or URI parameters).
#[derive(Debug, Clone)]
pub struct Params<'a> {
    c: Cursor<'a>,
}

impl<'a> Params<'a> {
    /// Iterates over `raw`, which starts at the first `;` (or is empty).
    pub(crate) fn new(raw: &'a str) -> Self {
        Params {
            c: Cursor::new(raw, ErrorKind::Param),
        }
    }

    /// The raw parameter text, starting at the first `;`.
    pub fn as_str(&self) -> &'a str {
        self.c.s
    }

    /// The first parameter called `name` (case-insensitive): `Some(None)` when present
    /// without a value.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.clone()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value)
    }

    /// Whether a parameter `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let c = &mut self.c;
        if !c.eat(b';') {
            return None;
        }
        c.ws();
        let name = c.take_while(|b| b != b'=' && b != b';' && !is_ws(b));
        let save = c.pos;
        if c.eat(b'=') {
            c.ws();
            if c.peek() == Some(b'"') {
                match c.quoted() {
                    Ok(v) => Some(Param {
                        name,
                        value: Some(v),
                        quoted: true,
                    }),
                    Err(_) => {
                        c.pos = c.s.len();
                        None
                    }
                }
            } else {
                let v = c.take_while(|b| b != b';' && !is_ws(b));
                Some(Param {
                    name,
                    value: Some(v),
                    quoted: false,
                })
            }
        } else {
            c.pos = save;
            Some(Param {
                name,
                value: None,
                quoted: false,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_split_respects_quotes_and_angles() {
        let v = r#""a,b" <sip:x@y;p=1,2>;q=1 , <sip:z>,,"#;
        let items: Vec<_> = CommaSplit::new(v).map(|(_, s)| s).collect();
        assert_eq!(
            items,
            vec![r#""a,b" <sip:x@y;p=1,2>;q=1"#, "<sip:z>", "", ""]
        );
    }

    #[test]
    fn unescape_is_single_pass() {
        assert_eq!(unescape("v%61lue%25%34%31"), "value%41");
        assert_eq!(unescape("plain"), Cow::Borrowed("plain"));
        assert_eq!(unescape("null-%00-null"), "null-\0-null");
        assert_eq!(unescape("bad%zz"), "bad%zz");
    }

    #[test]
    fn unquote_removes_quoted_pairs() {
        assert_eq!(unquote(r#"J Rosenberg \\\""#), r#"J Rosenberg \""#);
        assert_eq!(unquote("abc"), Cow::Borrowed("abc"));
    }

    #[test]
    fn params_iterate_with_lws() {
        let mut c = Cursor::new(" ;   tag    = 1918181833n ; lr;x=\"a b\"", ErrorKind::Param);
        let raw = generic_params(&mut c).unwrap();
        assert!(c.at_end());
        let p: Vec<_> = Params::new(raw).collect();
        assert_eq!(p[0].name, "tag");
        assert_eq!(p[0].value, Some("1918181833n"));
        assert_eq!(p[1].value, None);
        assert_eq!(p[2].value, Some("a b"));
        assert!(p[2].quoted);
        assert_eq!(Params::new(raw).get("TAG"), Some(Some("1918181833n")));
    }

    #[test]
    fn host_run_matches_a_byte_by_byte_scan() {
        // Pins the label-by-label host scan against the byte loop it replaced.
        fn reference(b: &[u8]) -> Option<(usize, bool)> {
            let (mut numeric, mut prev_dot, mut len) = (true, true, 0);
            for &c in b {
                if c == b'.' {
                    if prev_dot {
                        return None;
                    }
                    prev_dot = true;
                } else if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' {
                    numeric &= c.is_ascii_digit();
                    prev_dot = false;
                } else {
                    break;
                }
                len += 1;
            }
            Some((len, numeric))
        }
        let alphabet = b"a1.-_:";
        let mut buf = Vec::new();
        for n in 0..=5u32 {
            for mut k in 0..alphabet.len().pow(n) {
                buf.clear();
                for _ in 0..n {
                    buf.push(alphabet[k % alphabet.len()]);
                    k /= alphabet.len();
                }
                assert_eq!(host_run(&buf), reference(&buf), "{buf:?}");
            }
        }
    }

    #[test]
    fn folded_compares_agree_with_eq_ignore_ascii_case() {
        for a in [
            "branch", "BRANCH", "Branch", "branc", "branchx", "bRaNcH", "br\rnch", "tag", "TAG",
            "t\x01g", "rport", "RPORT", "rp0rt", "received", "RECEIVED", "",
        ] {
            assert_eq!(
                eq_folded(a, b"branch"),
                a.eq_ignore_ascii_case("branch"),
                "{a:?}"
            );
            assert_eq!(eq_folded(a, b"tag"), a.eq_ignore_ascii_case("tag"), "{a:?}");
            assert_eq!(
                eq_folded(a, b"rport"),
                a.eq_ignore_ascii_case("rport"),
                "{a:?}"
            );
            assert_eq!(
                eq_folded(a, b"received"),
                a.eq_ignore_ascii_case("received"),
                "{a:?}"
            );
        }
        for v in [
            "SIP/2.0/UDP",
            "sip/2.0/x",
            "SIP/2.0",
            "SIP\x0f2.0/",
            "SIP/2.0\x0f",
            "SIP/2,0/",
        ] {
            let want = v.len() >= 8 && v.as_bytes()[..8].eq_ignore_ascii_case(b"sip/2.0/");
            assert_eq!(starts_folded(v.as_bytes(), b"sip/2.0/"), want, "{v:?}");
        }
        // Every single-byte change of a letter: only its other case matches.
        for b in 0..=255u8 {
            let mut name = *b"tag";
            name[1] = b;
            let s = String::from_utf8_lossy(&name).into_owned();
            if s.len() == 3 {
                assert_eq!(eq_folded(&s, b"tag"), b == b'a' || b == b'A', "{b:#x}");
            }
        }
    }

    #[test]
    fn numbers_overflow_to_none() {
        assert_eq!(parse_u32("0009"), Some(9));
        assert_eq!(parse_u32("4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32("4294967296"), None);
        assert_eq!(parse_u32("36893488147419103232"), None);
        assert_eq!(parse_u32("-1"), None);
        assert_eq!(parse_u32(""), None);
    }
}
