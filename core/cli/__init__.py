"""`python -m core`: the command-line contract other tools rely on.

    inspect DIR [--json]
    train DIR [options]        progress on stdout; the LAST line is one JSON object
    compare DIR [--strategies A,B] [--seeds N] [--json]   mean ± std over seeds, a paired test
    lr-find DIR [--strategy S] [--json]   learning-rate range test: prints the suggested rate
    predict MODEL_OR_RUN IMAGE... [--top-k 3] [--json]
    advise DIR                 the measured strategy advice (linear probe), as JSON
    bench [--image-size N] [--images N] [--precision P] [--json]
    sample NAME [--per-class N] write a sample dataset and print its folder
    runs [list|rename|tag|delete]  list runs (filters, --json); name, tag or delete one
    stop RUN / resume RUN
    train/compare/worker --engine ray [--ray-address auto|local|HOST:PORT]  on a Ray cluster
    export RUN --format keras|savedmodel|tflite|tflite-int8|onnx [--out PATH]
    bundle RUN [--out PATH]    one zip: model, labels, config, manifest, versions, report
    report RUN | --group ID [--out PATH]   a shareable HTML page of a run or a comparison
    reproduce BUNDLE_OR_RUN    train the same config on the same files, compare the result
    worker                     the worker loop (started for you by train and by the app)

Bad input exits non-zero with a one-line reason on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

from core.jobs.worker import IDLE_SECONDS
from core.model import vgg16
from core.model.device import PRECISIONS
from core.platform import settings
from core.runs import strategies
from core.runs.config import RunConfig

EXIT_BAD_INPUT = 2
EXIT_RUN_FAILED = 1
CLI_IDLE_SECONDS = 5.0  # a worker started by the CLI exits soon after its run


class CliError(Exception):
    """Bad input: printed as one line, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__.split("\n")[0])
    parser.add_argument("--home", help="studio home folder (default: $STUDIO_HOME or .studio)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    inspect = sub.add_parser("inspect", help="scan a dataset folder")
    inspect.add_argument("dir", metavar="DIR", help="dataset folder (images or audio clips)")
    inspect.add_argument("--val-dir", metavar="DIR", help="a separate validation folder")
    inspect.add_argument("--json", action="store_true", help="print the summary as JSON")

    train = sub.add_parser("train", help="train on a dataset folder; the last line is JSON")
    _run_settings(train, single_strategy=True)
    _phase_setting_flags(train)
    train.add_argument("--quiet", action="store_true", help="print only the final JSON line")
    add_engine_arguments(train)

    _compare_parser(sub)
    _lr_find_parser(sub)

    predict = sub.add_parser("predict", help="classify images (or clips) with a run's model")
    predict.add_argument(
        "model", metavar="MODEL", help="run id (or prefix) or the run's model.keras path"
    )
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="pictures or audio clips")
    predict.add_argument(
        "--top-k", type=int, default=3, metavar="K", help="classes shown (default: %(default)s)"
    )
    predict.add_argument("--json", action="store_true", help="one JSON object per image")

    advise = sub.add_parser("advise", help="measure which strategy fits a dataset (JSON)")
    advise.add_argument("dir", metavar="DIR", help="dataset folder (images or audio clips)")
    advise.add_argument("--val-dir", metavar="DIR", help="a separate validation folder")
    advise.add_argument(
        "--image-size",
        type=int,
        default=RunConfig.default("image_size"),
        metavar="PX",
        help="(default: %(default)s)",
    )
    advise.add_argument("--weights", default=None, metavar="SPEC", help="as for train")
    advise.add_argument(
        "--max-per-class",
        type=int,
        default=RunConfig.default("probe_max_per_class"),
        metavar="N",
        help="measure on at most N pictures per class, a stratified sample (default: %(default)s)",
    )
    advise.add_argument(
        "--seed", type=int, default=RunConfig.default("seed"), help="(default: %(default)s)"
    )

    bench = sub.add_parser("bench", help="measure extraction and fine-tuning speed")
    bench.add_argument(
        "--image-size",
        type=int,
        default=RunConfig.default("image_size"),
        metavar="PX",
        help="(default: %(default)s)",
    )
    bench.add_argument(
        "--images",
        type=int,
        default=256,
        metavar="N",
        help="synthetic images (default: %(default)s)",
    )
    bench.add_argument(
        "--batch-size",
        type=int,
        default=RunConfig.default("batch_size"),
        metavar="N",
        help="(default: %(default)s)",
    )
    bench.add_argument(
        "--weights", default="none", metavar="SPEC", help="as for train (default: %(default)s)"
    )
    bench.add_argument(
        "--precision",
        default=RunConfig.default("precision"),
        choices=PRECISIONS,
        help="auto: what the worker would use here (default: %(default)s)",
    )
    bench.add_argument("--json", action="store_true", help="only the JSON report")
    bench.add_argument(
        "--engines",
        action="store_true",
        help="instead: time a small comparison (2 strategies x 2 seeds) on the local worker "
        "and on a private 2-CPU Ray cluster",
    )

    sample = sub.add_parser("sample", help="write a sample dataset, print its folder")
    sample.add_argument("name", metavar="NAME", help="digits (offline), or an online sample id")
    sample.add_argument(
        "--per-class",
        type=int,
        default=None,
        metavar="N",
        help="Keras samples: at most N training images per class (default: all)",
    )

    _runs_parsers(sub)
    for name in ("stop", "resume"):
        cmd = sub.add_parser(name, help=f"{name} a run")
        cmd.add_argument("run", metavar="RUN", help="run id (or a unique prefix)")

    worker = sub.add_parser("worker", help="execute queued runs (started automatically)")
    worker.add_argument(
        "--idle-seconds",
        type=float,
        default=IDLE_SECONDS,
        metavar="S",
        help="exit after S seconds with nothing queued (default: %(default)s)",
    )
    worker.add_argument("--once", action="store_true", help="exit when the queue is empty")
    add_engine_arguments(worker)

    _take_away_parsers(sub)
    for command in sub.choices.values():  # `--home` also after the command, as documented
        command.add_argument("--home", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _run_settings(parser: argparse.ArgumentParser, single_strategy: bool) -> None:
    """The dataset and the run settings `train` and `compare` share (defaults: RunConfig)."""
    parser.add_argument("dir", metavar="DIR", help="dataset folder (images or audio clips)")
    parser.add_argument("--val-dir", metavar="DIR", help="a separate validation folder")
    if single_strategy:
        parser.add_argument(
            "--strategy",
            default=RunConfig.default("strategy"),
            choices=list(strategies.STRATEGIES),
            help="what trains (default: %(default)s)",
        )
    parser.add_argument(
        "--layer",
        default=RunConfig.default("layer"),
        choices=vgg16.FEATURE_LAYERS,
        help="linear only: the features it reads (default: %(default)s)",
    )
    parser.add_argument(
        "--unfreeze-blocks",
        type=int,
        default=RunConfig.default("unfreeze_blocks"),
        metavar="N",
        help="finetune only: top VGG16 blocks retrained in phase 2 (default: %(default)s)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=RunConfig.default("image_size"),
        metavar="PX",
        help="images are resized to PX x PX (default: %(default)s)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=RunConfig.default("epochs"),
        metavar="N",
        help="head phase, or the only phase (default: %(default)s)",
    )
    parser.add_argument(
        "--finetune-epochs",
        type=int,
        default=RunConfig.default("finetune_epochs"),
        metavar="N",
        help="finetune/full: the second phase (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=RunConfig.default("batch_size"),
        metavar="N",
        help="(default: %(default)s)",
    )
    parser.add_argument("--augment", action="store_true", help="augment the training images")
    parser.add_argument(
        "--augment-kind",
        default=RunConfig.default("augment_kind"),
        choices=("image", "spectrogram"),
        help="flips/rotations, or time/frequency masks (default: %(default)s; audio: spectrogram)",
    )
    parser.add_argument(
        "--weights",
        default=None,
        metavar="SPEC",
        help="imagenet | none | PATH (default: $VGG16_WEIGHTS, else imagenet)",
    )
    parser.add_argument(
        "--seed", type=int, default=RunConfig.default("seed"), help="(default: %(default)s)"
    )
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=RunConfig.default("val_fraction"),
        metavar="F",
        help="validation share of a single folder (default: %(default)s)",
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=RunConfig.default("test_fraction"),
        metavar="F",
        help="test share, scored once after training (default: %(default)s; 0: none; "
        "a test/ folder is used as it is)",
    )
    parser.add_argument(
        "--precision",
        default=RunConfig.default("precision"),
        choices=PRECISIONS,
        help="auto: bfloat16 where the CPU/GPU runs it natively, else float32 "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--patience",
        dest="early_stopping_patience",
        type=int,
        default=RunConfig.default("early_stopping_patience"),
        metavar="N",
        help="early stopping: epochs without a better validation loss (default: %(default)s)",
    )


def _phase_setting_flags(command) -> None:
    """Per-phase overrides of the strategy table (repeat the flag for several phases)."""
    names = ", ".join(strategies.OPTIMIZERS)
    command.add_argument(
        "--optimizer",
        action="append",
        metavar="[PHASE=]NAME",
        help=f"a phase's optimizer: {names} (SGD with momentum {strategies.SGD_MOMENTUM}); "
        "PHASE defaults to the first (default: the strategy table's)",
    )
    command.add_argument(
        "--lr",
        action="append",
        metavar="[PHASE=]RATE",
        help="a phase's learning rate, e.g. --lr 3e-4 or --lr finetune=1e-5; PHASE defaults to "
        "the first (default: the strategy table's)",
    )


def _per_phase(values: list[str] | None, strategy: str, flag: str, convert) -> dict:
    """`--flag [PHASE=]VALUE` items as {phase: value}; a phase the strategy does not train
    with Keras is bad input."""
    phases = [p.name for p in strategies.get(strategy).keras_phases]
    out = {}
    for item in values or ():
        phase, given, value = item.rpartition("=")
        phase = phase if given else (phases[0] if phases else "")
        if phase not in phases:
            trained = ", ".join(phases) or "none: it fits in closed form"
            raise CliError(
                f"{flag}: strategy {strategy} has no phase {phase!r} (its phases: {trained})"
            )
        try:
            out[phase] = convert(value)
        except ValueError:
            raise CliError(f"{flag}: {value!r} is not a number") from None
    return out


def _lr_find_parser(sub) -> None:
    lr_find = sub.add_parser(
        "lr-find", help="learning-rate range test of a strategy's first phase; suggests a rate"
    )
    lr_find.add_argument("dir", metavar="DIR", help="dataset folder (images or audio clips)")
    lr_find.add_argument("--val-dir", metavar="DIR", help="a separate validation folder")
    lr_find.add_argument(
        "--strategy",
        default=RunConfig.default("strategy"),
        choices=[k for k, s in strategies.STRATEGIES.items() if not s.closed_form],
        help="whose first Keras phase is swept (default: %(default)s)",
    )
    for flag in ("image_size", "batch_size", "seed"):
        lr_find.add_argument(
            f"--{flag.replace('_', '-')}",
            type=int,
            default=RunConfig.default(flag),
            metavar="N",
            help="as for train (default: %(default)s)",
        )
    lr_find.add_argument("--weights", default=None, metavar="SPEC", help="as for train")
    lr_find.add_argument(
        "--optimizer",
        action="append",
        metavar="[PHASE=]NAME",
        help="the optimizer swept, as for train (default: the strategy table's)",
    )
    lr_find.add_argument(
        "--precision",
        default=RunConfig.default("precision"),
        choices=PRECISIONS,
        help="as for train (default: %(default)s)",
    )
    lr_find.add_argument("--json", action="store_true", help="print one JSON object")


def _compare_parser(sub) -> None:
    from core.jobs import runs

    compare = sub.add_parser(
        "compare", help="train several strategies, each over several seeds, on one split"
    )
    _run_settings(compare, single_strategy=False)
    compare.add_argument(
        "--strategies",
        default=",".join(strategies.STRATEGIES),
        metavar="A,B,...",
        help="comma-separated strategies (default: %(default)s)",
    )
    compare.add_argument(
        "--seeds",
        type=int,
        default=runs.DEFAULT_SEEDS,
        metavar="N",
        help="runs per strategy, with training seeds SEED, SEED+1, ... (default: %(default)s)",
    )
    compare.add_argument(
        "--repeat-splits",
        action="store_true",
        help="draw a new split for each seed too (default: one split for every run)",
    )
    compare.add_argument("--json", action="store_true", help="end with the summary as JSON")
    compare.add_argument("--quiet", action="store_true", help="no progress lines")
    add_engine_arguments(compare)


def _runs_parsers(sub) -> None:
    """`runs` lists (the default) and manages runs: rename, tag, delete."""
    from core.runs.store import ACTIVE, FINISHED

    runs = sub.add_parser("runs", help="list, rename, tag or delete runs (default: list)")
    action = runs.add_subparsers(dest="runs_action", metavar="ACTION")
    listing = action.add_parser("list", help="list runs, newest first, optionally filtered")
    listing.add_argument("--dataset", metavar="NAME", help="only runs on this dataset folder name")
    listing.add_argument("--strategy", metavar="KEY", help="only this strategy (or probe)")
    listing.add_argument("--tag", action="append", default=[], metavar="TAG", help="repeatable")
    listing.add_argument(
        "--status",
        choices=[*ACTIVE, *FINISHED],
        metavar="STATUS",
        help=f"only runs in this state: {', '.join([*ACTIVE, *FINISHED])}",
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per run")
    rename = action.add_parser("rename", help="give a run a display name (its id stays)")
    rename.add_argument("run", metavar="RUN", help="run id (or a unique prefix)")
    rename.add_argument("name", metavar="NAME", help='the new name ("" removes it)')
    tag = action.add_parser("tag", help="add or remove free-text tags")
    tag.add_argument("run", metavar="RUN", help="run id (or a unique prefix)")
    tag.add_argument("--add", action="append", default=[], metavar="TAG", help="repeatable")
    tag.add_argument("--remove", action="append", default=[], metavar="TAG", help="repeatable")
    delete = action.add_parser("delete", help="delete a finished run and its files")
    delete.add_argument("run", metavar="RUN", help="run id (or a unique prefix)")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    for command in action.choices.values():
        command.add_argument("--home", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def add_engine_arguments(command: argparse.ArgumentParser) -> None:
    """--engine, --ray-address, --ray-shared-data: where a command's runs execute (read them
    back with engine_from_args)."""
    from core.jobs import engines

    command.add_argument(
        "--engine",
        choices=engines.ENGINES,
        default=None,
        help=f"where runs execute: the local worker, or a Ray cluster (default: ray when "
        f"${engines.RAY_ADDRESS_ENV} is set, else local)",
    )
    command.add_argument(
        "--ray-address",
        metavar="ADDR",
        default=None,
        help="ray only: auto (a cluster started on this machine with `ray start --head`), "
        "local (a private one, for this session), or HOST:PORT / ray://HOST:10001 "
        f"(default: ${engines.RAY_ADDRESS_ENV}, else auto)",
    )
    command.add_argument(
        "--ray-shared-data",
        action="store_true",
        help="ray only: the dataset folder has the same path on every node (no copy is sent)",
    )


def engine_from_args(args):
    """The Engine the --engine options choose ($STUDIO_RAY_ADDRESS fills in what is not given);
    a contradiction is bad input."""
    from core.jobs import engines

    env = engines.Engine.from_environment()
    address = args.ray_address or (env.address if args.engine != engines.LOCAL else None)
    kind = args.engine or (engines.RAY if address else engines.LOCAL)
    try:
        return engines.Engine.choose(kind, address, args.ray_shared_data or env.shared_data)
    except ValueError as exc:
        raise CliError(str(exc)) from None


# -- commands ---------------------------------------------------------------------------------
class _ScanLines:
    """A long scan's progress on stderr: one line rewritten in place on a terminal, else a
    line every LOG_SECONDS; nothing for a scan done within the first QUIET_SECONDS."""

    QUIET_SECONDS, TERMINAL_SECONDS, LOG_SECONDS = 1.0, 0.25, 10.0

    def __init__(self, stream):
        self.stream, self.shown = stream, None  # seconds into the scan of the last line
        self.terminal = stream.isatty()

    def _due(self, progress) -> bool:
        if self.shown is None:
            return progress.seconds >= self.QUIET_SECONDS
        if progress.done == progress.total:
            return True  # the last word, once something was said
        every = self.TERMINAL_SECONDS if self.terminal else self.LOG_SECONDS
        return progress.seconds - self.shown >= every

    def __call__(self, progress) -> None:
        from core.reports.report import scan_words

        if not self._due(progress):
            return
        self.shown = progress.seconds
        words = scan_words(progress)
        if self.terminal:
            end = "\n" if progress.done == progress.total else ""
            print(f"\r{words}\033[K", end=end, file=self.stream, flush=True)
        else:
            print(words, file=self.stream, flush=True)


def _scan_or_fail(folder: str, val_dir: str | None, home: str | None = None):
    """The dataset as the app sees it: images, or audio clips (a run renders their spectrograms),
    with the edits made on the Data page (the overlay kept in the studio home) applied."""
    from core.data import audio, datasets, overlay
    from core.data.scan_cache import ScanCache

    edits = overlay.load(settings.home_path(home), folder)
    cache = ScanCache(settings.home_path(home))  # the page's and the worker's: read once
    try:
        found = audio.scan_dataset(folder, val_dir, edits, cache, _ScanLines(sys.stderr))
    except datasets.DatasetError as exc:
        raise CliError(str(exc)) from None
    return found


def cmd_inspect(args) -> int:
    found = _scan_or_fail(args.dir, args.val_dir, args.home)
    summary = found.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{found.root}: {len(found.items)} {found.media.noun}s, {len(found.classes)} classes "
            f"({found.layout} layout)"
        )
        for name, count in found.counts().items():
            print(f"  {name}: {count}")
        for file, reason in found.unreadable:
            print(f"  unreadable: {file}: {reason}")
        for line in found.warnings:
            print(f"warning: {line}")
        for line in found.errors:
            print(f"error: {line}")
    return 0 if found.ok else EXIT_BAD_INPUT


def _weights_setting(text: str | None) -> str:
    """--weights (or $VGG16_WEIGHTS) as a run setting: 'imagenet', 'none' or an absolute path."""
    from core.model.weights import WeightsSpec

    spec = WeightsSpec.parse(text)
    if problem := spec.problem():
        raise CliError(problem)
    return spec.setting


def _config_from(args):
    weights = _weights_setting(args.weights)
    return RunConfig(
        dataset=str(args.dir),
        val_dir=args.val_dir,
        strategy=getattr(args, "strategy", RunConfig.default("strategy")),  # compare: several
        layer=args.layer,
        unfreeze_blocks=args.unfreeze_blocks,
        image_size=args.image_size,
        epochs=args.epochs,
        finetune_epochs=args.finetune_epochs,
        batch_size=args.batch_size,
        augment=args.augment,
        augment_kind=args.augment_kind,
        weights=weights,
        seed=args.seed,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        precision=args.precision,
        early_stopping_patience=args.early_stopping_patience,
        **_phase_overrides(args),
    )


def _phase_overrides(args) -> dict:
    """`train`'s --optimizer and --lr as RunConfig overrides (`compare` trains several
    strategies, whose phases differ: it has neither flag)."""
    strategy = getattr(args, "strategy", None)
    if strategy is None:
        return {}
    return dict(
        optimizers=_per_phase(args.optimizer, strategy, "--optimizer", str),
        learning_rates=_per_phase(args.lr, strategy, "--lr", float),
    )


def _stage_line(progress) -> str | None:
    """A progress line worth printing: stage changes, and extraction (or the learning-rate
    sweep) in steps of 10%."""
    stage, message = progress.stage, progress.message
    if not message or stage == "training":
        return None  # training prints one line per epoch instead
    what = {"extracting": "VGG16 features", "finding": "learning-rate sweep"}.get(stage)
    if what and progress.steps:
        return f"{stage}: {what}, {10 * (10 * (progress.step or 0) // progress.steps)}%"
    return f"{stage}: {message}"


def _follow(store, run_id: str, quiet: bool, on_interrupt=None) -> None:
    """Print progress until the run finishes; Ctrl-C asks the run to stop (or calls
    on_interrupt: a comparison stops as a whole)."""
    from core.jobs import engines, worker
    from core.runs import store as store_mod

    seq, last_stage = 0, None
    while True:
        try:
            worker.reap(store, start=False)  # the CLI starts its own short-lived worker below
            run = store.get(run_id)
            if run.status == store_mod.QUEUED:
                engine = engines.remembered(store.home) if run.engine == engines.RAY else None
                worker.start_worker(store.home, CLI_IDLE_SECONDS, engine)  # no-op while one runs
            for metric in store.metrics_since(run_id, seq, kind="epoch"):
                seq = metric.seq
                if not quiet:
                    values = " ".join(
                        f"{k} {v:.4f}"
                        for k, v in metric.data.items()
                        if k in ("loss", "accuracy", "val_loss", "val_accuracy")
                    )
                    print(
                        f"epoch {metric.epoch} [{metric.phase}] {values} "
                        f"({metric.data.get('seconds', 0):.1f}s)",
                        flush=True,
                    )
            stage = _stage_line(run.progress)
            if not quiet and stage and stage != last_stage:
                print(stage, flush=True)
                last_stage = stage
            if run.status in store_mod.FINISHED:
                return
            time.sleep(0.5)
        except KeyboardInterrupt:
            print("stopping (within one batch)...", file=sys.stderr, flush=True)
            (on_interrupt or store.request_stop)(run_id)


def cmd_train(args) -> int:
    from core.jobs import runs
    from core.runs.store import DONE, Store

    config = _config_from(args)
    problems = config.problems()
    if problems:
        raise CliError("; ".join(problems))
    found = _scan_or_fail(config.dataset, config.val_dir, args.home)
    if not found.ok:
        raise CliError("; ".join(found.errors))
    store = Store(args.home)
    engine = engine_from_args(args)
    run = _queued(
        runs.start_training(
            store, config, owner=runs.CLI_OWNER, idle_seconds=CLI_IDLE_SECONDS, engine=engine
        )
    )
    if not args.quiet:
        print(
            f"run {run.id}: {config.strategy} on {found.root} "
            f"({len(found.items)} {found.media.noun}s, {len(found.classes)} classes)"
            + (f", on {engine.describe()}" if engine.is_ray else ""),
            flush=True,
        )
    _follow(store, run.id, args.quiet)
    run = store.get(run.id)
    if run.status != DONE and run.error:
        print(f"error: {run.error}", file=sys.stderr)
    print(json.dumps(result_line(run)), flush=True)
    return 0 if run.status == DONE else EXIT_RUN_FAILED


def _strategy_keys(text: str) -> list[str]:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in keys if k not in strategies.STRATEGIES]
    if unknown or not keys:
        raise CliError(
            f"unknown strategies: {', '.join(unknown) or '(none given)'}; choose from "
            f"{', '.join(strategies.STRATEGIES)}"
        )
    return list(dict.fromkeys(keys))


def cmd_compare(args) -> int:
    from core.jobs import runs
    from core.reports import comparison
    from core.runs.store import DONE, Store

    keys = _strategy_keys(args.strategies)
    config = _config_from(args)
    if problems := config.problems():
        raise CliError("; ".join(problems))
    found = _scan_or_fail(config.dataset, config.val_dir)
    if not found.ok:
        raise CliError("; ".join(found.errors))
    store = Store(args.home)
    queued = _queued(
        runs.start_comparison(
            store,
            found,
            config,
            keys,
            owner=runs.CLI_OWNER,
            seeds=args.seeds,
            repeat_splits=args.repeat_splits,
            idle_seconds=CLI_IDLE_SECONDS,
            engine=engine_from_args(args),
        )
    )
    group = queued[0].group_id

    def stop_all(_run_id: str) -> None:
        runs.stop_comparison(store, group)

    for k, run in enumerate(queued, start=1):
        if not args.quiet:
            print(
                f"run {k} of {len(queued)} ({run.id}): {run.strategy}, seed {run.config.seed}",
                flush=True,
            )
        _follow(store, run.id, args.quiet, on_interrupt=stop_all)
    ended = [store.get(r.id) for r in queued]
    summary = comparison.summary_of(store, ended)
    print("\n".join(comparison.describe(summary)), flush=True)
    unfinished = [r for r in ended if r.status != DONE]
    if unfinished:
        print(f"error: {_unfinished_words(unfinished, len(ended))}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary.to_json()), flush=True)
    return EXIT_RUN_FAILED if unfinished else 0


def _unfinished_words(unfinished, total: int) -> str:
    """One line: which runs of a comparison did not finish, and why."""
    listed = "; ".join(
        f"{r.strategy} seed {r.config.seed} {r.status}" + (f" ({r.error})" if r.error else "")
        for r in unfinished
    )
    return f"{len(unfinished)} of {total} runs did not finish: {listed}"


def cmd_lr_find(args) -> int:
    from core.jobs import runs
    from core.runs.store import DONE, Store

    config = RunConfig(
        dataset=str(args.dir),
        val_dir=args.val_dir,
        strategy=args.strategy,
        image_size=args.image_size,
        batch_size=args.batch_size,
        weights=_weights_setting(args.weights),
        seed=args.seed,
        precision=args.precision,
        optimizers=_per_phase(args.optimizer, args.strategy, "--optimizer", str),
        task="lr_find",
    )
    if problems := config.problems():
        raise CliError("; ".join(problems))
    found = _scan_or_fail(config.dataset, config.val_dir)
    if not found.ok:
        raise CliError("; ".join(found.errors))
    store = Store(args.home)
    run = _queued(
        runs.start_lr_find(store, config, owner=runs.CLI_OWNER, idle_seconds=CLI_IDLE_SECONDS)
    )
    _follow(store, run.id, quiet=args.json)
    run = store.get(run.id)
    result = run.lr_find_result
    if args.json:
        print(json.dumps(lr_find_line(run)), flush=True)
    elif run.status != DONE or result is None:
        raise CliError(run.error or f"the learning-rate finder ended as {run.status}")
    else:
        print(_lr_find_words(run, args.dir))
    return 0 if run.status == DONE else EXIT_RUN_FAILED


def lr_find_line(run) -> dict:
    """The JSON object `lr-find --json` prints (its keys are a stable interface for scripts)."""
    from core.runs.results import LrFindResult

    result = run.lr_find_result or LrFindResult()
    return {
        "run_id": run.id,
        "status": run.status,
        "strategy": run.strategy,
        "phase": result.phase or None,
        "optimizer": result.optimizer or None,
        "suggested_learning_rate": result.suggestion,
        "current_learning_rate": result.current_rate,
        "rule": result.rule or None,
        "steps": len(result.learning_rates),
        "diverged": result.diverged,
        "note": result.note,
        "error": run.error,
    }


def _lr_find_words(run, folder: str) -> str:
    result = run.lr_find_result
    title = strategies.OPTIMIZERS.get(result.optimizer, result.optimizer)
    head = f"phase '{result.phase}' of {run.strategy} ({title}, {result.trained_on})"
    if result.suggestion is None:
        return f"no rate suggested for {head}: {result.note}"
    return (
        f"suggested learning rate for {head}: {result.suggestion:g} "
        f"(the strategy's setting: {result.current_rate:g})\n"
        f"rule: {result.rule}\n"
        f"use it: python -m core train {folder} --strategy {run.strategy} "
        f"--optimizer {result.phase}={result.optimizer} --lr {result.phase}={result.suggestion:g}"
    )


def result_line(run) -> dict:
    """The JSON line `train` ends with (its keys are a stable interface for scripts).
    test_accuracy is the reported score (None without a test side); val_accuracy is the
    validation score of the epoch kept, optimistic."""
    from core.runs.results import RunResult

    result = run.training_result or RunResult()
    return {
        "run_id": run.id,
        "status": run.status,
        "strategy": run.strategy,
        "val_accuracy": result.val_accuracy,
        "val_loss": result.val_loss,
        "epochs_run": result.epochs_run,
        "train_seconds": result.train_seconds or run.seconds,
        "model_path": run.model_path,
        "weights": result.weights,
        "error": run.error,
        "test_accuracy": result.test_accuracy,
        "test_loss": result.test_loss,
        "test_images": result.test_images,
        "test_interval": list(result.test_interval) if result.test_interval else None,
        "caution": result.caution,
    }


def cmd_predict(args) -> int:
    from core.data.audio import UnreadableAudio
    from core.data.imaging import UnreadableImage
    from core.export import predict
    from core.runs.store import Store

    try:
        loaded = predict.load(Store(args.home), args.model)
    except predict.ModelRefused as exc:
        raise CliError(str(exc)) from None
    results, failed = [], 0
    for path in args.images:
        try:
            image = predict.image_for(loaded, path)
            top = predict.top_k(loaded, [image], args.top_k)[0]
            results.append({"image": path, "top": top})
        except (UnreadableImage, UnreadableAudio, OSError) as exc:
            failed += 1
            results.append({"image": path, "error": str(exc)})
    for entry in results:
        if args.json:
            print(json.dumps(entry))
        elif "error" in entry:
            print(f"{entry['image']}: error: {entry['error']}")
        else:
            ranked = ", ".join(f"{t['class']} {t['probability']:.3f}" for t in entry["top"])
            print(f"{entry['image']}: {ranked}")
    return EXIT_BAD_INPUT if failed else 0


def _queued(outcome):
    """The run core.jobs.runs queued, or its refusal (another run under way, a setting) as the
    CLI's one-line error: the command line obeys the same rules as the pages."""
    from core.jobs import runs

    if isinstance(outcome, runs.Refused):
        raise CliError(outcome.reason)
    return outcome


def cmd_advise(args) -> int:
    from core.jobs import runs
    from core.runs.store import DONE, Store

    found = _scan_or_fail(args.dir, args.val_dir, args.home)
    if not found.ok:
        raise CliError("; ".join(found.errors))
    store = Store(args.home)
    config = RunConfig(
        dataset=args.dir,
        val_dir=args.val_dir,
        strategy="linear",
        task="probe",
        image_size=args.image_size,
        weights=_weights_setting(args.weights),
        seed=args.seed,
        probe_max_per_class=args.max_per_class,
    )
    if problems := config.problems():
        raise CliError("; ".join(problems))
    run = _queued(
        runs.queue_probe(store, config, owner=runs.CLI_OWNER, idle_seconds=CLI_IDLE_SECONDS)
    )
    _follow(store, run.id, quiet=True)
    run = store.get(run.id)
    if run.status != DONE:
        raise CliError(run.error or f"the probe ended as {run.status}")
    print(json.dumps(run.result.to_json() if run.result else {}))
    return 0


def cmd_bench(args) -> int:
    from core.cli import bench

    if args.engines:
        return _bench_engines(args)

    _weights_setting(args.weights)  # a missing file is bad input, said in one line
    if args.image_size < vgg16.MIN_IMAGE_SIZE or args.images < 2 or args.batch_size < 1:
        raise CliError(
            f"bench needs --image-size >= {vgg16.MIN_IMAGE_SIZE}, --images >= 2 "
            "and --batch-size >= 1"
        )
    report = bench.run(
        image_size=args.image_size,
        images=args.images,
        batch_size=args.batch_size,
        weights=args.weights,
        precision=args.precision,
        home=settings.studio_home(args.home),
    )
    if not args.json:
        print(bench.describe(report), file=sys.stderr)
    print(json.dumps(report))
    return 0


def _bench_engines(args) -> int:
    import tempfile
    from pathlib import Path

    from core.cli import bench
    from core.jobs import engines

    if not engines.ray_installed():
        raise CliError(f"bench --engines needs Ray: pip install '{engines.RAY_REQUIREMENT}'")
    with tempfile.TemporaryDirectory(prefix="studio-bench-engines-") as folder:
        report = bench.compare_engines(Path(folder))
    if not args.json:
        print(bench.describe_engines(report), file=sys.stderr)
    print(json.dumps(report))
    return 0


def cmd_sample(args) -> int:
    from core.data import samples
    from core.data.keras_datasets import old_layout_note

    try:
        folder = samples.prepare(args.name, args.home, args.per_class)
    except (samples.SampleUnavailable, ValueError) as exc:
        raise CliError(str(exc)) from None
    if note := old_layout_note(folder):  # a Keras sample written before test/ existed
        print(f"note: {note}", file=sys.stderr)
    print(folder)  # last: the Data page reads the folder from the last line
    return 0


def cmd_runs(args) -> int:
    from core.jobs import worker
    from core.runs.store import Store

    store = Store(args.home)
    worker.reap(store)
    action = getattr(args, "runs_action", None) or "list"
    return RUNS_ACTIONS[action](store, args)


def _runs_list(store, args) -> int:
    from core.jobs import run_admin
    from core.reports import report

    wanted = run_admin.RunFilter(
        datasets=(args.dataset,) if getattr(args, "dataset", None) else (),
        strategies=(args.strategy,) if getattr(args, "strategy", None) else (),
        tags=tuple(getattr(args, "tag", ())),
        statuses=(args.status,) if getattr(args, "status", None) else (),
    )
    for run in run_admin.filter_runs(store.list(limit=100_000), wanted):
        if getattr(args, "json", False):
            print(json.dumps(_run_json(run)))
            continue
        scores = " ".join(
            f"{name} {value:.3f}" if isinstance(value, float) else f"{name} -"
            for name, value in (("test_acc", run.test_accuracy), ("val_acc", run.val_accuracy))
        )
        tags = f"  [{', '.join(run.tags)}]" if run.tags else ""
        print(f"{run.id}  {run.status:<11} {scores}  {report.run_title(run)}{tags}")
    return 0


def _run_json(run) -> dict:
    """`runs list --json`: one object per run (its keys are a stable interface for scripts)."""
    from core.reports import report

    return {
        "run_id": run.id,
        "name": run.display_name,
        "title": report.run_title(run),
        "status": run.status,
        "strategy": run.strategy,
        "task": run.config.task,
        "weights": report.weights_label(run),
        "image_size": run.config.image_size,
        "dataset": run.dataset,
        "tags": list(run.tags),
        "test_accuracy": run.test_accuracy,
        "val_accuracy": run.val_accuracy,
        "group_id": run.group_id,
        "created": run.created,
    }


def _admin(outcome):
    """The run core.jobs.run_admin changed, or its refusal as the CLI's one-line error."""
    from core.jobs import runs

    if isinstance(outcome, runs.Refused):
        raise CliError(outcome.reason)
    return outcome


def _runs_rename(store, args) -> int:
    from core.jobs import run_admin
    from core.reports import report

    run = _admin(run_admin.rename(store, _run_or_fail(store, args.run).id, args.name))
    print(f"{run.id}  {report.run_title(run)}")
    return 0


def _runs_tag(store, args) -> int:
    from core.jobs import run_admin

    if not (args.add or args.remove):
        raise CliError("say which tags to --add or --remove")
    run = _run_or_fail(store, args.run)
    for tag in args.add:
        run = _admin(run_admin.add_tag(store, run.id, tag))
    for tag in args.remove:
        run = _admin(run_admin.remove_tag(store, run.id, tag))
    print(f"{run.id}  tags: {', '.join(run.tags) or '(none)'}")
    return 0


def _runs_delete(store, args) -> int:
    from core.jobs import run_admin
    from core.reports import report

    run = _run_or_fail(store, args.run)
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError(f"deleting {run.id} removes its files: add --yes to confirm")
        answer = input(f"Delete {report.run_title(run)} ({run.id}) and its files? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted", file=sys.stderr)
            return 0
    print(_admin(run_admin.delete(store, run.id)).describe())
    return 0


RUNS_ACTIONS = {
    "list": _runs_list,
    "rename": _runs_rename,
    "tag": _runs_tag,
    "delete": _runs_delete,
}


def _run_or_fail(store, ref: str):
    run = store.find(ref)
    if run is None:
        raise CliError(f"no run matches {ref!r}")
    return run


def cmd_stop(args) -> int:
    from core.runs.store import Store

    store = Store(args.home)
    print(store.request_stop(_run_or_fail(store, args.run).id).status)
    return 0


def cmd_resume(args) -> int:
    from core.jobs import worker
    from core.runs.store import Store

    store = Store(args.home)
    worker.reap(store)
    try:
        run = worker.resume(store, _run_or_fail(store, args.run).id)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print(f"{run.id} {run.status}")
    return 0


def cmd_worker(args) -> int:
    import logging

    from core.jobs import worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # a worker is local unless told otherwise ($STUDIO_RAY_ADDRESS is for what queues runs)
    engine = engine_from_args(args) if args.engine or args.ray_address else None
    worker.serve(args.home, idle_seconds=args.idle_seconds, once=args.once, engine=engine)
    return 0


# -- take the model away: export, bundle, reproduce -------------------------------------------
def _take_away_parsers(sub) -> None:
    from core.export.export import FORMATS

    export = sub.add_parser("export", help="write a run's model for use outside the studio")
    export.add_argument("run", metavar="RUN", help="run id (or a unique prefix)")
    export.add_argument("--format", required=True, choices=list(FORMATS), help="the file format")
    export.add_argument(
        "--out", metavar="PATH", help="where to write it (default: the run's export/ folder)"
    )

    bundle = sub.add_parser("bundle", help="one zip with everything to reuse or reproduce a run")
    bundle.add_argument("run", metavar="RUN", help="run id (or a unique prefix)")
    bundle.add_argument("--out", metavar="PATH", help="the zip (default: in the run's folder)")

    page = sub.add_parser("report", help="a shareable HTML page of a run or of a comparison")
    which = page.add_mutually_exclusive_group(required=True)
    which.add_argument("run", metavar="RUN", nargs="?", help="run id (or a unique prefix)")
    which.add_argument(
        "--group",
        metavar="ID",
        help="a comparison: its group id, or the id of any of its runs (every strategy and seed)",
    )
    page.add_argument(
        "--out", metavar="PATH", help="the .html file (default: in the run's or studio's folder)"
    )

    reproduce = sub.add_parser("reproduce", help="train a bundle's config again, compare")
    reproduce.add_argument("source", metavar="BUNDLE_OR_RUN", help="a bundle zip, or a run id")
    reproduce.add_argument(
        "--dataset", metavar="DIR", help="where the same files are now, if they moved"
    )
    reproduce.add_argument(
        "--val-dir", metavar="DIR", help="the separate validation folder, if it moved"
    )
    reproduce.add_argument("--quiet", action="store_true", help="print only the final JSON line")


def cmd_export(args) -> int:
    from core.export import export
    from core.runs.store import Store

    try:
        made = export.export(Store(args.home), args.run, args.format, args.out)
    except export.ExportRefused as exc:
        raise CliError(str(exc)) from None
    check = made.check
    print(
        f"{made.format}: {made.path} ({made.size_bytes / 1e6:.1f} MB), checked on "
        f"{check.images} validation images: largest probability difference "
        f"{check.max_difference:.2g} (tolerance {check.tolerance:g})",
        file=sys.stderr,
    )
    if made.quantisation is not None:
        print(made.quantisation.describe(), file=sys.stderr)
    print(json.dumps(dataclasses.asdict(made), default=str))
    return 0


def cmd_bundle(args) -> int:
    from core.export import bundle
    from core.runs.store import Store

    try:
        made = bundle.write(Store(args.home), args.run, args.out)
    except bundle.BundleRefused as exc:
        raise CliError(str(exc)) from None
    print(f"{made.path}: {len(made.files)} files, {made.size_bytes / 1e6:.1f} MB", file=sys.stderr)
    print(
        json.dumps({"path": str(made.path), "files": made.files, "fingerprint": made.fingerprint})
    )
    return 0


def cmd_report(args) -> int:
    from pathlib import Path

    from core.export import bundle
    from core.platform.fileio import atomic_write_text
    from core.reports import comparison_report
    from core.runs.store import Store

    store = Store(args.home)
    try:
        if args.group is not None:
            group_id, runs = comparison_report.group_runs(store, args.group)
            page = comparison_report.render(comparison_report.gather(store, runs, group_id))
            default = store.home / "reports" / f"comparison-{group_id}.html"
        else:
            run = _run_or_fail(store, args.run)
            page, runs = bundle.report(store, run.id), [run]
            default = store.run_dir(run.id) / "report.html"
    except (comparison_report.ComparisonReportRefused, bundle.BundleRefused) as exc:
        raise CliError(str(exc)) from None
    target = Path(args.out) if args.out else default
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, page)
    print(f"{target}: {len(runs)} run(s), {len(page) / 1e6:.1f} MB", file=sys.stderr)
    print(json.dumps({"path": str(target), "runs": [r.id for r in runs]}))
    return 0


def cmd_reproduce(args) -> int:
    from core.export import reproduce
    from core.jobs import runs
    from core.runs.store import DONE, Store

    store = Store(args.home)
    try:
        plan = reproduce.plan(store, args.source, args.dataset, args.val_dir)
    except (reproduce.ReproduceRefused, ValueError) as exc:  # BundleRefused is a ValueError
        raise CliError(str(exc)) from None
    for line in plan.warnings:
        print(f"warning: {line}", file=sys.stderr, flush=True)
    run = _queued(
        runs.start_training(store, plan.config, owner=runs.CLI_OWNER, idle_seconds=CLI_IDLE_SECONDS)
    )
    if not args.quiet:
        print(f"run {run.id}: training {args.source} again", flush=True)
    _follow(store, run.id, args.quiet)
    run = store.get(run.id)
    if run.status != DONE:
        raise CliError(run.error or f"the new run ended as {run.status}")
    outcome = reproduce.compare(plan, run.id, run.training_result)
    print(outcome.describe(), file=sys.stderr)
    print(json.dumps(dataclasses.asdict(outcome)), flush=True)
    return 0 if outcome.matches else EXIT_RUN_FAILED


COMMANDS = {
    "inspect": cmd_inspect,
    "train": cmd_train,
    "compare": cmd_compare,
    "lr-find": cmd_lr_find,
    "predict": cmd_predict,
    "advise": cmd_advise,
    "bench": cmd_bench,
    "sample": cmd_sample,
    "runs": cmd_runs,
    "stop": cmd_stop,
    "resume": cmd_resume,
    "worker": cmd_worker,
    "export": cmd_export,
    "bundle": cmd_bundle,
    "report": cmd_report,
    "reproduce": cmd_reproduce,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the contract: one line, never a traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
