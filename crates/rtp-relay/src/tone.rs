//! Tone generation.
