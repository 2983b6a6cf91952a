//! Media I/O: RTP ports and sockets.

pub mod port_pool;
