"""Work the app hands to a short-lived child process so that the app never imports TensorFlow:
downloading an online sample (Keras' downloader) and turning audio clips into spectrograms
(tf.signal). The child prints the resulting folder on its last stdout line; a failure comes
back as an exception whose message is the child's one-line reason.

    python -m core.fetch spectrograms AUDIO_DIR CACHE_ROOT
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core.keras_datasets import SampleUnavailable

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_TIMEOUT = 1800.0
SPECTROGRAM_TIMEOUT = 1800.0


class FetchError(RuntimeError):
    """The child process failed; the message is its reason."""


def _run(args: list[str], timeout: float) -> Path:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    try:
        done = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                              timeout=timeout, cwd=str(ROOT), env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"gave up after {timeout:.0f} s") from exc
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        errors = [line for line in done.stderr.splitlines() if line.strip()]
        reason = errors[-1] if errors else f"exit code {done.returncode}"
        raise FetchError(reason.removeprefix("error: "))
    return Path(lines[-1].strip())


def sample(name: str, home: str | os.PathLike) -> Path:
    """core.samples.prepare(name) in a child process; SampleUnavailable when it cannot be had
    (no internet on first use, or any other failure of the download)."""
    try:
        return _run(["-m", "core", "--home", str(home), "sample", name], SAMPLE_TIMEOUT)
    except FetchError as exc:
        raise SampleUnavailable(str(exc)) from exc


def spectrograms(audio_dir: str | os.PathLike, cache_root: str | os.PathLike) -> Path:
    """core.audio.spectrogram_dataset(audio_dir, defaults, cache_root) in a child process."""
    return _run(["-m", "core.fetch", "spectrograms", str(audio_dir), str(cache_root)],
                SPECTROGRAM_TIMEOUT)


def _main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "spectrograms":
        print("error: usage: python -m core.fetch spectrograms AUDIO_DIR CACHE_ROOT",
              file=sys.stderr)
        return 2
    from core import audio
    from core.datasets import DatasetError

    try:
        print(audio.spectrogram_dataset(argv[1], None, argv[2]))
    except (DatasetError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
