"""The tasks a run can do, as one table of data (like core.runs.strategies).

A run's task (RunConfig.task) says what the worker does with it: train a strategy, measure how
well VGG16's features fit the data (the advisor's probe), draw the map of the data, or sweep
learning rates. Everything that depends on the task reads its row here: the words shown for
it, the page that shows its results, what a refusal to start it says, whether it is a side
job, its result type, and the function that executes it.

That function lives in core.train, a layer above this one, so the row names it as text
("module:function"); core.train.training resolves it, and a test checks that every row's
runner resolves to a function of core.train.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.runs.results import LrFindResult, MapResult, ProbeResult, Result, RunResult

TRAIN, PROBE, MAP, LR_FIND = "train", "probe", "map", "lr_find"
STRATEGY = "{strategy}"  # in a title: the run's strategy title


@dataclass(frozen=True)
class Task:
    name: str  # RunConfig.task
    title: str  # what a run of it does, in words; STRATEGY stands for the strategy's title
    page: str  # the page that shows its results
    result: type[Result]  # what the run reports
    runner: str  # "module:function" of core.train: (ctx, resume) -> (result, status)
    busy: str  # why it cannot start while another run it waits for is under way
    cannot_start: str  # the words before the reason when it is refused ("Training cannot start")
    # trains nothing and never blocks training: it may queue behind a training run, one per
    # dataset at a time (a side job)
    side: bool = False
    one_device: bool = False  # runs on one device even when several GPUs are visible

    @property
    def trains(self) -> bool:
        """A training run: it trains a strategy and saves a model."""
        return self.name == TRAIN

    def title_for(self, strategy_title: str) -> str:
        return self.title.replace(STRATEGY, strategy_title)


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            TRAIN,
            title=STRATEGY,
            page="Train",
            result=RunResult,
            runner="core.train.training:training_task",
            busy="A run is already under way: wait for it to end or stop it first.",
            cannot_start="Training cannot start",
        ),
        Task(
            PROBE,
            title="similarity measurement",
            page="Strategy",
            result=ProbeResult,
            runner="core.train.training:probe_task",
            busy="A measurement of this dataset is already under way.",
            cannot_start="The measurement cannot start",
            side=True,
        ),
        Task(
            MAP,
            title="map of the data",
            page="Data",
            result=MapResult,
            runner="core.train.training:map_task",
            busy="A map of this dataset is already being drawn.",
            cannot_start="The map cannot be drawn",
            side=True,
        ),
        Task(
            LR_FIND,
            title=f"learning-rate finder for {STRATEGY}",
            page="Train",
            result=LrFindResult,
            runner="core.train.training:lr_find_task",
            busy="A run is already under way: the learning-rate finder can start when it ends.",
            cannot_start="The learning-rate finder cannot start",
            # the finder's suggestion is the rate the user types in, for the run's batch on one
            # device; a training run then scales it by the rule itself (swept at the global
            # batch, it would come out scaled twice)
            one_device=True,
        ),
    )
}
SIDE_TASKS: dict[str, Task] = {name: t for name, t in TASKS.items() if t.side}


def get(name: str) -> Task:
    """The task of that name; an unknown one (a record from elsewhere) reads as training, the
    default, as it always did for titles and pages (RunConfig.problems refuses to queue it)."""
    return TASKS.get(name, TASKS[TRAIN])
