"""Commands that run something on a dataset: train, compare, lr-find, advise.

Each queues its runs through core.jobs.runs (the same rules as the pages), follows them, and
ends with one JSON line whose keys are a stable interface for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from core.cli import common, flags
from core.cli.common import CLI_IDLE_SECONDS, EXIT_RUN_FAILED, CliError
from core.runs import strategies
from core.runs.config import RunConfig

# the run settings train and compare share, in the order --help lists them
RUN_SETTINGS = (
    "layer",
    "unfreeze_blocks",
    "image_size",
    "epochs",
    "finetune_epochs",
    "batch_size",
    "augment",
    "augment_kind",
    "weights",
    "seed",
    "val_fraction",
    "test_fraction",
    "precision",
    "early_stopping_patience",
)


def register(sub: Any) -> None:
    train = sub.add_parser("train", help="train on a dataset folder; the last line is JSON")
    flags.add_dataset_arguments(train)
    flags.add_run_flags(train, "strategy", *RUN_SETTINGS)
    flags.add_phase_flags(train)
    train.add_argument("--quiet", action="store_true", help="print only the final JSON line")
    flags.add_engine_arguments(train)
    train.set_defaults(func=cmd_train)
    _register_compare(sub)
    _register_lr_find(sub)
    _register_advise(sub)


def _register_compare(sub: Any) -> None:
    from core.jobs import runs

    compare = sub.add_parser(
        "compare", help="train several strategies, each over several seeds, on one split"
    )
    flags.add_dataset_arguments(compare)
    flags.add_run_flags(compare, *RUN_SETTINGS)
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
    flags.add_engine_arguments(compare)
    compare.set_defaults(func=cmd_compare)


def _register_lr_find(sub: Any) -> None:
    lr_find = sub.add_parser(
        "lr-find", help="learning-rate range test of a strategy's first phase; suggests a rate"
    )
    flags.add_dataset_arguments(lr_find)
    # only a strategy trained by Keras has a learning rate to sweep
    flags.add_run_flag(
        lr_find,
        "strategy",
        choices=[k for k, s in strategies.STRATEGIES.items() if not s.closed_form],
        help="whose first Keras phase is swept (default: %(default)s)",
    )
    flags.add_run_flags(lr_find, "image_size", "batch_size", "seed", "weights")
    flags.add_phase_flags(lr_find, rates=False)
    flags.add_run_flag(lr_find, "precision")
    lr_find.add_argument("--json", action="store_true", help="print one JSON object")
    lr_find.set_defaults(func=cmd_lr_find)


def _register_advise(sub: Any) -> None:
    advise = sub.add_parser("advise", help="measure which strategy fits a dataset (JSON)")
    flags.add_dataset_arguments(advise)
    flags.add_run_flags(advise, "image_size", "weights", "probe_max_per_class", "seed")
    advise.set_defaults(func=cmd_advise)


# -- train ------------------------------------------------------------------------------------
def config_from(args: argparse.Namespace) -> RunConfig:
    """The RunConfig of `train` (or `compare`, which has no --strategy, --optimizer, --lr)."""
    settings = {name: getattr(args, name) for name in RUN_SETTINGS}
    settings["weights"] = common.weights_setting(args.weights)
    return RunConfig(
        dataset=str(args.dir),
        val_dir=args.val_dir,
        strategy=getattr(args, "strategy", RunConfig.default("strategy")),  # compare: several
        **settings,
        **_phase_overrides(args),
    )


def _phase_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """`train`'s --optimizer and --lr as RunConfig overrides (`compare` trains several
    strategies, whose phases differ: it has neither flag)."""
    strategy = getattr(args, "strategy", None)
    if strategy is None:
        return {}
    return dict(
        optimizers=flags.per_phase(args.optimizer, strategy, "--optimizer", str),
        learning_rates=flags.per_phase(args.lr, strategy, "--lr", float),
    )


def cmd_train(args: argparse.Namespace) -> int:
    from core.jobs import runs
    from core.runs.store import DONE, Store

    config = common.checked(config_from(args))
    found = common.usable_dataset(config.dataset, config.val_dir, args.home)
    store = Store(args.home)
    engine = flags.engine_from_args(args)
    if not engine.is_ray:  # a GPU the driver lists but TensorFlow cannot use: said once, here
        from core.model import device_facts

        if mismatch := device_facts.mismatch_for(store.home):
            print(f"warning: {mismatch}", file=sys.stderr, flush=True)
    run = common.accepted(
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
    common.follow(store, run.id, args.quiet)
    run = store.get(run.id)
    if run.status != DONE and run.error:
        print(f"error: {run.error}", file=sys.stderr)
    print(json.dumps(result_line(run)), flush=True)
    return 0 if run.status == DONE else EXIT_RUN_FAILED


def result_line(run: Any) -> dict[str, Any]:
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
        "device": result.device.to_json() if result.device else None,
    }


# -- compare ----------------------------------------------------------------------------------
def _strategy_keys(text: str) -> list[str]:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in keys if k not in strategies.STRATEGIES]
    if unknown or not keys:
        raise CliError(
            f"unknown strategies: {', '.join(unknown) or '(none given)'}; choose from "
            f"{', '.join(strategies.STRATEGIES)}"
        )
    return list(dict.fromkeys(keys))


def _queue_comparison(args: argparse.Namespace) -> tuple[Any, list[Any]]:
    """The store and the comparison's queued runs (one per strategy and seed)."""
    from core.jobs import runs
    from core.runs.store import Store

    keys = _strategy_keys(args.strategies)
    config = common.checked(config_from(args))
    found = common.usable_dataset(config.dataset, config.val_dir, args.home)
    store = Store(args.home)
    queued = common.accepted(
        runs.start_comparison(
            store,
            found,
            config,
            keys,
            owner=runs.CLI_OWNER,
            seeds=args.seeds,
            repeat_splits=args.repeat_splits,
            idle_seconds=CLI_IDLE_SECONDS,
            engine=flags.engine_from_args(args),
        )
    )
    return store, queued


def cmd_compare(args: argparse.Namespace) -> int:
    from core.jobs import runs
    from core.reports import comparison
    from core.runs.store import DONE

    store, queued = _queue_comparison(args)
    group = queued[0].group_id

    def stop_all(_run_id: str) -> None:
        runs.stop_comparison(store, group)

    for k, run in enumerate(queued, start=1):
        if not args.quiet:
            print(
                f"run {k} of {len(queued)} ({run.id}): {run.strategy}, seed {run.config.seed}",
                flush=True,
            )
        common.follow(store, run.id, args.quiet, on_interrupt=stop_all)
    ended = [store.get(r.id) for r in queued]
    summary = comparison.summary_of(store, ended)
    print("\n".join(comparison.describe(summary)), flush=True)
    unfinished = [r for r in ended if r.status != DONE]
    if unfinished:
        print(f"error: {_unfinished_words(unfinished, len(ended))}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary.to_json()), flush=True)
    return EXIT_RUN_FAILED if unfinished else 0


def _unfinished_words(unfinished: list[Any], total: int) -> str:
    """One line: which runs of a comparison did not finish, and why."""
    listed = "; ".join(
        f"{r.strategy} seed {r.config.seed} {r.status}" + (f" ({r.error})" if r.error else "")
        for r in unfinished
    )
    return f"{len(unfinished)} of {total} runs did not finish: {listed}"


# -- lr-find ----------------------------------------------------------------------------------
def _lr_find_config(args: argparse.Namespace) -> RunConfig:
    return RunConfig(
        dataset=str(args.dir),
        val_dir=args.val_dir,
        strategy=args.strategy,
        image_size=args.image_size,
        batch_size=args.batch_size,
        weights=common.weights_setting(args.weights),
        seed=args.seed,
        precision=args.precision,
        optimizers=flags.per_phase(args.optimizer, args.strategy, "--optimizer", str),
        task="lr_find",
    )


def cmd_lr_find(args: argparse.Namespace) -> int:
    from core.jobs import runs
    from core.runs.store import DONE, Store

    config = common.checked(_lr_find_config(args))
    common.usable_dataset(config.dataset, config.val_dir, args.home)
    store = Store(args.home)
    run = common.accepted(
        runs.start_lr_find(store, config, owner=runs.CLI_OWNER, idle_seconds=CLI_IDLE_SECONDS)
    )
    common.follow(store, run.id, quiet=args.json)
    run = store.get(run.id)
    result = run.lr_find_result
    if args.json:
        print(json.dumps(lr_find_line(run)), flush=True)
    elif run.status != DONE or result is None:
        raise CliError(run.error or f"the learning-rate finder ended as {run.status}")
    else:
        print(_lr_find_words(run, args.dir))
    return 0 if run.status == DONE else EXIT_RUN_FAILED


def lr_find_line(run: Any) -> dict[str, Any]:
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


def _lr_find_words(run: Any, folder: str) -> str:
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


# -- advise -----------------------------------------------------------------------------------
def cmd_advise(args: argparse.Namespace) -> int:
    from core.jobs import runs
    from core.runs.store import DONE, Store

    common.usable_dataset(args.dir, args.val_dir, args.home)
    store = Store(args.home)
    config = RunConfig(
        dataset=args.dir,
        val_dir=args.val_dir,
        strategy="linear",
        task="probe",
        image_size=args.image_size,
        weights=common.weights_setting(args.weights),
        seed=args.seed,
        probe_max_per_class=args.probe_max_per_class,
    )
    run = common.accepted(
        runs.queue_probe(
            store, common.checked(config), owner=runs.CLI_OWNER, idle_seconds=CLI_IDLE_SECONDS
        )
    )
    common.follow(store, run.id, quiet=True)
    run = store.get(run.id)
    if run.status != DONE:
        raise CliError(run.error or f"the probe ended as {run.status}")
    print(json.dumps(run.result.to_json() if run.result else {}))
    return 0
