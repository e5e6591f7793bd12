//! The measured command: `protector` as a child process, reaped with wait4(2) so that its CPU
//! time comes from the kernel, not from sampling; the simulator's CPU while it runs is this
//! process's (getrusage(2)), which hosts it and otherwise waits.
//!
//! Its peak RSS is the high-water mark of its own memory (`VmHWM` in `/proc/PID/status`),
//! read every few milliseconds while it runs, not wait4's `ru_maxrss`: a child spawned with
//! vfork semantics (as `std::process::Command` does) runs on this process's memory until it
//! execs, and the kernel carries that memory's high-water mark into the child's `ru_maxrss`,
//! so with a simulator of 1,000 VMs in this process it reported this process's size. The
//! mark only grows, so the last reading before the child exits misses at most what it grew in
//! its last few milliseconds.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::Failure;

/// What the kernel and the clock say about one run of the command.
#[derive(Debug, Clone)]
pub struct ChildRun {
    /// When it was started (the origin of the time to recovery).
    pub started: DateTime<Utc>,
    /// From spawn to exit.
    pub wall: Duration,
    /// User plus system CPU time.
    pub cpu: Duration,
    /// User plus system CPU time of this process (the simulator serving the command) from
    /// spawn to exit.
    pub host_cpu: Duration,
    /// Peak resident set size in bytes.
    pub max_rss: u64,
    /// Exit code (`None`: killed by a signal).
    pub exit_code: Option<i32>,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

/// How to run `protector`.
#[derive(Debug, Clone)]
pub struct Protector {
    /// The executable.
    pub binary: PathBuf,
    /// A diagnosis aid (`--trace DIR`): run it with `PROTECTOR_LOG=debug` (every request with a
    /// timestamp) and keep what it printed on stderr in this directory. It costs CPU: numbers of
    /// a traced run are not the product's.
    pub trace: Option<PathBuf>,
}

impl Protector {
    /// `protector` next to this executable (cargo builds both into the same directory).
    pub fn next_to_self() -> Result<Protector, Failure> {
        let me = std::env::current_exe()
            .map_err(|e| Failure(format!("cannot locate the benchmark's executable: {e}")))?;
        let dir = me.parent().unwrap_or(Path::new("."));
        // A test executable lives one level deeper, in `deps/`.
        let candidates = [dir.join("protector"), dir.join("../protector")];
        candidates
            .iter()
            .find(|p| p.is_file())
            .map(|p| Protector {
                binary: p.clone(),
                trace: None,
            })
            .ok_or_else(|| {
                Failure(format!(
                    "no protector executable in {}: build it (`cargo build --release -p protector-cli`) or give --protector PATH",
                    dir.display()
                ))
            })
    }

    /// Runs `protector --state-dir STATE --os-cloud SITE ARGS...` with the clouds.yaml of the
    /// served simulator and nothing else from this process's protector or OpenStack
    /// environment (default engine settings: no `PROTECTOR_*` override reaches it), and waits
    /// for it. Blocking: call it from a blocking thread.
    pub fn run(
        &self,
        state_dir: &Path,
        site: &str,
        clouds_yaml: &Path,
        args: &[String],
    ) -> Result<ChildRun, Failure> {
        let mut command = Command::new(&self.binary);
        for (key, _) in std::env::vars_os() {
            let key_text = key.to_string_lossy();
            if key_text.starts_with("PROTECTOR_") || key_text.starts_with("OS_") {
                command.env_remove(&key);
            }
        }
        let out = tempfile::tempfile().map_err(|e| Failure(format!("no temporary file: {e}")))?;
        let err = tempfile::tempfile().map_err(|e| Failure(format!("no temporary file: {e}")))?;
        command
            .arg("--state-dir")
            .arg(state_dir)
            .arg("--os-cloud")
            .arg(site)
            .args(args)
            .env("OS_CLIENT_CONFIG_FILE", clouds_yaml)
            .envs(self.trace.as_ref().map(|_| ("PROTECTOR_LOG", "debug")))
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                out.try_clone()
                    .map_err(|e| Failure(format!("cannot share a file: {e}")))?,
            ))
            .stderr(Stdio::from(
                err.try_clone()
                    .map_err(|e| Failure(format!("cannot share a file: {e}")))?,
            ));
        let started = Utc::now();
        let clock = Instant::now();
        let host_before = own_cpu()?;
        let child = command
            .spawn()
            .map_err(|e| Failure(format!("cannot run {}: {e}", self.binary.display())))?;
        let name = self
            .binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let high_water = HighWater::watch(child.id(), name);
        let reaped = wait4(child.id());
        let peak = high_water.stop();
        let reaped = reaped.map_err(|e| Failure(format!("cannot wait for protector: {e}")))?;
        let wall = clock.elapsed();
        let host_cpu = own_cpu()?.saturating_sub(host_before);
        Ok(ChildRun {
            started,
            wall,
            cpu: reaped.cpu,
            host_cpu,
            max_rss: peak.unwrap_or(reaped.max_rss),
            exit_code: reaped.exit_code,
            stdout: read_all(out)?,
            stderr: read_all(err)?,
        })
    }
}

/// Reads a child's own peak RSS while it runs (see the module documentation).
struct HighWater {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Option<u64>>,
}

impl HighWater {
    /// Starts reading the peak RSS of process `pid` once it runs executable `name` (before its
    /// exec it still shares this process's memory).
    fn watch(pid: u32, name: String) -> HighWater {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let path = format!("/proc/{pid}/status");
        let thread = std::thread::spawn(move || {
            let mut peak = None;
            while !flag.load(Ordering::Relaxed) {
                if let Some(kib) = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|status| high_water_kib(&status, &name))
                {
                    peak = Some(peak.unwrap_or(0).max(kib * 1024));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            peak
        });
        HighWater { stop, thread }
    }

    /// Stops reading (call it once the child has exited); the peak seen, if any.
    fn stop(self) -> Option<u64> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().ok().flatten()
    }
}

/// `VmHWM` in KiB from a `/proc/PID/status` text, if the process runs `name` (the kernel
/// keeps the first 15 bytes of it) and still has its memory.
fn high_water_kib(status: &str, name: &str) -> Option<u64> {
    let comm: String = name.chars().take(15).collect();
    let runs = status
        .lines()
        .any(|l| l.strip_prefix("Name:").is_some_and(|n| n.trim() == comm));
    if !runs {
        return None;
    }
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn read_all(mut file: std::fs::File) -> Result<String, Failure> {
    use std::io::{Read, Seek};
    let mut text = String::new();
    file.rewind()
        .and_then(|()| file.read_to_string(&mut text))
        .map_err(|e| Failure(format!("cannot read the command's output: {e}")))?;
    Ok(text)
}

/// What wait4(2) reports about a reaped child.
struct Reaped {
    cpu: Duration,
    max_rss: u64,
    exit_code: Option<i32>,
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
}

/// Waits for child `pid` to exit and returns its resource usage. The `std::process::Child`
/// it came from must not be waited for afterwards (it is reaped here).
#[expect(
    unsafe_code,
    reason = "wait4(2) is the one call that gives a child's rusage with its exit; std has no safe wrapper"
)]
fn wait4(pid: u32) -> std::io::Result<Reaped> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| std::io::Error::other(format!("pid {pid} out of range")))?;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `usage` are valid, exclusively borrowed locals for the call.
        let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if got == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    let exit_code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ok(Reaped {
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        // Linux reports ru_maxrss in KiB.
        max_rss: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
        exit_code,
    })
}

/// User plus system CPU time of this process so far (every thread; not its children).
#[expect(
    unsafe_code,
    reason = "getrusage(2) is the call that gives the process's CPU time; std has no wrapper"
)]
fn own_cpu() -> Result<Duration, Failure> {
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, exclusively borrowed local for the call.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Err(Failure(format!(
            "cannot read this process's CPU time: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(timeval(usage.ru_utime) + timeval(usage.ru_stime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[expect(clippy::zombie_processes, reason = "wait4 reaps the child")]
    fn a_running_childs_own_peak_is_read() {
        let child = Command::new("sleep").arg("0.3").spawn().unwrap();
        let high_water = HighWater::watch(child.id(), "sleep".into());
        wait4(child.id()).unwrap();
        let peak = high_water.stop().expect("no reading of the child's peak");
        // `sleep` is small: far below this test process.
        assert!(peak > 0 && peak < 64 << 20, "{peak}");
    }

    #[test]
    fn the_high_water_mark_counts_only_once_the_command_runs() {
        let status = "Name:\tprotector\nVmPeak:\t  90000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(high_water_kib(status, "protector"), Some(51200));
        // Before its exec the child still shows this process's name and memory.
        assert_eq!(high_water_kib(status, "protector-bench"), None);
        // A zombie has no memory left.
        assert_eq!(
            high_water_kib("Name:\tprotector\nState:\tZ (zombie)\n", "protector"),
            None
        );
        // The kernel keeps 15 bytes of the name.
        let long = "Name:\tprotector-engin\nVmHWM:\t 7 kB\n";
        assert_eq!(high_water_kib(long, "protector-engine"), Some(7));
    }

    #[test]
    fn this_process_s_cpu_grows_with_the_work_it_does() {
        let before = own_cpu().unwrap();
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        assert!(own_cpu().unwrap() > before);
    }

    #[test]
    #[expect(clippy::zombie_processes, reason = "wait4 reaps the child")]
    fn wait4_reports_the_childs_exit_and_its_cpu() {
        // A child that burns some CPU and exits 3.
        let child = Command::new("sh")
            .args([
                "-c",
                "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 3",
            ])
            .spawn()
            .unwrap();
        let reaped = wait4(child.id()).unwrap();
        assert_eq!(reaped.exit_code, Some(3));
        assert!(reaped.cpu > Duration::ZERO);
        assert!(reaped.max_rss > 0);
    }
}
