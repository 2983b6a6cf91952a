//! One WebRTC participant: an `rtc` peer connection, its UDP socket and its session lanes.
//!
//! A [`Peer`] is sans-IO apart from sending: the driver feeds it datagrams, session items
//! and timeouts (`handle_*(now, …)`), then calls [`Peer::flush`], which drains the
//! connection in the order the `rtc` contract asks for (writes → events → reads) and puts
//! every outgoing datagram on the socket without waiting (`try_send_to`; a full socket
//! buffer drops the datagram, as the network would).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rtc::data_channel::RTCDataChannelId;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::event::{RTCDataChannelEvent, RTCPeerConnectionEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::RTCDtlsTransportState;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rtp_relay::dtmf::{DtmfEvent, DtmfReceiver, DtmfSender, DtmfSenderConfig, event_for_digit};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

use crate::error::Error;
use crate::rtp::ROOM_SERVER;
use crate::session::{AudioFrame, CloseReason, FromSession, LinkSide, Outbound, RoomEvent};

use super::dtmf_message;
use super::tracks::Tracks;
use super::turn::TurnRelay;

/// Payload type numbers on the session API and on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PayloadMap {
    /// Audio on the session API.
    pub(super) api_audio: u8,
    /// Audio on the wire (the answer's number; `rtc` only sends negotiated ones).
    pub(super) wire_audio: u8,
    /// RFC 4733 telephone-event on the wire, when negotiated.
    pub(super) wire_te: Option<u8>,
    /// Clock of the telephone-event: the audio's, unless the room accepted the one we
    /// offered for another codec.
    pub(super) te_clock_rate: u32,
    /// RTP clock of the audio codec.
    pub(super) clock_rate: u32,
    /// Frame duration (also the telephone-event update interval).
    pub(super) ptime: Duration,
}

/// Where a peer is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// ICE and DTLS are being established; the join is waiting.
    Connecting,
    /// Media flows.
    Connected,
    /// Over: the driver drops it.
    Ended,
}

/// Everything the driver needs to run one participant.
pub(super) struct Peer {
    pub(super) pc: RTCPeerConnection,
    pub(super) socket: Arc<UdpSocket>,
    /// Our address as written in the candidate (what `rtc` matches arriving datagrams to).
    pub(super) local: SocketAddr,
    pub(super) side: LinkSide,
    pub(super) sender: RTCRtpSenderId,
    pub(super) ssrc: u32,
    pub(super) sequence: u16,
    pub(super) last_timestamp: u32,
    pub(super) map: PayloadMap,
    pub(super) data_channel: Option<RTCDataChannelId>,
    pub(super) data_channel_open: bool,
    pub(super) connected: Option<oneshot::Sender<Result<(), Error>>>,
    /// Dropping it stops the session's feeder task.
    pub(super) _stop_feeder: oneshot::Sender<()>,
    pub(super) dtmf_in: DtmfReceiver,
    pub(super) dtmf_out: Option<DtmfSender>,
    pub(super) phase: Phase,
    /// Outgoing datagrams dropped because the socket buffer was full.
    pub(super) send_drops: u64,
    /// The room's audio streams, passed through or mixed into one.
    pub(super) tracks: Tracks,
    /// `ice_transport_policy = relay`: only the relayed candidate was offered, so what
    /// reaches the socket from anyone but the TURN server is dropped.
    pub(super) relay_only: bool,
    /// The TURN allocation behind our relayed candidate, if one was granted.
    pub(super) turn: Option<TurnRelay>,
    /// Longest the allocation's release may be retransmitted after the peer is gone.
    pub(super) release_timeout: Duration,
}

impl Peer {
    /// A datagram arrived on the peer's socket.
    pub(super) fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: BytesMut) {
        if let Some(turn) = self.turn.as_mut() {
            if turn.is_server(from) {
                turn.handle_read(now, data);
                self.deliver_relayed(now);
                return;
            }
        }
        if self.relay_only {
            return;
        }
        self.read(now, from, data);
    }

    /// Hands what peers sent to the relayed address to the connection, as received there.
    fn deliver_relayed(&mut self, now: Instant) {
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        let relayed = turn.relayed();
        // Bounded: the TURN client's queue is (one event per datagram handed to it).
        while let Some((from, data)) = turn.poll_relayed(now) {
            let msg = TaggedBytesMut {
                now,
                transport: TransportContext {
                    local_addr: relayed,
                    peer_addr: from,
                    ecn: None,
                    transport_protocol: TransportProtocol::UDP,
                },
                message: data,
            };
            if let Err(e) = self.pc.handle_read(msg) {
                tracing::debug!(error = %e, %from, "webrtc room link: relayed datagram refused");
            }
        }
    }

    /// A datagram for our host (or server-reflexive) candidate.
    fn read(&mut self, now: Instant, from: SocketAddr, data: BytesMut) {
        let msg = TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: self.local,
                peer_addr: from,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: data,
        };
        if let Err(e) = self.pc.handle_read(msg) {
            // Garbage from the network must not end a call.
            tracing::debug!(error = %e, %from, "webrtc room link: datagram refused");
        }
    }

    /// Something the gateway sent.
    pub(super) fn handle_from_session(&mut self, now: Instant, item: FromSession) {
        if self.phase != Phase::Connected {
            return;
        }
        match item {
            FromSession::Audio(frame) => self.send_audio(now, &frame),
            FromSession::Command(Outbound::Dtmf { digit, duration }) => {
                self.send_dtmf(now, digit, duration);
            }
        }
    }

    /// A deadline from [`Peer::poll_timeout`] passed.
    pub(super) fn handle_timeout(&mut self, now: Instant) {
        if let Err(e) = self.pc.handle_timeout(now) {
            tracing::debug!(error = %e, "webrtc room link: timeout handling failed");
        }
        if let Some(turn) = self.turn.as_mut() {
            // Retransmissions, allocation and permission refreshes (RFC 8656 §7, §9).
            turn.handle_timeout(now);
        }
        self.deliver_relayed(now);
        self.pump_dtmf(now);
        self.tracks.handle_timeout(now);
        self.deliver_tracks();
    }

    /// The earliest instant the peer wants [`Peer::handle_timeout`].
    pub(super) fn poll_timeout(&mut self) -> Option<Instant> {
        let pc = self.pc.poll_timeout();
        let dtmf = self.dtmf_out.as_ref().and_then(DtmfSender::poll_timeout);
        let turn = self.turn.as_mut().and_then(TurnRelay::poll_timeout);
        [pc, dtmf, self.tracks.poll_timeout(), turn]
            .into_iter()
            .flatten()
            .min()
    }

    /// Drains the connection: datagrams to the socket, state changes, media to the gateway.
    pub(super) fn flush(&mut self, now: Instant) {
        self.send_pending();
        while let Some(event) = self.pc.poll_event() {
            self.on_event(now, event);
        }
        while let Some(TaggedRTCMessage { message, .. }) = self.pc.poll_read() {
            self.on_message(now, message);
        }
        // A room server that hangs up sends a DTLS close_notify, but `rtc` keeps the
        // connection `connected` until ICE times out (WEBRTC_NOTES.md): watch the DTLS
        // transport itself. RFC 6347 §4.2.7 / RFC 5246 §7.2.1: close_notify ends the
        // association.
        if self.phase == Phase::Connected && self.dtls_state() == RTCDtlsTransportState::Closed {
            tracing::info!("webrtc room link: the room closed the DTLS association");
            self.end(Some(CloseReason::RoomClosed));
        }
        self.send_pending();
    }

    /// Closes the connection (DTLS close_notify goes out) and ends the session for the
    /// gateway with `reason` (none when the gateway itself left).
    pub(super) fn close(&mut self, reason: Option<CloseReason>) {
        if let Err(e) = self.pc.close() {
            tracing::debug!(error = %e, "webrtc room link: close failed");
        }
        self.send_pending();
        if let Some(turn) = self.turn.take() {
            turn.release_in_background(self.socket.clone(), self.release_timeout);
        }
        self.end(reason);
    }

    fn end(&mut self, reason: Option<CloseReason>) {
        if self.phase == Phase::Ended {
            return;
        }
        self.phase = Phase::Ended;
        if let Some(tx) = self.connected.take() {
            let _ = tx.send(Err(Error::MediaFailed(
                "the room ended the connection before it was established",
            )));
        }
        self.side.finish(reason.map(RoomEvent::Closed));
    }

    fn dtls_state(&mut self) -> RTCDtlsTransportState {
        self.pc
            .rtp_sender(self.sender)
            .and_then(|s| s.transport().map(|t| t.state()))
            .unwrap_or(RTCDtlsTransportState::New)
    }

    fn send_pending(&mut self) {
        while let Some(out) = self.pc.poll_write() {
            let to = out.transport.peer_addr;
            match self.turn.as_mut() {
                // Written from the relayed candidate: through the TURN server.
                Some(turn) if out.transport.local_addr == turn.relayed() => {
                    turn.send(out.now, to, out.message);
                }
                _ => self.send_datagram(&out.message, to),
            }
        }
        // Bounded: the client queues what the sends above and its timers produced.
        while let Some((to, data)) = self.turn.as_mut().and_then(TurnRelay::poll_transmit) {
            self.send_datagram(&data, to);
        }
    }

    fn send_datagram(&mut self, data: &[u8], to: SocketAddr) {
        match self.socket.try_send_to(data, to) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => self.send_drops += 1,
            Err(e) => {
                tracing::debug!(error = %e, %to, "webrtc room link: send failed");
            }
        }
    }

    fn on_event(&mut self, now: Instant, event: RTCPeerConnectionEvent) {
        match event {
            RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => match state {
                RTCPeerConnectionState::Connected if self.phase == Phase::Connecting => {
                    self.phase = Phase::Connected;
                    if let Some(tx) = self.connected.take() {
                        let _ = tx.send(Ok(()));
                    }
                }
                // RFC 7675 §5.1: consent expiry and ICE failure both end here (the ICE agent
                // moves to failed when checks stop succeeding); a DTLS handshake failure
                // too.
                RTCPeerConnectionState::Failed => {
                    tracing::info!("webrtc room link: ICE/DTLS failed");
                    if let Some(tx) = self.connected.take() {
                        let _ = tx.send(Err(Error::MediaFailed(
                            "ICE or DTLS with the room server failed",
                        )));
                    }
                    self.end(Some(CloseReason::LinkFailed));
                }
                _ => {}
            },
            RTCPeerConnectionEvent::OnDataChannel(RTCDataChannelEvent::OnOpen(id))
                if Some(id) == self.data_channel =>
            {
                self.data_channel_open = true;
            }
            RTCPeerConnectionEvent::OnDataChannel(
                RTCDataChannelEvent::OnClose(id) | RTCDataChannelEvent::OnClosing(id),
            ) if Some(id) == self.data_channel => {
                self.data_channel_open = false;
            }
            _ => {}
        }
        let _ = now;
    }

    fn on_message(&mut self, now: Instant, message: RTCMessage) {
        match message {
            RTCMessage::RtpPacket(_track, packet) => {
                let pt = packet.header.payload_type;
                if Some(pt) == self.map.wire_te {
                    let h = &packet.header;
                    if self
                        .dtmf_in
                        .handle_payload(h.marker, h.timestamp, &packet.payload)
                        .is_ok()
                    {
                        while let Some(ev) = self.dtmf_in.poll_event() {
                            if let (DtmfEvent::Began { .. }, Some(digit)) = (ev, ev.digit()) {
                                let _ = self.side.deliver_event(RoomEvent::Dtmf {
                                    from: ROOM_SERVER,
                                    digit,
                                });
                            }
                        }
                    }
                } else if pt == self.map.wire_audio {
                    let frame = AudioFrame {
                        payload_type: pt,
                        sequence: packet.header.sequence_number,
                        timestamp: packet.header.timestamp,
                        marker: packet.header.marker,
                        payload: packet.payload,
                    };
                    self.tracks.handle_audio(now, packet.header.ssrc, frame);
                    self.deliver_tracks();
                }
            }
            RTCMessage::DataChannelMessage(id, msg) if Some(id) == self.data_channel => {
                if let Some(digit) = dtmf_message::parse(&msg.data) {
                    let _ = self.side.deliver_event(RoomEvent::Dtmf {
                        from: ROOM_SERVER,
                        digit,
                    });
                }
            }
            _ => {}
        }
    }

    fn deliver_tracks(&mut self) {
        while let Some(frame) = self.tracks.poll_frame() {
            let _ = self.side.deliver_audio(frame);
        }
    }

    fn send_audio(&mut self, now: Instant, frame: &AudioFrame) {
        if frame.payload_type != self.map.api_audio {
            // Telephone-events from the gateway go through `send_dtmf`.
            return;
        }
        self.last_timestamp = frame.timestamp;
        self.write_rtp(
            now,
            frame.marker,
            self.map.wire_audio,
            frame.timestamp,
            frame.payload.clone(),
        );
    }

    fn write_rtp(&mut self, now: Instant, marker: bool, pt: u8, timestamp: u32, payload: Bytes) {
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                marker,
                payload_type: pt,
                sequence_number: self.sequence,
                timestamp,
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload,
        };
        self.sequence = self.sequence.wrapping_add(1);
        let Some(mut sender) = self.pc.rtp_sender(self.sender) else {
            return;
        };
        if let Err(e) = sender.write_rtp(now, packet) {
            tracing::debug!(error = %e, "webrtc room link: RTP refused");
        }
    }

    /// RFC 4733 events when the room negotiated telephone-event; else a
    /// data-channel message when one is configured and open; else the digit is dropped (and
    /// logged).
    fn send_dtmf(&mut self, now: Instant, digit: char, duration: Duration) {
        if let (Some(pt), Some(event)) = (self.map.wire_te, event_for_digit(digit)) {
            if self.dtmf_out.is_none() {
                let cfg = DtmfSenderConfig {
                    payload_type: pt,
                    clock_rate: self.map.te_clock_rate,
                    packet_interval: self.map.ptime,
                    ..DtmfSenderConfig::default()
                };
                self.dtmf_out = DtmfSender::new(cfg, now, self.event_timestamp()).ok();
            }
            let timestamp = self.event_timestamp();
            if let Some(s) = self.dtmf_out.as_mut() {
                if !s.is_sending() {
                    s.set_clock(now, timestamp);
                }
                let _ = s.send_event(event, duration);
            }
            self.pump_dtmf(now);
            return;
        }
        if let (Some(id), true) = (self.data_channel, self.data_channel_open) {
            let text = dtmf_message::format(digit, duration);
            if let Some(mut dc) = self.pc.data_channel(id) {
                if let Err(e) = dc.send_text(now, text) {
                    tracing::debug!(error = %e, "webrtc room link: DTMF message refused");
                }
            }
            return;
        }
        tracing::info!(%digit, "webrtc room link: no telephone-event and no data channel; DTMF dropped");
    }

    /// The audio's last timestamp on the telephone-event's clock.
    fn event_timestamp(&self) -> u32 {
        if self.map.te_clock_rate == self.map.clock_rate || self.map.clock_rate == 0 {
            return self.last_timestamp;
        }
        (u64::from(self.last_timestamp) * u64::from(self.map.te_clock_rate)
            / u64::from(self.map.clock_rate)) as u32
    }

    fn pump_dtmf(&mut self, now: Instant) {
        let mut packets = Vec::new();
        if let Some(s) = self.dtmf_out.as_mut() {
            while let Some(p) = s.poll_transmit(now) {
                packets.push(p);
            }
        }
        for p in packets {
            let payload = Bytes::copy_from_slice(&p.event.to_bytes());
            self.write_rtp(now, p.marker, p.payload_type, p.timestamp, payload);
        }
    }
}
