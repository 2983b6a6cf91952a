//! Media sections (`m=` and the lines after it, RFC 8866 §5.14) and the offer/answer
//! conveniences built on them.

use core::time::Duration;

use super::attr::{Attribute, Direction, IceOptions, Setup};
use super::fields::{Bandwidth, Connection, Key, MediaLine, MediaType, Proto};
use super::ice::Candidate;
use super::lex::{RawLines, Tokens};
use super::rtp::{Codec, Fmtp, Rtcp, Rtpmap, static_payload_type};
use super::security::{Crypto, Fingerprint};
use super::session::{Attributes, named, values};

/// One media section: a borrowed view of the `m=` line and the lines up to the next `m=`.
#[derive(Debug, Clone, Copy)]
pub struct Media<'a> {
    text: &'a str,
    offset: usize,
    line: MediaLine<'a>,
    information: Option<&'a str>,
    key: Option<Key<'a>>,
    connection: Option<Connection<'a>>,
    direction: Option<Direction>,
    session: &'a str,
    session_connection: Option<Connection<'a>>,
    session_direction: Option<Direction>,
}

impl<'a> Media<'a> {
    /// The section text, starting with its `m=` line.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// Byte offset of the section's `m=` line in the SDP body.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The `m=` line.
    pub fn media_line(&self) -> MediaLine<'a> {
        self.line
    }

    /// Media type.
    pub fn kind(&self) -> MediaType<'a> {
        self.line.media
    }

    /// Port; 0 means the stream is rejected or disabled (RFC 3264 §6).
    pub fn port(&self) -> u16 {
        self.line.port
    }

    /// Transport protocol.
    pub fn proto(&self) -> Proto<'a> {
        self.line.proto
    }

    /// Formats in order of preference.
    pub fn formats(&self) -> Tokens<'a> {
        self.line.formats()
    }

    /// RTP payload types in order of preference.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + use<'a> {
        self.line.payload_types()
    }

    /// Media-level `i=`.
    pub fn information(&self) -> Option<&'a str> {
        self.information
    }

    /// Media-level `k=`.
    pub fn key(&self) -> Option<Key<'a>> {
        self.key
    }

    /// Media-level `c=` lines (more than one only for layered multicast).
    pub fn connections(&self) -> impl Iterator<Item = Connection<'a>> + use<'a> {
        values(self.text, b'c').filter_map(|v| Connection::parse_inner(v).ok())
    }

    /// The connection that applies: the first media-level `c=`, else the session-level one
    /// (RFC 8866 §5.7). `None` only if the body has neither, which RFC 8866 forbids but which
    /// is accepted for rejected (`port 0`) streams.
    pub fn connection(&self) -> Option<Connection<'a>> {
        self.connection.or(self.session_connection)
    }

    /// Media-level `b=` lines.
    pub fn bandwidths(&self) -> impl Iterator<Item = Bandwidth<'a>> + use<'a> {
        values(self.text, b'b').filter_map(|v| Bandwidth::parse_inner(v).ok())
    }

    /// Media-level `a=` lines in order.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes::new(self.text)
    }

    /// The direction that applies: the media-level attribute, else the session-level one,
    /// else `sendrecv` (RFC 8866 §6.7: "If none of the attributes … is present, then the
    /// default … is "sendrecv"").
    pub fn direction(&self) -> Direction {
        self.direction
            .or(self.session_direction)
            .unwrap_or(Direction::SendRecv)
    }

    /// The `rtpmap` for payload type `pt`.
    pub fn rtpmap(&self, pt: u8) -> Option<Rtpmap<'a>> {
        named(self.text, "rtpmap").find_map(|a| match a {
            Attribute::Rtpmap(m) if m.payload_type == pt => Some(m),
            _ => None,
        })
    }

    /// The first `fmtp` for format `format` (a payload type written as decimal, or a token).
    pub fn fmtp(&self, format: &str) -> Option<Fmtp<'a>> {
        named(self.text, "fmtp").find_map(|a| match a {
            Attribute::Fmtp(f) if f.format == format => Some(f),
            _ => None,
        })
    }

    /// The codec of payload type `pt`: its `rtpmap`, else the RFC 3551 static assignment.
    /// `None` for a dynamic payload type without `rtpmap`.
    pub fn codec(&self, pt: u8) -> Option<Codec<'a>> {
        let fmtp = named(self.text, "fmtp").find_map(|a| match a {
            Attribute::Fmtp(f) if f.payload_type() == Some(pt) => Some(f),
            _ => None,
        });
        if let Some(m) = self.rtpmap(pt) {
            return Some(Codec {
                payload_type: pt,
                encoding: m.encoding,
                clock_rate: m.clock_rate,
                channels: m.channels,
                fmtp,
                is_static: false,
            });
        }
        static_payload_type(pt).map(|(encoding, clock_rate, channels)| Codec {
            payload_type: pt,
            encoding,
            clock_rate,
            channels,
            fmtp,
            is_static: true,
        })
    }

    /// The codecs in `m=` order. Payload types that resolve to no codec (dynamic, without
    /// `rtpmap`) are skipped; [`Media::payload_types`] lists them all.
    pub fn codecs(&self) -> impl Iterator<Item = Codec<'a>> + use<'a> {
        let this = *self;
        self.payload_types().filter_map(move |pt| this.codec(pt))
    }

    /// The first RFC 4733 `telephone-event` codec (DTMF), preferring one at `clock_rate`.
    pub fn telephone_event(&self, clock_rate: u32) -> Option<Codec<'a>> {
        let mut first = None;
        for c in self.codecs().filter(Codec::is_telephone_event) {
            if c.clock_rate == clock_rate {
                return Some(c);
            }
            first.get_or_insert(c);
        }
        first
    }

    /// `a=ptime`.
    pub fn ptime(&self) -> Option<Duration> {
        named(self.text, "ptime").find_map(|a| match a {
            Attribute::Ptime(d) => Some(d),
            _ => None,
        })
    }

    /// `a=maxptime`.
    pub fn maxptime(&self) -> Option<Duration> {
        named(self.text, "maxptime").find_map(|a| match a {
            Attribute::MaxPtime(d) => Some(d),
            _ => None,
        })
    }

    /// `a=rtcp`.
    pub fn rtcp(&self) -> Option<Rtcp<'a>> {
        named(self.text, "rtcp").find_map(|a| match a {
            Attribute::Rtcp(r) => Some(r),
            _ => None,
        })
    }

    /// Whether `a=rtcp-mux` is present (RFC 5761 §5.1.1).
    pub fn rtcp_mux(&self) -> bool {
        named(self.text, "rtcp-mux").next().is_some()
    }

    /// `a=mid`.
    pub fn mid(&self) -> Option<&'a str> {
        named(self.text, "mid").find_map(|a| match a {
            Attribute::Mid(m) => Some(m),
            _ => None,
        })
    }

    /// `a=crypto` lines in order of preference.
    pub fn crypto(&self) -> impl Iterator<Item = Crypto<'a>> + use<'a> {
        named(self.text, "crypto").filter_map(|a| match a {
            Attribute::Crypto(c) => Some(c),
            _ => None,
        })
    }

    /// `a=candidate` lines.
    pub fn candidates(&self) -> impl Iterator<Item = Candidate<'a>> + use<'a> {
        named(self.text, "candidate").filter_map(|a| match a {
            Attribute::Candidate(c) => Some(c),
            _ => None,
        })
    }

    /// Whether `a=end-of-candidates` is present.
    pub fn end_of_candidates(&self) -> bool {
        named(self.text, "end-of-candidates").next().is_some()
            || named(self.session, "end-of-candidates").next().is_some()
    }

    /// `a=ice-ufrag`, media-level else session-level (RFC 8839 §5.4).
    pub fn ice_ufrag(&self) -> Option<&'a str> {
        self.inherited("ice-ufrag", |a| match a {
            Attribute::IceUfrag(u) => Some(u),
            _ => None,
        })
    }

    /// `a=ice-pwd`, media-level else session-level (RFC 8839 §5.4).
    pub fn ice_pwd(&self) -> Option<&'a str> {
        self.inherited("ice-pwd", |a| match a {
            Attribute::IcePwd(p) => Some(p),
            _ => None,
        })
    }

    /// `a=ice-options`, media-level else session-level (RFC 8839 §5.6).
    pub fn ice_options(&self) -> Option<IceOptions<'a>> {
        self.inherited("ice-options", |a| match a {
            Attribute::IceOptions(o) => Some(o),
            _ => None,
        })
    }

    /// `a=setup`, media-level else session-level (RFC 4145 §4).
    pub fn setup(&self) -> Option<Setup> {
        self.inherited("setup", |a| match a {
            Attribute::Setup(s) => Some(s),
            _ => None,
        })
    }

    /// `a=fingerprint` lines: the media-level ones, or the session-level ones when the section
    /// has none (RFC 8122 §5).
    pub fn fingerprints(&self) -> impl Iterator<Item = Fingerprint<'a>> + use<'a> {
        let pick = |a: Attribute<'a>| match a {
            Attribute::Fingerprint(f) => Some(f),
            _ => None,
        };
        let source = if named(self.text, "fingerprint").next().is_some() {
            self.text
        } else {
            self.session
        };
        named(source, "fingerprint").filter_map(pick)
    }

    /// The media-level attribute `name`, else the session-level one.
    fn inherited<T>(
        &self,
        name: &'static str,
        pick: impl Fn(Attribute<'a>) -> Option<T>,
    ) -> Option<T> {
        named(self.text, name)
            .find_map(&pick)
            .or_else(|| named(self.session, name).find_map(&pick))
    }
}

/// Iterator over the media sections of a [`super::SessionDescription`].
#[derive(Debug, Clone)]
pub struct MediaIter<'a> {
    rest: &'a str,
    offset: usize,
    session: &'a str,
    session_connection: Option<Connection<'a>>,
    session_direction: Option<Direction>,
}

impl<'a> MediaIter<'a> {
    pub(crate) fn new(
        media: &'a str,
        offset: usize,
        session: &'a str,
        session_connection: Option<Connection<'a>>,
        session_direction: Option<Direction>,
    ) -> Self {
        MediaIter {
            rest: media,
            offset,
            session,
            session_connection,
            session_direction,
        }
    }

    fn section(&self, text: &'a str, offset: usize) -> Option<Media<'a>> {
        let mut lines = RawLines::new(text);
        let first = lines.next()?;
        let line = match MediaLine::parse_inner(first.value(), usize::MAX) {
            Ok(l) => l,
            Err(_) => {
                debug_assert!(false, "validated m= line failed to parse");
                return None;
            }
        };
        let mut media = Media {
            text,
            offset,
            line,
            information: None,
            key: None,
            connection: None,
            direction: None,
            session: self.session,
            session_connection: self.session_connection,
            session_direction: self.session_direction,
        };
        for l in lines {
            match l.letter() {
                b'i' => media.information = Some(l.value()),
                b'k' => media.key = Key::parse_inner(l.value()).ok(),
                b'c' if media.connection.is_none() => {
                    media.connection = Connection::parse_inner(l.value()).ok();
                }
                b'a' => {
                    let name = l.value().split(':').next().unwrap_or("");
                    if let Some(d) = Direction::from_name(name) {
                        media.direction.get_or_insert(d);
                    }
                }
                _ => {}
            }
        }
        Some(media)
    }
}

impl<'a> Iterator for MediaIter<'a> {
    type Item = Media<'a>;

    fn next(&mut self) -> Option<Media<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        // Every section starts at the beginning of a line with `m=`; the next one starts
        // right after a LF. Lines cannot contain LF, so this finds exactly the next section.
        let end =
            memchr::memmem::find(self.rest.as_bytes(), b"\nm=").map_or(self.rest.len(), |i| i + 1);
        let (text, rest) = self.rest.split_at(end);
        let offset = self.offset;
        self.rest = rest;
        self.offset += end;
        self.section(text, offset)
    }
}
