//! Keystone v3, Nova v2.1, Cinder v3 and Neutron v2.0 over HTTP. Placeholder until the routers land.
