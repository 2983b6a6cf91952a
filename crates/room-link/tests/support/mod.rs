//! Test support shared by the room-link integration tests.

pub mod aiortc;
pub mod phone;
pub mod room_server;
pub mod turn_server;
