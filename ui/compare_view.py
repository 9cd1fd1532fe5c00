"""The Compare page's comparison as it stands: test accuracy bars, curves and the table of the
chosen runs (for several seeds: mean curves with their spread and the paired verdict), the
runs still to finish with Stop."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.jobs.runs import stop_comparison
from core.reports import charts, comparison, report
from core.runs import store as store_mod
from core.runs.store import Run
from ui import messages, studio

SEEN_ACTIVE = "_compare_seen_active"


def stop_group(group_id: str) -> None:
    """Stop button callback: the whole comparison (core.jobs.runs.stop_comparison)."""
    stop_comparison(studio.get_store(), group_id)


def show_comparison(run_ids: list[str]) -> None:
    store = studio.get_store()
    studio.refresh_runs(store)
    runs = []
    for run_id in run_ids:
        try:
            runs.append(store.get(run_id))
        except KeyError:
            continue
    if any(r.active for r in runs):
        show_waiting([r for r in runs if r.active])
    else:
        studio.rerun_if_ended(SEEN_ACTIVE, True)  # the last one just ended: Start comes back
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
        st.warning(messages.md(caution))


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
        st.warning(messages.md(caution))
    with st.expander("Every run of the comparison"):
        show_table(report.compare_rows(runs))


def show_waiting(waiting: list[Run]) -> None:
    """How many runs are left, the progress of the one training now, and Stop for each
    comparison still going."""
    st.info(f"{len(waiting)} run(s) still to finish; the table fills in as they end.")
    live = [r for r in waiting if r.status in store_mod.LIVE]
    for run in (live or waiting)[:1]:
        fraction, text = studio.progress_of(run)
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
