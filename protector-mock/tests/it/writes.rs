//! The guests' writes are saved as an epoch, not row by row: another process reading the
//! file, and a reopened simulator, see exactly what the simulator that ran the calls sees.

use protector_core::api::ListServers;
use protector_mock::{ScaleSeed, Simulator};

use crate::common::*;

#[tokio::test]
async fn another_process_and_a_restart_see_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.db");
    let sim = Simulator::open(&path).unwrap();
    let memory = Simulator::in_memory().unwrap();
    for s in [&sim, &memory] {
        s.seed_scale(&ScaleSeed::new(2, 3)).unwrap();
    }
    let observer = Simulator::open(&path).unwrap();
    observer.inspect();

    for s in [&sim, &memory] {
        let admin = clients(s, "site-a").await;
        // Calls that read, calls that change the writers (a stop, an array power cycle, a
        // partition), and plain ticks.
        for _ in 0..5 {
            admin
                .compute
                .list_servers(&ListServers::default())
                .await
                .unwrap();
        }
        let web1 = s.find_server("site-a", "web-server-1").unwrap();
        admin.compute.stop_server(&web1.id).await.unwrap();
        s.tick(3).unwrap();
        s.set_array_down("site-b", true).unwrap();
        s.tick(2).unwrap();
        s.set_array_down("site-b", false).unwrap();
        s.set_partition(true).unwrap();
        s.tick(2).unwrap();
        s.set_partition(false).unwrap();
        admin.compute.start_server(&web1.id).await.unwrap();
        s.tick(4).unwrap();
    }

    let expected = memory.inspect();
    assert_eq!(sim.inspect(), expected, "file-backed == in memory");
    assert_eq!(observer.inspect(), expected, "another process on the file");
    assert_eq!(sim.last_write(), memory.last_write());
    drop(sim);
    let reopened = Simulator::open(&path).unwrap();
    assert_eq!(reopened.inspect(), expected, "after a restart");
    // And they keep writing alike.
    reopened.tick(7).unwrap();
    memory.tick(7).unwrap();
    assert_eq!(reopened.inspect(), memory.inspect());
}
