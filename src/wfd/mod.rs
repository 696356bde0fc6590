//! Wi-Fi Display (Miracast) RTSP, sans-IO: parameter codec, message classification, and the
//! source and sink state machines (M1..M16). No sockets, no clock: time is an input.

pub mod params;
