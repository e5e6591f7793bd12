//! A tour of the engine's main entry points, each example run as a doc test against the in-process
//! simulator (`protector-mock`).
//!
//! Every example starts from the same set-up, hidden in the examples (the same as
//! `tests/sdk-fixture/src/main.rs` in the repository): an engine over in-memory stores
//! ([`Protector::in_memory`](crate::Protector::in_memory)) standing on `site-a`, both simulated
//! sites registered ([`Protector::register_site`](crate::Protector::register_site)), group `app`
//! with the VM `web-server-1` ([`Protector::create_group`](crate::Protector::create_group),
//! [`Protector::add_member`](crate::Protector::add_member)) and its replication policy
//! ([`Protector::create_policy`](crate::Protector::create_policy)), and `mappings` from site-a's
//! networks and flavors to site-b's ([`ResourceMappings`](crate::model::ResourceMappings)).
//!
//! Against real clouds the same calls run on an engine from `protector-connect` (`from_clouds`,
//! `from_token`), or one built with [`Protector::builder`](crate::Protector::builder).
//!
//! # Plan and validate
//!
//! [`Protector::plan_failover`](crate::Protector::plan_failover) says what a failover would do,
//! step by step, without changing anything;
//! [`Protector::validate_plan`](crate::Protector::validate_plan) checks it against both sites now.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use protector_core::{engine::*, model::*, plan::FailoverMode, Protector};
//! # let sim = protector_mock::Simulator::in_memory()?;
//! # let engine = Protector::in_memory("site-a", ["site-b"], sim.connector())?;
//! # for (site, kind) in [("site-a", SiteType::Primary), ("site-b", SiteType::Secondary)] {
//! #     let auth_url = sim.site_registration(site).ok_or("unknown site")?.auth_url;
//! #     engine.register_site(RegisterSite::new(site, kind, auth_url)).await?;
//! # }
//! # engine.create_group(CreateGroup::new("app", "site-a", "site-b", "replicated-ssd")).await?;
//! # let vm = sim.find_server("site-a", "web-server-1").ok_or("no such VM")?;
//! # engine.add_member("app", AddMember::new(vm.id)).await?;
//! # let [a, b] = ["site-a", "site-b"].map(|site| sim.array_endpoint(site).expect("an array"));
//! # engine.create_policy("app", CreatePolicy::new(a, b, "pg-app")).await?;
//! # let mappings = ResourceMappings::default()
//! #     .with_network("net-primary-web", "net-secondary-web")
//! #     .with_flavor("m1.large", "m2.large");
//! let plan = engine.plan_failover("app", &FailoverRequest::planned(mappings)).await?;
//! for step in &plan.steps {
//!     println!("{} ({:?}) after {:?}", step.name, step.phase, step.depends_on);
//! }
//! let report = engine.validate_plan(&plan).await?;
//! for finding in &report.findings {
//!     println!("{:?} {}: {}", finding.severity, finding.code, finding.message);
//! }
//! assert!(report.is_ok());
//! # Ok(()) }
//! ```
//!
//! # Failover
//!
//! [`Protector::failover`](crate::Protector::failover) plans, validates and runs a failover of one
//! group; the observer ([`ProgressObserver`](crate::engine::ProgressObserver), any
//! `Fn(&Operation)`) sees each change of the operation.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use protector_core::{engine::*, model::*, plan::FailoverMode, Protector};
//! # let sim = protector_mock::Simulator::in_memory()?;
//! # let engine = Protector::in_memory("site-a", ["site-b"], sim.connector())?;
//! # for (site, kind) in [("site-a", SiteType::Primary), ("site-b", SiteType::Secondary)] {
//! #     let auth_url = sim.site_registration(site).ok_or("unknown site")?.auth_url;
//! #     engine.register_site(RegisterSite::new(site, kind, auth_url)).await?;
//! # }
//! # engine.create_group(CreateGroup::new("app", "site-a", "site-b", "replicated-ssd")).await?;
//! # let vm = sim.find_server("site-a", "web-server-1").ok_or("no such VM")?;
//! # engine.add_member("app", AddMember::new(vm.id)).await?;
//! # let [a, b] = ["site-a", "site-b"].map(|site| sim.array_endpoint(site).expect("an array"));
//! # engine.create_policy("app", CreatePolicy::new(a, b, "pg-app")).await?;
//! # let mappings = ResourceMappings::default()
//! #     .with_network("net-primary-web", "net-secondary-web")
//! #     .with_flavor("m1.large", "m2.large");
//! let progress = |op: &Operation| println!("[{:>3}%] {:?}", op.progress, op.steps_completed);
//! let op = engine.failover("app", FailoverRequest::planned(mappings), &progress).await?;
//! assert_eq!(op.status, OperationStatus::Completed);
//! assert_eq!(engine.group("app").await?.current_primary_site, "site-b");
//! # Ok(()) }
//! ```
//!
//! # Failback
//!
//! [`Protector::failback`](crate::Protector::failback) returns a failed-over group to its original
//! primary site; the mappings back are the stored ones unless given.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use protector_core::{engine::*, model::*, plan::FailoverMode, Protector};
//! # let sim = protector_mock::Simulator::in_memory()?;
//! # let engine = Protector::in_memory("site-a", ["site-b"], sim.connector())?;
//! # for (site, kind) in [("site-a", SiteType::Primary), ("site-b", SiteType::Secondary)] {
//! #     let auth_url = sim.site_registration(site).ok_or("unknown site")?.auth_url;
//! #     engine.register_site(RegisterSite::new(site, kind, auth_url)).await?;
//! # }
//! # engine.create_group(CreateGroup::new("app", "site-a", "site-b", "replicated-ssd")).await?;
//! # let vm = sim.find_server("site-a", "web-server-1").ok_or("no such VM")?;
//! # engine.add_member("app", AddMember::new(vm.id)).await?;
//! # let [a, b] = ["site-a", "site-b"].map(|site| sim.array_endpoint(site).expect("an array"));
//! # engine.create_policy("app", CreatePolicy::new(a, b, "pg-app")).await?;
//! # let mappings = ResourceMappings::default()
//! #     .with_network("net-primary-web", "net-secondary-web")
//! #     .with_flavor("m1.large", "m2.large");
//! # engine.failover("app", FailoverRequest::planned(mappings.clone()), &NoProgress).await?;
//! let request = FailbackRequest::default().with_reverse_replication(true);
//! let op = engine.failback("app", request, &NoProgress).await?;
//! assert_eq!(op.status, OperationStatus::Completed);
//! assert_eq!(engine.group("app").await?.current_primary_site, "site-a");
//! # Ok(()) }
//! ```
//!
//! # Test failover (DR drill)
//!
//! [`Protector::test_failover`](crate::Protector::test_failover) boots copies of the members on the
//! secondary site, on its isolated test networks, while production keeps running;
//! [`Protector::test_failover_cleanup`](crate::Protector::test_failover_cleanup) removes them.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use protector_core::{engine::*, model::*, plan::FailoverMode, Protector};
//! # let sim = protector_mock::Simulator::in_memory()?;
//! # let engine = Protector::in_memory("site-a", ["site-b"], sim.connector())?;
//! # for (site, kind) in [("site-a", SiteType::Primary), ("site-b", SiteType::Secondary)] {
//! #     let auth_url = sim.site_registration(site).ok_or("unknown site")?.auth_url;
//! #     engine.register_site(RegisterSite::new(site, kind, auth_url)).await?;
//! # }
//! # engine.create_group(CreateGroup::new("app", "site-a", "site-b", "replicated-ssd")).await?;
//! # let vm = sim.find_server("site-a", "web-server-1").ok_or("no such VM")?;
//! # engine.add_member("app", AddMember::new(vm.id)).await?;
//! # let [a, b] = ["site-a", "site-b"].map(|site| sim.array_endpoint(site).expect("an array"));
//! # engine.create_policy("app", CreatePolicy::new(a, b, "pg-app")).await?;
//! # let mappings = ResourceMappings::default()
//! #     .with_network("net-primary-web", "net-secondary-web")
//! #     .with_flavor("m1.large", "m2.large");
//! // A drill copies the newest replicated snapshot: let the 5-minute schedule fire (the
//! // simulated clock; on real arrays, time passes by itself).
//! sim.tick(320)?;
//! let drill = ResourceMappings::default()
//!     .with_network("net-primary-web", "dr-test-net")
//!     .with_flavor("m1.large", "m2.large");
//! let op = engine.test_failover("app", TestFailoverRequest::new(drill), &NoProgress).await?;
//! assert_eq!(op.status, OperationStatus::Completed);
//! let cleaned = engine.test_failover_cleanup("app", None, &NoProgress).await?;
//! assert_eq!(cleaned.status, OperationStatus::Completed);
//! assert_eq!(engine.group("app").await?.current_primary_site, "site-a");
//! # Ok(()) }
//! ```
//!
//! # Site failover
//!
//! [`Protector::site_failover`](crate::Protector::site_failover) fails over every group whose
//! workload runs on a site, at most
//! [`DEFAULT_SITE_FAILOVER_CONCURRENCY`](crate::engine::DEFAULT_SITE_FAILOVER_CONCURRENCY) at once;
//! [`Protector::plan_site_failover`](crate::Protector::plan_site_failover) shows the groups first.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use protector_core::{engine::*, model::*, plan::FailoverMode, Protector};
//! # let sim = protector_mock::Simulator::in_memory()?;
//! # let engine = Protector::in_memory("site-a", ["site-b"], sim.connector())?;
//! # for (site, kind) in [("site-a", SiteType::Primary), ("site-b", SiteType::Secondary)] {
//! #     let auth_url = sim.site_registration(site).ok_or("unknown site")?.auth_url;
//! #     engine.register_site(RegisterSite::new(site, kind, auth_url)).await?;
//! # }
//! # engine.create_group(CreateGroup::new("app", "site-a", "site-b", "replicated-ssd")).await?;
//! # let vm = sim.find_server("site-a", "web-server-1").ok_or("no such VM")?;
//! # engine.add_member("app", AddMember::new(vm.id)).await?;
//! # let [a, b] = ["site-a", "site-b"].map(|site| sim.array_endpoint(site).expect("an array"));
//! # engine.create_policy("app", CreatePolicy::new(a, b, "pg-app")).await?;
//! # let mappings = ResourceMappings::default()
//! #     .with_network("net-primary-web", "net-secondary-web")
//! #     .with_flavor("m1.large", "m2.large");
//! // A site failover runs on the stored mappings of each group.
//! engine.set_mappings("app", "site-a", mappings, false).await?;
//! let request = SiteFailoverRequest::new(FailoverMode::Planned);
//! let op = engine.site_failover("site-a", request, &NoProgress).await?;
//! assert_eq!(op.status, OperationStatus::Completed);
//! assert_eq!(engine.group("app").await?.current_primary_site, "site-b");
//! # Ok(()) }
//! ```
//!
//! # Operations
//!
//! Every failover, failback and drill is an [`Operation`](crate::model::Operation) kept in the
//! stores: [`Protector::operations`](crate::Protector::operations) lists them,
//! [`Protector::operation`](crate::Protector::operation) reads one by id.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use protector_core::{engine::*, model::*, plan::FailoverMode, Protector};
//! # let sim = protector_mock::Simulator::in_memory()?;
//! # let engine = Protector::in_memory("site-a", ["site-b"], sim.connector())?;
//! # for (site, kind) in [("site-a", SiteType::Primary), ("site-b", SiteType::Secondary)] {
//! #     let auth_url = sim.site_registration(site).ok_or("unknown site")?.auth_url;
//! #     engine.register_site(RegisterSite::new(site, kind, auth_url)).await?;
//! # }
//! # engine.create_group(CreateGroup::new("app", "site-a", "site-b", "replicated-ssd")).await?;
//! # let vm = sim.find_server("site-a", "web-server-1").ok_or("no such VM")?;
//! # engine.add_member("app", AddMember::new(vm.id)).await?;
//! # let [a, b] = ["site-a", "site-b"].map(|site| sim.array_endpoint(site).expect("an array"));
//! # engine.create_policy("app", CreatePolicy::new(a, b, "pg-app")).await?;
//! # let mappings = ResourceMappings::default()
//! #     .with_network("net-primary-web", "net-secondary-web")
//! #     .with_flavor("m1.large", "m2.large");
//! # engine.failover("app", FailoverRequest::planned(mappings.clone()), &NoProgress).await?;
//! for op in engine.operations().await? {
//!     println!("{} {} {}", op.id, op.operation_type.as_str(), op.status.as_str());
//! }
//! let last = engine.operations().await?.into_iter().next().ok_or("no operation")?;
//! assert_eq!(engine.operation(&last.id.to_string()).await?.id, last.id);
//! # Ok(()) }
//! ```
