//! The HTTP(S) face of the simulator: Keystone, Nova, Cinder and Neutron per site over HTTP, and
//! one FlashArray REST 2.x endpoint per site over HTTPS, all over the same state as the
//! in-process face. [`SimServer`] serves both sites; the URL layout per site is
//!
//! | prefix | service | versioned root |
//! |---|---|---|
//! | `/identity` | Keystone | `/identity/v3` |
//! | `/compute` | Nova | `/compute/v2.1` |
//! | `/volume` | Cinder | `/volume/v3/{project_id}` (and `/volume/v3`, as from 3.67) |
//! | `/network` | Neutron | `/network/v2.0` |

mod connection;
#[doc(hidden)]
pub mod flasharray;
pub(crate) mod openstack;
mod requests;
mod server;
pub(crate) mod tls;

pub use requests::{RequestLog, ServedRequest};
pub use server::{ServeOptions, ServePorts, SimServer, SitePorts};
