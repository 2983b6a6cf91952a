//! Writing SDP: [`SdpBuilder`] and [`MediaBuilder`] hold a description (lists owned, strings
//! borrowed) and write it into a reusable [`BytesMut`] in the canonical order of RFC 8866 §5.

use core::fmt::{self, Write as _};
use core::time::Duration;

use bytes::BytesMut;

use super::attr::{Attribute, Direction, Setup};
use super::fields::{
    Bandwidth, Connection, Key, MediaType, Origin, Proto, Repeat, TimeZones, Timing,
};
use super::media::Media;
use super::rtp::{Fmtp, Rtcp, Rtpmap};
use super::security::Fingerprint;
use super::session::SessionDescription;

/// One entry of an `m=` format list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format<'a> {
    /// An RTP payload type.
    Payload(u8),
    /// Any other format token (`t38`, `webrtc-datachannel`, …).
    Token(&'a str),
}

impl fmt::Display for Format<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Payload(pt) => write!(f, "{pt}"),
            Format::Token(t) => f.write_str(t),
        }
    }
}

/// A session description to write.
///
/// Fields are public so an answer can be derived from a parsed offer and edited;
/// [`SdpBuilder::write`] emits them in the order RFC 8866 §5 prescribes
/// (`v o s i u e p c b t r z k a`, then each media section `m i c b k a`) whatever order they
/// were filled in. Strings are written as given except that CR, LF and NUL are dropped, so no
/// value can inject a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpBuilder<'a> {
    /// `o=`. Bump `session_version` for every changed offer (RFC 3264 §8).
    pub origin: Origin<'a>,
    /// `s=`; an empty name is written as `s=-`.
    pub name: &'a str,
    /// `i=`.
    pub information: Option<&'a str>,
    /// `u=`.
    pub uri: Option<&'a str>,
    /// `e=` lines.
    pub emails: Vec<&'a str>,
    /// `p=` lines.
    pub phones: Vec<&'a str>,
    /// Session-level `c=`.
    pub connection: Option<Connection<'a>>,
    /// Session-level `b=` lines.
    pub bandwidths: Vec<Bandwidth<'a>>,
    /// `t=` lines with their `r=` lines; `t=0 0` by default (RFC 3264 §5), and written as such
    /// when emptied, since `t=` is mandatory.
    pub times: Vec<(Timing, Vec<Repeat<'a>>)>,
    /// `z=`.
    pub zones: Option<TimeZones<'a>>,
    /// Session-level `k=`.
    pub key: Option<Key<'a>>,
    /// Session-level `a=` lines.
    pub attributes: Vec<Attribute<'a>>,
    /// Media sections.
    pub media: Vec<MediaBuilder<'a>>,
}

impl<'a> SdpBuilder<'a> {
    /// A description with `o=`, `s=` and `t=0 0`.
    pub fn new(origin: Origin<'a>, name: &'a str) -> Self {
        SdpBuilder {
            origin,
            name,
            information: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: None,
            bandwidths: Vec::new(),
            times: vec![(Timing::PERMANENT, Vec::new())],
            zones: None,
            key: None,
            attributes: Vec::new(),
            media: Vec::new(),
        }
    }

    /// Sets the session-level `c=`.
    pub fn connection(mut self, c: Connection<'a>) -> Self {
        self.connection = Some(c);
        self
    }

    /// Adds a session-level `b=`.
    pub fn bandwidth(mut self, b: Bandwidth<'a>) -> Self {
        self.bandwidths.push(b);
        self
    }

    /// Replaces the `t=` lines with the single line `t`.
    pub fn timing(mut self, t: Timing) -> Self {
        self.times.clear();
        self.times.push((t, Vec::new()));
        self
    }

    /// Adds a session-level attribute.
    pub fn attribute(mut self, a: Attribute<'a>) -> Self {
        self.attributes.push(a);
        self
    }

    /// Adds a media section.
    pub fn media(mut self, m: MediaBuilder<'a>) -> Self {
        self.media.push(m);
        self
    }

    /// Appends the SDP to `buf` (which is not cleared, so one buffer can be reused across
    /// messages by the caller clearing it). Lines end with CRLF.
    pub fn write(&self, buf: &mut BytesMut) {
        let mut w = LineWriter { buf };
        // The sink grows as needed and never reports an error.
        let _ = self.write_lines(&mut w);
    }

    /// The SDP as a new buffer.
    pub fn to_bytes(&self) -> BytesMut {
        let mut buf = BytesMut::with_capacity(512);
        self.write(&mut buf);
        buf
    }

    fn write_lines(&self, w: &mut LineWriter<'_>) -> fmt::Result {
        w.line('v', &0)?;
        w.line('o', &self.origin)?;
        w.line('s', &if self.name.is_empty() { "-" } else { self.name })?;
        w.opt('i', self.information)?;
        w.opt('u', self.uri)?;
        for e in &self.emails {
            w.line('e', e)?;
        }
        for p in &self.phones {
            w.line('p', p)?;
        }
        w.opt('c', self.connection)?;
        for b in &self.bandwidths {
            w.line('b', b)?;
        }
        if self.times.is_empty() {
            w.line('t', &Timing::PERMANENT)?;
        }
        for (t, repeats) in &self.times {
            w.line('t', t)?;
            for r in repeats {
                w.line('r', r)?;
            }
        }
        w.opt('z', self.zones)?;
        w.opt('k', self.key)?;
        for a in &self.attributes {
            w.line('a', a)?;
        }
        for m in &self.media {
            m.write_lines(w)?;
        }
        Ok(())
    }
}

impl<'a> From<&SessionDescription<'a>> for SdpBuilder<'a> {
    /// Copies a parsed description's structure (not its strings) for editing or re-writing.
    fn from(sdp: &SessionDescription<'a>) -> Self {
        SdpBuilder {
            origin: sdp.origin(),
            // The writer cannot emit an empty `s=` (RFC 8866 §5.3), so an empty name reads as
            // the conventional `-` here too, keeping parse → write → parse stable.
            name: if sdp.name().is_empty() {
                "-"
            } else {
                sdp.name()
            },
            information: sdp.information(),
            uri: sdp.uri(),
            emails: sdp.emails().collect(),
            phones: sdp.phones().collect(),
            connection: sdp.connection(),
            bandwidths: sdp.bandwidths().collect(),
            times: {
                // A body without `t=` reads as `t=0 0` (see the module documentation).
                let mut times: Vec<_> = sdp
                    .times()
                    .map(|t| (t.timing, t.repeats().collect()))
                    .collect();
                if times.is_empty() {
                    times.push((Timing::PERMANENT, Vec::new()));
                }
                times
            },
            zones: sdp.zones(),
            key: sdp.key(),
            attributes: sdp.attributes().collect(),
            media: sdp.media().map(|m| MediaBuilder::from(&m)).collect(),
        }
    }
}

/// A media section to write; see [`SdpBuilder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaBuilder<'a> {
    /// Media type.
    pub media: MediaType<'a>,
    /// Port (0 to reject the stream in an answer, RFC 3264 §6).
    pub port: u16,
    /// Number of ports.
    pub port_count: Option<u16>,
    /// Transport protocol.
    pub proto: Proto<'a>,
    /// Formats in order of preference.
    pub formats: Vec<Format<'a>>,
    /// `i=`.
    pub information: Option<&'a str>,
    /// `c=` lines.
    pub connections: Vec<Connection<'a>>,
    /// `b=` lines.
    pub bandwidths: Vec<Bandwidth<'a>>,
    /// `k=`.
    pub key: Option<Key<'a>>,
    /// `a=` lines.
    pub attributes: Vec<Attribute<'a>>,
}

impl<'a> MediaBuilder<'a> {
    /// An `m=` line with no formats yet.
    pub fn new(media: MediaType<'a>, port: u16, proto: Proto<'a>) -> Self {
        MediaBuilder {
            media,
            port,
            port_count: None,
            proto,
            formats: Vec::new(),
            information: None,
            connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            attributes: Vec::new(),
        }
    }

    /// Adds an RTP codec: its payload type to the format list and an `a=rtpmap`.
    ///
    /// RFC 8866 §6.6 makes `rtpmap` optional for static payload types, but writing it costs
    /// little and spares peers that misremember the table.
    pub fn codec(
        mut self,
        payload_type: u8,
        encoding: &'a str,
        clock_rate: u32,
        channels: Option<u16>,
    ) -> Self {
        self.formats.push(Format::Payload(payload_type));
        self.attributes.push(Attribute::Rtpmap(Rtpmap {
            payload_type,
            encoding,
            clock_rate,
            channels,
        }));
        self
    }

    /// Adds `a=fmtp:<payload_type> <params>`.
    pub fn fmtp(mut self, payload_type: u8, params: &'a str) -> Self {
        self.attributes.push(Attribute::Fmtp(Fmtp {
            format: pt_str(payload_type),
            params,
        }));
        self
    }

    /// Adds a format that is not an RTP payload type.
    pub fn format(mut self, f: Format<'a>) -> Self {
        self.formats.push(f);
        self
    }

    /// Adds a `c=` line.
    pub fn connection(mut self, c: Connection<'a>) -> Self {
        self.connections.push(c);
        self
    }

    /// Adds a `b=` line.
    pub fn bandwidth(mut self, b: Bandwidth<'a>) -> Self {
        self.bandwidths.push(b);
        self
    }

    /// Adds an attribute.
    pub fn attribute(mut self, a: Attribute<'a>) -> Self {
        self.attributes.push(a);
        self
    }

    /// Adds `a=ptime`.
    pub fn ptime(self, ptime: Duration) -> Self {
        self.attribute(Attribute::Ptime(ptime))
    }

    /// Adds a direction attribute.
    pub fn direction(self, d: Direction) -> Self {
        self.attribute(Attribute::Direction(d))
    }

    /// Adds `a=rtcp:<port>` (RFC 3605), e.g. when RTCP is not on RTP port + 1.
    pub fn rtcp(self, port: u16) -> Self {
        self.attribute(Attribute::Rtcp(Rtcp {
            port,
            address: None,
        }))
    }

    /// Adds `a=rtcp-mux` (RFC 5761 §5.1.1).
    pub fn rtcp_mux(self) -> Self {
        self.attribute(Attribute::RtcpMux)
    }

    /// Adds `a=mid` (RFC 5888).
    pub fn mid(self, mid: &'a str) -> Self {
        self.attribute(Attribute::Mid(mid))
    }

    /// Adds `a=ice-ufrag` and `a=ice-pwd` (RFC 8839 §5.4).
    pub fn ice_credentials(self, ufrag: &'a str, pwd: &'a str) -> Self {
        self.attribute(Attribute::IceUfrag(ufrag))
            .attribute(Attribute::IcePwd(pwd))
    }

    /// Adds `a=fingerprint:<hash> <value>` (RFC 8122 §5); `value` is colon-separated hex.
    pub fn fingerprint(self, hash: &'a str, value: &'a str) -> Self {
        self.attribute(Attribute::Fingerprint(Fingerprint { hash, value }))
    }

    /// Adds `a=setup` (RFC 4145 §4; RFC 5763 §5 for DTLS-SRTP).
    pub fn setup(self, setup: Setup) -> Self {
        self.attribute(Attribute::Setup(setup))
    }

    fn write_lines(&self, w: &mut LineWriter<'_>) -> fmt::Result {
        w.line('m', &MediaLineOut(self))?;
        w.opt('i', self.information)?;
        for c in &self.connections {
            w.line('c', c)?;
        }
        for b in &self.bandwidths {
            w.line('b', b)?;
        }
        w.opt('k', self.key)?;
        for a in &self.attributes {
            w.line('a', a)?;
        }
        Ok(())
    }
}

impl<'a> From<&Media<'a>> for MediaBuilder<'a> {
    fn from(m: &Media<'a>) -> Self {
        let line = m.media_line();
        let rtp = line.proto.is_rtp();
        MediaBuilder {
            media: line.media,
            port: line.port,
            port_count: line.port_count,
            proto: line.proto,
            formats: line
                .formats()
                .map(|f| match f.parse::<u8>() {
                    Ok(pt) if rtp => Format::Payload(pt),
                    _ => Format::Token(f),
                })
                .collect(),
            information: m.information(),
            connections: m.connections().collect(),
            bandwidths: m.bandwidths().collect(),
            key: m.key(),
            attributes: m.attributes().collect(),
        }
    }
}

struct MediaLineOut<'b, 'a>(&'b MediaBuilder<'a>);

impl fmt::Display for MediaLineOut<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(f, "{} {}", m.media.as_str(), m.port)?;
        if let Some(c) = m.port_count {
            write!(f, "/{c}")?;
        }
        write!(f, " {}", m.proto.as_str())?;
        for fmt in &m.formats {
            write!(f, " {fmt}")?;
        }
        Ok(())
    }
}

/// Decimal strings of every payload type, so an `fmtp` built from a `u8` can borrow `'static`.
fn pt_str(pt: u8) -> &'static str {
    const DIGITS: &str = "0123456789";
    const TENS: [&str; 12] = [
        "100", "101", "102", "103", "104", "105", "106", "107", "108", "109", "110", "111",
    ];
    const TEENS: [&str; 16] = [
        "112", "113", "114", "115", "116", "117", "118", "119", "120", "121", "122", "123", "124",
        "125", "126", "127",
    ];
    const TWO: &str = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";
    match pt {
        0..=9 => &DIGITS[pt as usize..pt as usize + 1],
        10..=99 => &TWO[pt as usize * 2..pt as usize * 2 + 2],
        100..=111 => TENS[(pt - 100) as usize],
        _ => TEENS[usize::from(pt.saturating_sub(112)).min(15)],
    }
}

/// Writes `<type>=<value>\r\n`, dropping CR, LF and NUL from values.
struct LineWriter<'b> {
    buf: &'b mut BytesMut,
}

impl LineWriter<'_> {
    fn line(&mut self, letter: char, value: &dyn fmt::Display) -> fmt::Result {
        self.buf.extend_from_slice(&[letter as u8, b'=']);
        write!(self, "{value}")?;
        self.buf.extend_from_slice(b"\r\n");
        Ok(())
    }

    fn opt<T: fmt::Display>(&mut self, letter: char, value: Option<T>) -> fmt::Result {
        match value {
            Some(v) => self.line(letter, &v),
            None => Ok(()),
        }
    }
}

impl fmt::Write for LineWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let bytes = s.as_bytes();
        if memchr::memchr3(b'\r', b'\n', 0, bytes).is_none() {
            self.buf.extend_from_slice(bytes);
        } else {
            for &b in bytes {
                if !matches!(b, b'\r' | b'\n' | 0) {
                    self.buf.extend_from_slice(&[b]);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::pt_str;

    #[test]
    fn pt_str_covers_every_payload_type() {
        for pt in 0..=127u8 {
            assert_eq!(pt_str(pt), pt.to_string());
        }
    }
}
