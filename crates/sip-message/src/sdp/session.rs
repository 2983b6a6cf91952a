//! The parsed session description: validation in one pass, then borrowed views.

use super::attr::{Attribute, Direction};
use super::fields::{Bandwidth, Connection, Key, Origin, Repeat, TimeZones, Timing};
use super::lex::{Fail, RawLine, RawLines, fail};
use super::media::MediaIter;
use crate::error::{ErrorKind, ParseError};

/// Bounds applied while parsing, so that hostile input costs bounded work.
///
/// Parsing allocates nothing whatever the limits; they bound CPU time and what callers iterate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted body in bytes.
    pub max_size: usize,
    /// Most media sections (`m=` lines).
    pub max_media: usize,
    /// Most `a=` lines in one section (session or media). WebRTC offers with many candidates
    /// and `ssrc` lines reach about a hundred.
    pub max_attributes: usize,
    /// Most other repeatable lines (`e= p= c= b= t= r=`) in one section.
    pub max_lines: usize,
    /// Most formats on one `m=` line.
    pub max_formats: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_size: 64 * 1024,
            max_media: 32,
            max_attributes: 256,
            max_lines: 64,
            max_formats: 128,
        }
    }
}

/// A parsed SDP body (RFC 8866): a validated view of the input.
///
/// Everything it returns borrows from the input (lifetime `'a`), not from this struct, and
/// nothing is copied. Only the few fields every user needs are decoded eagerly; lists
/// (attributes, media sections, bandwidths, …) are decoded while iterating. Because the whole
/// body was validated first, iteration cannot fail. To parse an SDP body held in a
/// [`bytes::Bytes`], pass `&bytes[..]`; `Bytes::slice_ref` turns any returned `&str` back into
/// a zero-copy `Bytes`.
#[derive(Debug, Clone, Copy)]
pub struct SessionDescription<'a> {
    text: &'a str,
    session: &'a str,
    media: &'a str,
    media_count: usize,
    origin: Origin<'a>,
    name: &'a str,
    information: Option<&'a str>,
    uri: Option<&'a str>,
    connection: Option<Connection<'a>>,
    key: Option<Key<'a>>,
    zones: Option<TimeZones<'a>>,
    direction: Option<Direction>,
}

impl<'a> SessionDescription<'a> {
    /// Parses and validates an SDP body with the default [`Limits`].
    ///
    /// This is the fuzzing entry point: any input returns `Ok` or an `Err` with a byte offset,
    /// never panics and never allocates.
    pub fn parse(input: &'a [u8]) -> Result<Self, ParseError> {
        Self::parse_with(input, &Limits::default())
    }

    /// Parses and validates an SDP body with explicit limits.
    pub fn parse_with(input: &'a [u8], limits: &Limits) -> Result<Self, ParseError> {
        if input.len() > limits.max_size {
            return Err(ParseError::new(ErrorKind::SdpTooLarge, limits.max_size));
        }
        // RFC 8866 §5: text fields are UTF-8 unless `a=charset` says otherwise; other charsets
        // are not supported, so the whole body must be UTF-8.
        let text = core::str::from_utf8(input)
            .map_err(|e| ParseError::new(ErrorKind::SdpNotUtf8, e.valid_up_to()))?;
        Validator::new(text, limits)
            .run()
            .map_err(|f| f.relative_to(text))
    }

    /// The whole body.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// `o=`.
    pub fn origin(&self) -> Origin<'a> {
        self.origin
    }

    /// `s=`, as written.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// Session-level `i=`.
    pub fn information(&self) -> Option<&'a str> {
        self.information
    }

    /// `u=`.
    pub fn uri(&self) -> Option<&'a str> {
        self.uri
    }

    /// `e=` lines.
    pub fn emails(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        values(self.session, b'e')
    }

    /// `p=` lines.
    pub fn phones(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        values(self.session, b'p')
    }

    /// Session-level `c=`.
    pub fn connection(&self) -> Option<Connection<'a>> {
        self.connection
    }

    /// Session-level `b=` lines.
    pub fn bandwidths(&self) -> impl Iterator<Item = Bandwidth<'a>> + use<'a> {
        values(self.session, b'b').filter_map(|v| Bandwidth::parse_inner(v).ok())
    }

    /// `t=` lines, each with its `r=` lines. Empty when the body had no `t=` (accepted, see
    /// the module documentation).
    pub fn times(&self) -> impl Iterator<Item = TimeDescription<'a>> + use<'a> {
        let mut lines = RawLines::new(self.session);
        core::iter::from_fn(move || {
            loop {
                let line = lines.next()?;
                if line.letter() == b't' {
                    if let Ok(timing) = Timing::parse_inner(line.value()) {
                        return Some(TimeDescription {
                            timing,
                            after: lines.clone(),
                        });
                    }
                }
            }
        })
    }

    /// `z=`.
    pub fn zones(&self) -> Option<TimeZones<'a>> {
        self.zones
    }

    /// Session-level `k=`.
    pub fn key(&self) -> Option<Key<'a>> {
        self.key
    }

    /// Session-level `a=` lines in order.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes::new(self.session)
    }

    /// Session-level direction attribute, if any (media sections inherit it).
    pub fn direction(&self) -> Option<Direction> {
        self.direction
    }

    /// Session-level `a=group` lines (RFC 5888), e.g. `BUNDLE`.
    pub fn groups(&self) -> impl Iterator<Item = super::attr::Group<'a>> + use<'a> {
        named(self.session, "group").filter_map(|a| match a {
            Attribute::Group(g) => Some(g),
            _ => None,
        })
    }

    /// Whether the session declares `a=ice-lite`.
    pub fn ice_lite(&self) -> bool {
        named(self.session, "ice-lite").next().is_some()
    }

    /// Number of media sections.
    pub fn media_count(&self) -> usize {
        self.media_count
    }

    /// The media sections in order.
    pub fn media(&self) -> MediaIter<'a> {
        MediaIter::new(
            self.media,
            offset_of(self.text, self.media),
            self.session,
            self.connection,
            self.direction,
        )
    }
}

/// One `t=` line and the `r=` lines after it.
#[derive(Debug, Clone)]
pub struct TimeDescription<'a> {
    /// `t=`.
    pub timing: Timing,
    after: RawLines<'a>,
}

impl<'a> TimeDescription<'a> {
    /// The `r=` lines of this time description.
    pub fn repeats(&self) -> impl Iterator<Item = Repeat<'a>> + use<'a> {
        let mut lines = self.after.clone();
        core::iter::from_fn(move || {
            let line = lines.next()?;
            if line.letter() != b'r' {
                return None;
            }
            Repeat::parse_inner(line.value()).ok()
        })
    }
}

/// Iterator over the `a=` lines of one section.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    lines: RawLines<'a>,
}

impl<'a> Attributes<'a> {
    pub(crate) fn new(section: &'a str) -> Self {
        Attributes {
            lines: RawLines::new(section),
        }
    }
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Attribute<'a>;

    fn next(&mut self) -> Option<Attribute<'a>> {
        for line in self.lines.by_ref() {
            if line.letter() == b'a' {
                match Attribute::parse_inner(line.value()) {
                    Ok(a) => return Some(a),
                    // Unreachable: the body was validated with the same function.
                    Err(_) => debug_assert!(false, "validated attribute failed to parse"),
                }
            }
        }
        None
    }
}

/// The attributes called `name` (lower case) in a section, parsed; other lines are skipped
/// without being parsed.
pub(crate) fn named<'a>(
    section: &'a str,
    name: &'static str,
) -> impl Iterator<Item = Attribute<'a>> + use<'a> {
    RawLines::new(section)
        .filter(move |l| l.letter() == b'a' && Attribute::line_is(l.value(), name))
        .filter_map(|l| Attribute::parse_inner(l.value()).ok())
}

/// Values of the lines of type `letter` in a section.
pub(crate) fn values(section: &str, letter: u8) -> impl Iterator<Item = &str> + '_ {
    RawLines::new(section)
        .filter(move |l| l.letter() == letter)
        .map(|l| l.value())
}

pub(crate) fn offset_of(whole: &str, part: &str) -> usize {
    super::lex::offset_in(whole, part)
}

/// Attributes that may appear once per section; a repeat with the *same* value is tolerated,
/// a conflicting one is ambiguous and rejected.
const SINGLETONS: usize = 8;

fn singleton_slot(a: &Attribute<'_>) -> Option<usize> {
    Some(match a {
        Attribute::Direction(_) => 0,
        Attribute::Mid(_) => 1,
        Attribute::Setup(_) => 2,
        Attribute::IceUfrag(_) => 3,
        Attribute::IcePwd(_) => 4,
        Attribute::Ptime(_) => 5,
        Attribute::MaxPtime(_) => 6,
        Attribute::Rtcp(_) => 7,
        _ => return None,
    })
}

/// Per-section bookkeeping of the validator.
#[derive(Default)]
struct Section<'a> {
    attributes: usize,
    lines: usize,
    information: bool,
    key: bool,
    rtpmap_pts: u128,
    singletons: [Option<Attribute<'a>>; SINGLETONS],
}

impl Section<'_> {
    /// The section's direction attribute, if it had one.
    fn direction(&self) -> Option<Direction> {
        match self.singletons[0] {
            Some(Attribute::Direction(d)) => Some(d),
            _ => None,
        }
    }
}

/// The one validating pass.
///
/// Structure is enforced per RFC 8866 §5 where order carries meaning, and relaxed where it
/// does not:
/// - `v=0` must be the first line; `o=` and `s=` must appear in the session section.
/// - Session-only lines (`v o s u e p t r z`) inside a media section are rejected
///   ([`ErrorKind::SdpLineOrder`]): after `m=` they cannot be attributed to anything. This is
///   what rejects `m=` before `t=`.
/// - `r=` must directly follow a `t=` or `r=` line (it belongs to the `t=` before it).
/// - Lines that may appear once per section (`o s i u z k`, session `c=`) are rejected when
///   repeated ([`ErrorKind::SdpDuplicateLine`]).
/// - Otherwise the order within a section is not checked: carriers reorder `c=`, `b=` and
///   `t=`, and the meaning is unambiguous.
/// - Unknown type letters are rejected: RFC 8866 §5 says a parser "MUST completely ignore
///   any session description that contains a type letter that it does not understand".
/// - A missing `t=` is accepted and reads as `t=0 0`.
struct Validator<'a> {
    text: &'a str,
    limits: Limits,
}

impl<'a> Validator<'a> {
    fn new(text: &'a str, limits: &Limits) -> Self {
        Validator {
            text,
            limits: *limits,
        }
    }

    fn run(self) -> Result<SessionDescription<'a>, Fail> {
        let text = self.text;
        let mut lines = RawLines::new(text);
        let first = match lines.next() {
            Some(l) => l,
            None => return fail(ErrorKind::SdpMissingVersion, text),
        };
        let (letter, value) = shape(first)?;
        if letter != b'v' {
            return fail(ErrorKind::SdpMissingVersion, first.text);
        }
        // RFC 8866 §5.1: "v=0"; there is no other version.
        if value.trim_end() != "0" {
            return fail(ErrorKind::SdpVersion, value);
        }

        let mut origin = None;
        let mut name = None;
        let mut information = None;
        let mut uri = None;
        let mut connection = None;
        let mut key = None;
        let mut zones = None;
        let mut prev = b'v';
        let mut section = Section::default();
        let mut session_direction = None;
        let mut session_end = text.len();
        let mut media_count = 0usize;
        let mut in_media = false;
        let end_of = |l: &RawLine<'a>| &l.text[..0];

        for line in lines {
            let (letter, value) = shape(line)?;
            let here = line.text;
            if letter == b'm' {
                if !in_media {
                    session_direction = section.direction();
                    check_required(origin.is_some(), name.is_some(), end_of(&line))?;
                    session_end = line.offset;
                    in_media = true;
                }
                media_count += 1;
                if media_count > self.limits.max_media {
                    return fail(ErrorKind::SdpTooManyMedia, here);
                }
                super::fields::MediaLine::parse_inner(value, self.limits.max_formats)?;
                section = Section::default();
                prev = letter;
                continue;
            }
            match (in_media, letter) {
                (_, b'v') => return fail(ErrorKind::SdpDuplicateLine, here),
                (false, b'o') => {
                    once(origin.is_some(), here)?;
                    origin = Some(Origin::parse_inner(value)?);
                }
                (false, b's') => {
                    once(name.is_some(), here)?;
                    name = Some(value);
                }
                (_, b'i') => {
                    once(section.information, here)?;
                    section.information = true;
                    if !in_media {
                        information = Some(value);
                    }
                }
                (false, b'u') => {
                    once(uri.is_some(), here)?;
                    uri = Some(value);
                }
                (false, b'e' | b'p') => self.count_line(&mut section, here)?,
                (false, b'c') => {
                    once(connection.is_some(), here)?;
                    connection = Some(Connection::parse_inner(value)?);
                }
                (true, b'c') => {
                    self.count_line(&mut section, here)?;
                    Connection::parse_inner(value)?;
                }
                (_, b'b') => {
                    self.count_line(&mut section, here)?;
                    Bandwidth::parse_inner(value)?;
                }
                (false, b't') => {
                    self.count_line(&mut section, here)?;
                    Timing::parse_inner(value)?;
                }
                (false, b'r') => {
                    if prev != b't' && prev != b'r' {
                        return fail(ErrorKind::SdpLineOrder, here);
                    }
                    self.count_line(&mut section, here)?;
                    Repeat::parse_inner(value)?;
                }
                (false, b'z') => {
                    once(zones.is_some(), here)?;
                    zones = Some(TimeZones::parse_inner(value)?);
                }
                (_, b'k') => {
                    once(section.key, here)?;
                    section.key = true;
                    let k = Key::parse_inner(value)?;
                    if !in_media {
                        key = Some(k);
                    }
                }
                (_, b'a') => self.attribute(&mut section, value, here)?,
                (true, b'o' | b's' | b'u' | b'e' | b'p' | b't' | b'r' | b'z') => {
                    return fail(ErrorKind::SdpLineOrder, here);
                }
                _ => return fail(ErrorKind::SdpUnknownLineType, here),
            }
            prev = letter;
        }
        if !in_media {
            session_direction = section.direction();
            check_required(origin.is_some(), name.is_some(), &text[text.len()..])?;
        }
        let (Some(origin), Some(name)) = (origin, name) else {
            // check_required above already failed in this case.
            return fail(ErrorKind::SdpMissingOrigin, &text[text.len()..]);
        };
        Ok(SessionDescription {
            text,
            session: &text[..session_end],
            media: &text[session_end..],
            media_count,
            origin,
            name,
            information,
            uri,
            connection,
            key,
            zones,
            direction: session_direction,
        })
    }

    fn count_line(&self, section: &mut Section<'a>, here: &'a str) -> Result<(), Fail> {
        section.lines += 1;
        if section.lines > self.limits.max_lines {
            return fail(ErrorKind::SdpTooManyLines, here);
        }
        Ok(())
    }

    fn attribute(
        &self,
        section: &mut Section<'a>,
        value: &'a str,
        here: &'a str,
    ) -> Result<(), Fail> {
        section.attributes += 1;
        if section.attributes > self.limits.max_attributes {
            return fail(ErrorKind::SdpTooManyAttributes, here);
        }
        let attr = Attribute::parse_inner(value)?;
        if let Attribute::Rtpmap(m) = attr {
            // Two mappings for one payload type cannot both hold.
            let bit = 1u128 << m.payload_type;
            if section.rtpmap_pts & bit != 0 {
                return fail(ErrorKind::SdpDuplicateAttribute, here);
            }
            section.rtpmap_pts |= bit;
        }
        if let Some(slot) = singleton_slot(&attr) {
            match section.singletons[slot] {
                None => section.singletons[slot] = Some(attr),
                Some(prev) if prev == attr => {}
                Some(_) => return fail(ErrorKind::SdpDuplicateAttribute, here),
            }
        }
        Ok(())
    }
}

fn once(seen: bool, here: &str) -> Result<(), Fail> {
    if seen {
        fail(ErrorKind::SdpDuplicateLine, here)
    } else {
        Ok(())
    }
}

fn check_required(origin: bool, name: bool, at: &str) -> Result<(), Fail> {
    if !origin {
        return fail(ErrorKind::SdpMissingOrigin, at);
    }
    if !name {
        return fail(ErrorKind::SdpMissingSessionName, at);
    }
    Ok(())
}

/// Checks `<type>=<value>`: one lower-case letter, `=`, and no CR or NUL inside the value
/// (RFC 8866 §9 `text` excludes NUL, CR and LF; LF already split the lines).
fn shape(line: RawLine<'_>) -> Result<(u8, &str), Fail> {
    let b = line.text.as_bytes();
    if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
        return fail(ErrorKind::SdpLine, line.text);
    }
    if let Some(i) = memchr::memchr2(b'\r', 0, b) {
        return fail(ErrorKind::SdpLine, &line.text[i..]);
    }
    Ok((b[0], line.value()))
}
