//! OpenStack (Keystone v3, Nova, Cinder v3, Neutron) clients implementing `protector-core` traits over HTTP.
//!
//! Not implemented yet: the engine reaches OpenStack through the in-process simulator in
//! `protector-mock` until this crate lands (issue 4). It exports nothing rather than pretending.
