//! Writing stage cost (docs/generation.md §4.8; stack.md "fsync … ≈ 5 ms"): stage the 12
//! files of a node (~30 KB), place the dir with the no-replace rename and clean up, with fsync on
//! and off, on the real disk (`/var/tmp`) and on tmpfs (`/dev/shm`).
//!
//! Run: `cargo bench -p onex-engine --bench output`. Figures go to docs/BENCHMARKS.md
//! ("Writing (fsync)"). A base directory that does not exist is reported and its cases skipped.

use std::path::Path;

use onex_generation::codegen::output::{self, Staging, StagingOptions};
use uuid::Uuid;

fn main() {
    divan::main();
}

const NODE: &str = "node_data_order_writer_effect";

/// The 12 files of docs/generation.md §4.1, ~30 KB in total (sizes like a rendered EFFECT node's).
fn node_files() -> Vec<(&'static str, Vec<u8>)> {
    [
        ("node.manifest.yaml", 4200),
        ("v1_0_0/__init__.py", 300),
        ("v1_0_0/node.py", 7600),
        ("v1_0_0/contract.yaml", 6200),
        ("v1_0_0/version.manifest.yaml", 1500),
        ("v1_0_0/models/__init__.py", 500),
        ("v1_0_0/models/model_order_writer_input.py", 1400),
        ("v1_0_0/models/model_order_writer_output.py", 1400),
        ("v1_0_0/models/model_order_writer_config.py", 1300),
        ("v1_0_0/models/model_order_writer_effect_contract.py", 1800),
        ("v1_0_0/enums/__init__.py", 300),
        ("v1_0_0/enums/enum_order_writer_operation_type.py", 900),
    ]
    .into_iter()
    .map(|(name, len)| (name, "# generated\n".bytes().cycle().take(len).collect()))
    .collect()
}

/// One writing stage into a fresh `<out>` inside `tmp` (created outside the measurement); returns
/// the temp dir so that deleting it happens outside the measurement too.
fn write_node(tmp: tempfile::TempDir, fsync: bool, files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let out = tmp.path().join("out");
    let plan = output::plan(
        &out,
        NODE,
        Uuid::new_v4(),
        false,
        &[tmp.path().to_path_buf()],
    )
    .expect("plan");
    let mut st = Staging::create(
        &plan,
        StagingOptions {
            fsync,
            ..StagingOptions::default()
        },
    )
    .expect("staging");
    st.write_files(files, |_| {}).expect("write");
    st.place().expect("place");
    st.cleanup();
    tmp
}

fn run(bencher: divan::Bencher, base: &str, fsync: bool) {
    let base = Path::new(base);
    if !base.is_dir() {
        eprintln!("SKIPPED: {} does not exist here", base.display());
        return;
    }
    let files = node_files();
    bencher
        .with_inputs(|| {
            tempfile::Builder::new()
                .prefix("onex-bench-")
                .tempdir_in(base)
                .expect("temp dir in the bench base")
        })
        .bench_local_values(|tmp| write_node(tmp, fsync, &files));
}

/// Real disk (ext4 on the project's machines).
mod var_tmp {
    #[divan::bench(sample_count = 60, sample_size = 1)]
    fn fsync_on(b: divan::Bencher) {
        super::run(b, "/var/tmp", true);
    }

    #[divan::bench(sample_count = 200, sample_size = 1)]
    fn fsync_off(b: divan::Bencher) {
        super::run(b, "/var/tmp", false);
    }
}

/// tmpfs: fsync is a no-op there.
mod dev_shm {
    #[divan::bench(sample_count = 200, sample_size = 1)]
    fn fsync_on(b: divan::Bencher) {
        super::run(b, "/dev/shm", true);
    }

    #[divan::bench(sample_count = 200, sample_size = 1)]
    fn fsync_off(b: divan::Bencher) {
        super::run(b, "/dev/shm", false);
    }
}
