//! Test support shared by the room-link integration tests.

pub mod aiortc;
pub mod phone;
pub mod room_server;
pub mod turn_server;

use room_link::RoomSession;

/// Leaves the room, failing the test if leaving fails.
pub async fn leave(session: RoomSession) {
    session
        .leave()
        .await
        .unwrap_or_else(|e| panic!("leave: {e}"));
}
