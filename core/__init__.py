"""VGG16 transfer-learning studio: the engine.

A typed library with no UI import. Pages and the CLI call into it; training runs in a
worker process (core.jobs.worker) that reports into a run store (core.runs.store).
"""

__version__ = "0.1.0"
