//! The simulated arrays' self-signed certificate. Placeholder until it lands.
