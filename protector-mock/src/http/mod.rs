//! The HTTP(S) face of the simulator: Keystone, Nova, Cinder and Neutron per site over HTTP, and
//! one FlashArray REST 2.x endpoint per site over HTTPS, all over the same state as the
//! in-process face.
//!
//! Placeholder: the server bootstrap (`SimServer`) lands here.

pub(crate) mod flasharray;
pub(crate) mod openstack;
pub(crate) mod tls;
