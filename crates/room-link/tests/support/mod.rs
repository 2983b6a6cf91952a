//! Test support shared by the room-link integration tests.

pub mod room_server;
