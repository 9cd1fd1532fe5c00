"""Resume state: after every finished epoch (and at the end of each phase) the weights so far
and where training stands, so a killed worker's run continues from its last finished epoch.

Each save writes a new weights file, then state.json naming it (both atomic): whenever the
worker dies, state.json and the weights it names belong together.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.platform.fileio import atomic_write_text, write_atomically


@dataclass(frozen=True)
class ResumePoint:
    phase_index: int = 0  # the phase to continue (a phase's end points at the next one)
    epochs_done: int = 0  # epochs of that phase already finished
    global_epochs: int = 0  # epochs of the whole run already finished

    def weights_name(self) -> str:
        return f"phase{self.phase_index}-epoch{self.epochs_done}-{self.global_epochs}.weights.h5"


START = ResumePoint()


class ResumeState:
    """The resume/ folder of one run."""

    def __init__(self, run_folder: Path):
        self.folder = run_folder / "resume"
        self.state_path = self.folder / "state.json"

    def save(self, model: Any, point: ResumePoint) -> None:
        name = point.weights_name()
        write_atomically(
            self.folder / name,
            lambda tmp: model.save_weights(tmp, overwrite=True),
            suffix=".weights.h5",
        )
        atomic_write_text(self.state_path, json.dumps({**asdict(point), "weights": name}))
        for old in self.folder.glob("phase*.weights.h5"):  # only the named one is needed now
            if old.name != name:
                old.unlink(missing_ok=True)

    def load(self) -> tuple[ResumePoint, Path] | None:
        """The last saved point and its weights file; None when nothing (whole) was saved."""
        if not self.state_path.exists():
            return None
        state = json.loads(self.state_path.read_text())
        weights = self.folder / state.pop("weights", "")
        if not weights.is_file():
            return None
        return ResumePoint(**state), weights

    def resume(self, model: Any) -> ResumePoint:
        """Load the last saved weights into `model` and say where to continue (or START)."""
        saved = self.load()
        if saved is None:
            return START
        point, weights = saved
        model.load_weights(weights)
        return point

    def restore(self, model: Any, fallback: list[Any]) -> None:  # Keras model, its weights
        """The last finished epoch's weights, else `fallback` (weights before training)."""
        saved = self.load()
        if saved:
            model.load_weights(saved[1])
        else:
            model.set_weights(fallback)
