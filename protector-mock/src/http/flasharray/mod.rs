//! FlashArray REST 2.x over HTTPS. Placeholder until the router lands.
