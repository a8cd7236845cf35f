//! Demo traffic (filled in below).
