use protector_core::{engine::*, model::*, Protector};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = protector_mock::Simulator::in_memory()?;
    let engine = Protector::in_memory("site-a", ["site-b"], sim.connector())?;
    for (site, kind) in [("site-a", SiteType::Primary), ("site-b", SiteType::Secondary)] {
        let auth_url = sim.site_registration(site).ok_or("unknown site")?.auth_url;
        engine.register_site(RegisterSite::new(site, kind, auth_url)).await?;
    }
    engine.create_group(CreateGroup::new("app", "site-a", "site-b", "replicated-ssd")).await?;
    let vm = sim.find_server("site-a", "web-server-1").ok_or("no such VM")?;
    engine.add_member("app", AddMember::new(vm.id)).await?;
    let [a, b] = ["site-a", "site-b"].map(|site| sim.array_endpoint(site).expect("an array"));
    engine.create_policy("app", CreatePolicy::new(a, b, "pg-app")).await?;
    let map = ResourceMappings::default().with_network("net-primary-web", "net-secondary-web");
    let request = FailoverRequest::planned(map.with_flavor("m1.large", "m2.large"));
    let op = engine.failover("app", request, &NoProgress).await?;
    let group = engine.group("app").await?;
    println!("failover {} on {}", op.status.as_str(), group.current_primary_site);
    Ok(())
}
