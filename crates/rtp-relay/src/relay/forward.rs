//! The per-packet path: one leg's state, latching, and forwarding of RTP and RTCP.
//!
//! Nothing here allocates: the datagram is parsed in place, state is plain fields, and
//! events go to a queue whose capacity is reserved up front.

use std::net::SocketAddr;
use std::time::Instant;

use super::rewrite::{Rewriter, RtcpMap};
use super::{
    Action, CallHandle, DropReason, Event, Events, Latching, LegConfig, PayloadTypes, Relatch,
    Side, SocketId, StreamKind, Transmit,
};
use crate::dtmf::DtmfReceiver;
use crate::rtcp::{self, PT_BYE, RtcpCompound, RtcpView};
use crate::rtp::{RtpLayout, read_u32};
use crate::stats::{LegStats, SourceStats, instant_to_units};

#[derive(Debug)]
pub(super) struct Leg {
    pub(super) rtp_socket: SocketId,
    pub(super) rtcp_socket: Option<SocketId>,
    pub(super) remote_rtp: Option<SocketAddr>,
    pub(super) remote_rtcp: Option<SocketAddr>,
    pub(super) latching: Latching,
    pub(super) accept: PayloadTypes,
    pub(super) clock_rate: u32,
    pub(super) telephone_event: Option<u8>,
    pub(super) reduced_size_rtcp: bool,
    pub(super) watch_media: bool,
    pub(super) rtp_peer: Option<SocketAddr>,
    pub(super) rtcp_peer: Option<SocketAddr>,
    pub(super) last_rtp: Option<Instant>,
    pub(super) last_rtcp: Option<Instant>,
    pub(super) stats: LegStats,
    pub(super) source: Option<SourceStats>,
    pub(super) earlier_expected: u64,
    pub(super) earlier_lost: i64,
    pub(super) dtmf: Option<DtmfReceiver>,
    /// Rewriting of the stream sent out of this leg.
    pub(super) out: Rewriter,
    /// Forwarding out of this leg is paused (packets the caller injects still go).
    pub(super) muted: bool,
}

impl Leg {
    pub(super) fn new(cfg: &LegConfig) -> Self {
        Self {
            rtp_socket: cfg.rtp_socket,
            rtcp_socket: cfg.rtcp_socket,
            remote_rtp: usable(cfg.remote_rtp),
            remote_rtcp: usable(cfg.remote_rtcp),
            latching: cfg.latching,
            accept: cfg.accept,
            clock_rate: cfg.clock_rate,
            telephone_event: cfg.telephone_event,
            reduced_size_rtcp: cfg.reduced_size_rtcp,
            watch_media: cfg.watch_media,
            rtp_peer: None,
            rtcp_peer: None,
            last_rtp: None,
            last_rtcp: None,
            stats: LegStats {
                clock_rate: cfg.clock_rate,
                ..LegStats::default()
            },
            source: None,
            earlier_expected: 0,
            earlier_lost: 0,
            dtmf: cfg.telephone_event.map(|_| DtmfReceiver::new()),
            out: Rewriter::new(cfg.rewrite, &cfg.payload_type_map),
            muted: false,
        }
    }

    pub(super) fn rtp_destination(&self) -> Option<SocketAddr> {
        match self.latching {
            Latching::Off => self.remote_rtp,
            Latching::On(_) => self.rtp_peer.or(self.remote_rtp),
        }
    }

    pub(super) fn rtcp_destination(&self) -> Option<(SocketId, SocketAddr)> {
        let Some(sock) = self.rtcp_socket else {
            return Some((self.rtp_socket, self.rtp_destination()?));
        };
        let latched = match self.latching {
            Latching::Off => None,
            Latching::On(_) => self.rtcp_peer,
        };
        let addr = latched.or(self.remote_rtcp).or_else(|| {
            // RFC 3550 §11: without other signalling, RTCP uses the next higher port.
            let rtp = self.rtp_destination()?;
            let port = rtp.port().checked_add(1)?;
            Some(SocketAddr::new(rtp.ip(), port))
        })?;
        Some((sock, addr))
    }

    pub(super) fn snapshot(&self) -> LegStats {
        let mut s = self.stats;
        s.expected = self.earlier_expected;
        s.lost = self.earlier_lost;
        if let Some(src) = &self.source {
            s.expected += src.expected();
            s.lost += src.lost();
            s.jitter = src.jitter();
        }
        s
    }
}

/// An SDP address the relay can send to: port 0 rejects the stream (RFC 3264 §6) and the
/// unspecified address `0.0.0.0` is the old hold convention (RFC 3264 §8.4, RFC 2543);
/// neither is a destination.
pub(super) fn usable(addr: Option<SocketAddr>) -> Option<SocketAddr> {
    addr.filter(|a| a.port() != 0 && !a.ip().is_unspecified())
}

/// Per-datagram context.
pub(super) struct Ctx {
    pub(super) now: Instant,
    pub(super) epoch: Instant,
    pub(super) call: CallHandle,
    pub(super) side: Side,
    pub(super) from: SocketAddr,
}

enum Admit {
    Accept,
    Latch(Option<SocketAddr>),
    Reject,
}

fn admit(
    latching: Latching,
    peer: Option<SocketAddr>,
    last: Option<Instant>,
    now: Instant,
    from: SocketAddr,
) -> Admit {
    let Latching::On(policy) = latching else {
        return Admit::Accept;
    };
    match peer {
        None => Admit::Latch(None),
        Some(p) if p == from => Admit::Accept,
        Some(p) => match policy {
            Relatch::Never => Admit::Reject,
            Relatch::Always => Admit::Latch(Some(p)),
            Relatch::AfterSilence(d) => {
                if last.is_none_or(|t| now.saturating_duration_since(t) >= d) {
                    Admit::Latch(Some(p))
                } else {
                    Admit::Reject
                }
            }
        },
    }
}

pub(super) fn forward_rtp(
    ctx: &Ctx,
    inn: &mut Leg,
    out: &mut Leg,
    packet: &mut [u8],
    events: &mut Events,
) -> Action {
    let layout = match RtpLayout::parse(packet) {
        Ok(l) => l,
        Err(e) => {
            inn.stats.dropped_invalid += 1;
            return Action::Drop(DropReason::InvalidRtp(e));
        }
    };
    let pt = packet[1] & 0x7f;
    if !inn.accept.contains(pt) {
        inn.stats.dropped_payload_type += 1;
        return Action::Drop(DropReason::PayloadType(pt));
    }
    match admit(inn.latching, inn.rtp_peer, inn.last_rtp, ctx.now, ctx.from) {
        Admit::Accept => {}
        Admit::Latch(previous) => {
            inn.rtp_peer = Some(ctx.from);
            events.push(Event::Latched {
                call: ctx.call,
                side: ctx.side,
                stream: StreamKind::Rtp,
                address: ctx.from,
                previous,
            });
        }
        Admit::Reject => {
            inn.stats.dropped_source += 1;
            return Action::Drop(DropReason::WrongSource);
        }
    }
    if inn.last_rtp.is_none() {
        events.push(Event::MediaStarted {
            call: ctx.call,
            side: ctx.side,
        });
    }
    inn.last_rtp = Some(ctx.now);
    inn.stats.rtp_packets += 1;
    inn.stats.rtp_bytes += packet.len() as u64;

    let seq = u16::from_be_bytes([packet[2], packet[3]]);
    let ts = read_u32(packet, 4);
    let ssrc = read_u32(packet, 8);
    let src = match &mut inn.source {
        Some(s) if s.ssrc() == ssrc => s,
        slot => {
            if let Some(old) = slot.take() {
                inn.earlier_expected += old.expected();
                inn.earlier_lost += old.lost();
                inn.stats.source_changes += 1;
                // A new source has its own timestamp space (RFC 3550 §5.1: random initial
                // value); DTMF history from the old one would make its events look stale.
                if let Some(rx) = &mut inn.dtmf {
                    rx.reset();
                    while let Some(event) = rx.poll_event() {
                        events.push(Event::Dtmf {
                            call: ctx.call,
                            side: ctx.side,
                            event,
                        });
                    }
                }
            }
            slot.insert(SourceStats::new(ssrc, seq))
        }
    };
    src.update_seq(seq);
    if inn.telephone_event == Some(pt) {
        // Telephone-events carry the event onset as timestamp (RFC 4733 §2.3.3), which
        // would distort the audio jitter; they feed the DTMF receiver instead.
        if let Some(rx) = &mut inn.dtmf {
            let marker = packet[1] & 0x80 != 0;
            let payload = &packet[layout.payload_start..layout.payload_end];
            if rx.handle_payload(marker, ts, payload).is_ok() {
                while let Some(event) = rx.poll_event() {
                    events.push(Event::Dtmf {
                        call: ctx.call,
                        side: ctx.side,
                        event,
                    });
                }
            }
        }
    } else {
        src.update_jitter(instant_to_units(ctx.epoch, ctx.now, inn.clock_rate), ts);
    }

    let Some(destination) = out.rtp_destination() else {
        inn.stats.dropped_no_destination += 1;
        return Action::Drop(DropReason::NoDestination);
    };
    let change = if out.muted {
        out.out.skip(ctx.now, packet, inn.clock_rate)
    } else {
        out.out.apply(ctx.now, packet, inn.clock_rate)
    };
    if let Some((previous_ssrc, ssrc)) = change {
        events.push(Event::SourceChanged {
            call: ctx.call,
            side: ctx.side.other(),
            previous_ssrc,
            ssrc,
        });
    }
    if out.muted {
        return Action::Drop(DropReason::Muted);
    }
    inn.stats.forwarded += 1;
    Action::Send(Transmit {
        socket: out.rtp_socket,
        destination,
    })
}

pub(super) fn forward_rtcp(
    ctx: &Ctx,
    arrived_on: StreamKind,
    inn: &mut Leg,
    out: &mut Leg,
    packet: &mut [u8],
    events: &mut Events,
) -> Action {
    let parsed = if inn.reduced_size_rtcp {
        RtcpCompound::parse_reduced_size(packet)
    } else {
        RtcpCompound::parse(packet)
    };
    let compound = match parsed {
        Ok(c) => c,
        Err(e) => {
            inn.stats.dropped_invalid += 1;
            return Action::Drop(DropReason::InvalidRtcp(e));
        }
    };
    let mut bye = false;
    let mut report = None;
    let ours = inn.out.output_ssrc();
    for p in compound.packets() {
        bye |= p.packet_type() == PT_BYE;
        // RFC 3550 §6.4: the peer's reception report about the stream the relay sends it
        // tells what the far end hears; keep the latest for metrics.
        let blocks = match p.view() {
            Ok(RtcpView::SenderReport(sr)) => {
                sr.reports().find(|b| ours.is_none_or(|s| s == b.ssrc))
            }
            Ok(RtcpView::ReceiverReport(rr)) => {
                rr.reports().find(|b| ours.is_none_or(|s| s == b.ssrc))
            }
            _ => None,
        };
        report = blocks.or(report);
    }
    if inn.rtcp_socket.is_none() || arrived_on == StreamKind::Rtp {
        // Under rtcp-mux RTCP does not latch by itself (RFC 5761 §4: same 5-tuple as RTP);
        // it must come from the RTP peer unless that peer may be replaced at any time.
        if let (Latching::On(policy), Some(peer)) = (inn.latching, inn.rtp_peer) {
            if peer != ctx.from && policy != Relatch::Always {
                inn.stats.dropped_source += 1;
                return Action::Drop(DropReason::WrongSource);
            }
        }
    } else {
        match admit(
            inn.latching,
            inn.rtcp_peer,
            inn.last_rtcp,
            ctx.now,
            ctx.from,
        ) {
            Admit::Accept => {}
            Admit::Latch(previous) => {
                inn.rtcp_peer = Some(ctx.from);
                events.push(Event::Latched {
                    call: ctx.call,
                    side: ctx.side,
                    stream: StreamKind::Rtcp,
                    address: ctx.from,
                    previous,
                });
            }
            Admit::Reject => {
                inn.stats.dropped_source += 1;
                return Action::Drop(DropReason::WrongSource);
            }
        }
    }
    inn.last_rtcp = Some(ctx.now);
    inn.stats.rtcp_packets += 1;
    inn.stats.rtcp_bytes += packet.len() as u64;
    if report.is_some() {
        inn.stats.peer_report = report;
    }
    if bye {
        events.push(Event::RtcpBye {
            call: ctx.call,
            side: ctx.side,
        });
    }
    let Some((socket, destination)) = out.rtcp_destination() else {
        inn.stats.dropped_no_destination += 1;
        return Action::Drop(DropReason::NoDestination);
    };
    let map = RtcpMap {
        forward: &out.out,
        reverse: &inn.out,
    };
    if !map.is_identity() {
        rtcp::translate_in_place(packet, &map);
    }
    inn.stats.forwarded += 1;
    Action::Send(Transmit {
        socket,
        destination,
    })
}
