"""Compare: runs side by side, or every strategy on the same split in one click, each over
several seeds when asked (mean curves with their spread, a paired test in plain words)."""

import pandas as pd
import streamlit as st

from core.jobs.runs import DEFAULT_SEEDS, MAX_SEEDS, start_comparison, stop_comparison
from core.reports import charts, comparison, comparison_report, report
from core.runs import store as store_mod
from core.runs import strategies
from core.runs.config import RunConfig
from core.runs.store import Run
from ui import bounds, common

SEEN_ACTIVE = "_compare_seen_active"
RUNS_KEY = "compare_runs"  # the runs picked for the overlay


def run_every_strategy(
    folder: str,
    epochs: int,
    finetune_epochs: int,
    keys: list[str],
    seeds: int = DEFAULT_SEEDS,
    repeat_splits: bool = False,
) -> None:
    """Button callback: `seeds` runs per chosen strategy on equal terms (core.jobs.runs builds
    them), with this session's seed, image size, weights, blocks and layer."""
    base = RunConfig(
        dataset=folder,
        image_size=common.image_size(),
        seed=int(common.setting("seed")),
        weights=common.weights(),
        epochs=epochs,
        finetune_epochs=finetune_epochs,
        unfreeze_blocks=int(common.setting(common.UNFREEZE)),
        layer=common.setting(common.LAYER),
    )
    with common.refusals("The dataset cannot be split", later=True) as refused:
        found = common.scan(folder)
    if refused:
        return
    queued = start_comparison(
        common.get_store(), found, base, keys, seeds=seeds, repeat_splits=repeat_splits
    )
    if common.flash_refusal(queued):
        return
    st.session_state[common.COMPARE_GROUP] = queued[0].group_id
    # the new runs replace whatever was picked before, so the page follows them live
    common.set_kept(RUNS_KEY, [r.id for r in queued])


def stop_group(group_id: str) -> None:
    """Stop button callback: the whole comparison (core.jobs.runs.stop_comparison)."""
    stop_comparison(common.get_store(), group_id)


def default_selection(runs: list[Run]) -> list[str]:
    """The latest comparison group (this session's, or a newer one from another tab or the
    command line: an older remembered group was shown with a worse "best"), else the two
    newest runs."""
    group = next((r.group_id for r in runs if r.group_id), None)
    if group is not None:
        chosen = [r.id for r in runs if r.group_id == group]
        if chosen:
            return chosen
    return [r.id for r in runs[:2]]


def show_comparison(run_ids: list[str]) -> None:
    store = common.get_store()
    common.refresh_runs(store)
    runs = []
    for run_id in run_ids:
        try:
            runs.append(store.get(run_id))
        except KeyError:
            continue
    if any(r.active for r in runs):
        show_waiting([r for r in runs if r.active])
    else:
        common.rerun_if_ended(SEEN_ACTIVE, True)  # the last one just ended: Start comes back
    if comparison.is_repeated(runs):
        show_repeats(store, runs)
        return
    series = {report.series_name(r): store.epoch_history(r.id) for r in runs}
    names, accuracies, intervals = report.test_bars(runs)
    if names:
        st.plotly_chart(
            charts.test_accuracy_bars(names, accuracies, intervals), key="compare_test_bars"
        )
    st.plotly_chart(
        charts.compare_curves(series, report.shared_references(runs)), key="compare_curves"
    )
    if note := report.shared_start_note(r.strategy for r in runs):
        st.caption(note)
    show_table(report.compare_rows(runs))
    if caution := report.compare_caution(runs):
        st.warning(common.md(caution))


def show_repeats(store: store_mod.Store, runs: list[Run]) -> None:
    """A comparison over several seeds: per strategy its mean curve with the seeds' range,
    its mean score with error bars, the verdict in words and mean ± std in a table."""
    summary = comparison.summary_of(store, runs)
    names = {
        s.strategy: f"{report.strategy_title(s.strategy)} ({s.strategy})"
        for s in summary.strategies
    }
    st.plotly_chart(charts.seed_bands(comparison.bands(store, runs), names), key="compare_bands")
    st.plotly_chart(charts.seed_accuracy_bars(summary, names), key="compare_bars")
    verdict = summary.verdict
    (st.success if verdict.significant else st.info)(verdict.statement)
    table = pd.DataFrame(comparison.table_rows(summary))
    if not table.empty:
        table["strategy"] = table["strategy"].map(names)
    st.dataframe(table, hide_index=True)
    splits = (
        "each seed drew its own split, shared by every strategy of that seed"
        if comparison.splits_vary(runs)
        else "seeds vary only training: every run used the same split"
    )
    st.caption(
        "Mean ± standard deviation (sample, n − 1) over the seeds that finished (the 'seeds' "
        f"column states n); {splits}. The test pairs each strategy's runs by seed."
    )
    if caution := report.compare_caution(runs):
        st.warning(common.md(caution))
    with st.expander("Every run of the comparison"):
        show_table(report.compare_rows(runs))


def show_waiting(waiting: list[Run]) -> None:
    """How many runs are left, the progress of the one training now, and Stop for each
    comparison still going."""
    st.info(f"{len(waiting)} run(s) still to finish; the table fills in as they end.")
    live = [r for r in waiting if r.status in store_mod.LIVE]
    for run in (live or waiting)[:1]:
        fraction, text = common.progress_of(run)
        st.progress(
            fraction if fraction is not None else 0.0,
            text=f"{report.strategy_title(run.strategy)}: {text}",
        )
    groups = list(dict.fromkeys(r.group_id for r in waiting if r.group_id))
    for group in groups:
        if all(r.status == store_mod.STOPPING for r in waiting if r.group_id == group):
            st.caption("Stopping the comparison at the end of the current batch...")
            continue
        st.button(
            "Stop the comparison",
            icon=":material/stop:",
            key=f"compare_stop_{group}",
            on_click=stop_group,
            args=(group,),
            help="Stops the run training now (within one batch) and every run still waiting.",
        )


def show_table(rows: list[dict]) -> None:
    table = pd.DataFrame(rows)
    if not table.empty:
        table["train time"] = [report.duration(s) for s in table.pop("train_seconds")]
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "test_accuracy": st.column_config.NumberColumn("test accuracy", format="%.3f"),
            "test_interval": st.column_config.TextColumn("95% interval"),
            "test_loss": st.column_config.NumberColumn("test loss", format="%.3f"),
            "val_accuracy": st.column_config.NumberColumn("validation accuracy", format="%.3f"),
            "val_loss": st.column_config.NumberColumn("validation loss", format="%.3f"),
            "best": st.column_config.TextColumn("best"),
        },
    )
    best = next((r for r in rows if r["best"]), None)
    if best is not None:
        side = "test" if best["test_accuracy"] is not None else "validation"
        accuracy = best["test_accuracy"] if side == "test" else best["val_accuracy"]
        interval = (
            f" (95% interval {best['test_interval']})"
            if side == "test" and best["test_interval"]
            else ""
        )
        st.success(
            f"Best of the selected runs: {best['strategy']} with {accuracy:.1%} of the {side} "
            f"pictures right{interval}."
        )
    st.download_button(
        "Download the table (CSV)",
        report.to_csv(rows),
        file_name="comparison.csv",
        mime="text/csv",
        icon=":material/download:",
        key="compare_download",
        on_click="ignore",
        disabled=not rows,
    )


def run_all_section(folder: str | None, active: bool) -> None:
    st.subheader("Run every strategy")
    if folder is None:
        st.caption("Choose a dataset on the Data page to run every strategy on it.")
        return
    st.write(
        "Queues one run per chosen strategy (all of them unless you remove some) on the "
        "current dataset, on the same split and seed; they run one after another."
    )
    keys = st.multiselect(
        "Strategies to compare",
        list(strategies.STRATEGIES),
        format_func=report.strategy_title,
        **common.kept("compare_strategies", list(strategies.STRATEGIES)),
    )
    cols = st.columns(2, gap="medium")
    epochs = cols[0].number_input(
        "Epochs per run (first phase)",
        **bounds.of("epochs"),
        **common.kept("compare_epochs", RunConfig.default("epochs")),
    )
    finetune = cols[1].number_input(
        "Epochs (fine-tuning phase)",
        **bounds.of("finetune_epochs"),
        **common.kept("compare_finetune_epochs", RunConfig.default("finetune_epochs")),
    )
    seeds, repeat_splits = seed_settings()
    every = len(keys) == len(strategies.STRATEGIES)
    label = "Run every strategy" if every else f"Run {len(keys)} strategies"
    st.button(
        label + (f" × {seeds} seeds" if seeds > 1 else ""),
        type="primary",
        icon=":material/compare_arrows:",
        key="compare_run_all",
        disabled=active or not keys,
        on_click=run_every_strategy,
        args=(folder, int(epochs), int(finetune), list(keys), seeds, repeat_splits),
    )
    if active:
        st.caption("Available again when the current runs end.")
    elif not keys:
        st.caption("Choose at least one strategy.")


def seed_settings() -> tuple[int, bool]:
    """How many seeds per strategy, and whether each seed draws its own split."""
    cols = st.columns(2, gap="medium", vertical_alignment="bottom")
    seeds = cols[0].number_input(
        "Seeds per strategy",
        1,
        MAX_SEEDS,
        help="Runs each strategy this many times with different training seeds, to see how "
        "much of a difference is luck. 3 or more let the page say whether the best strategy "
        "really beats the runner-up.",
        **common.kept("compare_seeds", DEFAULT_SEEDS),
    )
    repeat_splits = cols[1].checkbox(
        "A new split for each seed",
        help="Off: every run uses the same training/validation split, so only training varies. "
        "On: each seed also draws its own split (shared by the strategies of that seed).",
        disabled=seeds < 2,
        **common.kept("compare_repeat_splits", False),
    )
    return int(seeds), bool(repeat_splits) and seeds > 1


def side_by_side(store) -> None:
    st.subheader("Runs side by side")
    runs = [r for r in store.list(limit=200) if report.is_training(r)]
    if not runs:
        st.info("No training run yet: start one on the Train page, or click 'Run every strategy'.")
        return
    chosen = common.pick_runs("Runs to compare", runs, RUNS_KEY, default_selection(runs))
    if not chosen:
        st.caption("Pick at least one run.")
        return
    common.shown_runs(chosen)
    any_active = any(store.get(i).active for i in chosen)
    if any_active:
        common.watch(SEEN_ACTIVE, True)
    common.poll(lambda: show_comparison(list(chosen)), active=any_active)
    report_download(store, list(chosen))


def report_download(store, run_ids: list[str]) -> None:
    """The chosen runs as one shareable HTML page, made when the button is clicked (so a
    comparison still going is reported as it stands then)."""

    def page() -> str:
        return comparison_report.for_runs(store, comparison_report.existing(store, run_ids))

    st.download_button(
        "Download the comparison report (HTML)",
        page,
        file_name=f"comparison-{run_ids[0][-6:]}.html",
        mime="text/html",
        icon=":material/download:",
        key="compare_report_download",
        on_click="ignore",
        help="One page that opens offline in any browser: every run's scores, curves and "
        "settings, the dataset fingerprint and this machine.",
    )


def body() -> None:
    store = common.page_header(
        "Compare",
        "See which strategy works best: every strategy trained on exactly the same "
        "pictures, split and seed, side by side.",
    )
    run_all_section(common.current_dataset(), bool(common.active_runs(store)))
    side_by_side(store)


common.guarded(body)
