"""The Train page's run: live progress and curves while it trains, then its outcome, scores,
per-class table, confusion matrix and the pictures it got most wrong."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.jobs import runs
from core.reports import charts, glossary, report
from core.runs import advisor, live
from core.runs import store as store_mod
from core.runs.store import Run
from ui import messages, pages, scans, session_keys, studio, take_away

SEEN_ACTIVE = "_train_seen_active"


def resume(run_id: str) -> None:
    resumed = runs.resume_training(studio.get_store(), run_id, owner=session_keys.session_id())
    if not messages.flash_refusal(resumed):
        st.session_state[session_keys.TRAIN_RUN] = run_id


def show_live(run_id: str) -> None:
    """Polled every second while the run is active."""
    store = studio.get_store()
    studio.refresh_runs(store)
    run = store.get(run_id)
    if not run.active:
        studio.rerun_if_ended(SEEN_ACTIVE, run.id)  # it just ended: results, Start enabled
        show_finished(run)
        return
    st.markdown(f"**{messages.md(report.run_label(run))}**")
    fraction, text = studio.progress_of(run)
    st.progress(fraction if fraction is not None else 0.0, text=text)
    if run.status == store_mod.STOPPING:
        st.caption("Stopping at the end of the current batch...")
    else:
        studio.stop_button(run, key=f"train_stop_{run.id}")
    if report.is_lr_find(run):
        st.caption("The learning-rate finder: its curve appears under Training settings.")
        return
    if not report.is_training(run):  # a measurement or a map, started on another page
        st.caption(
            f"This is a {report.task_title(run)} from the {report.task_page(run)} page; "
            "training can start when it ends."
        )
        return
    show_curves(store, run)


def show_curves(store, run: Run, only_with_points: bool = False) -> None:
    """Per-epoch curves with the loss of each recorded batch (raw and smoothed)."""
    history, batches = store.epoch_history(run.id), store.batch_history(run.id)
    if only_with_points and not (history or batches):
        return
    if run.config.strategy_spec.closed_form:
        show_fit(run, history)
        return
    kept = None if run.active else live.kept_epoch(history)
    st.plotly_chart(
        charts.training_curves(history, report.shared_references([run]), batches, kept),
        key=f"train_curves_{run.id}",
    )


def show_fit(run: Run, history) -> None:
    """What a closed-form fit has in place of curves: its features, its regularisation and
    its fit time, and why there is no curve."""
    st.caption(advisor.NO_CURVE)
    seconds = history[-1].seconds if history else None
    fitted = f"; fitted in {report.duration(seconds)}" if seconds is not None else ""
    what = advisor.closed_form_words(run.config.layer)
    st.caption(f"The classifier: {what[:1].upper() + what[1:]}{fitted}.")


def show_scores(run: Run, result) -> None:
    """Test accuracy (the honest score) and its interval, then validation, named as such; the
    caution when the test side is too small (or absent)."""
    val = f"{result.val_accuracy:.1%}" if result.val_accuracy is not None else "-"
    loss = f"{result.val_loss or float('nan'):.3f}"
    shown = [("Validation accuracy", val), ("Validation loss", loss)]
    if result.test_accuracy is not None:
        shown = [("Test accuracy", f"{result.test_accuracy:.1%}"), shown[0]]
    # a wrapping row of content-wide metrics: four fixed columns truncated labels and values
    # ("Validation a...", "2 mi...") on an 800 px window
    row = st.container(horizontal=True, gap="medium", key="train_metrics")
    for label, value in shown:
        row.metric(label, value, help=glossary.explain(label.lower()), width="content")
    row.metric("Epochs", result.epochs_run or "-", help=glossary.explain("epoch"), width="content")
    row.metric("Training time", report.duration(report.train_seconds(run)), width="content")
    kept = live.kept_epoch(studio.get_store().epoch_history(run.id))
    if kept is not None:
        st.caption(
            f"Kept: epoch {kept}, the one with the lowest validation loss (marked on the "
            "chart): these scores are that epoch's model, not the last epoch's."
        )
    if result.test_interval is not None:
        st.caption(
            f"95% interval of the test accuracy: {report.interval_text(result)}, on "
            f"{result.test_images} test pictures kept aside until training ended. Validation "
            "accuracy is a little optimistic: those pictures chose the epoch kept."
        )
    if result.caution:
        st.warning(messages.md(result.caution))
    if result.device is not None:  # what the worker measured, not what the driver lists
        st.caption(f"Trained on {messages.md(result.device.summary)}.")


def show_results(run: Run) -> None:
    result = run.training_result
    if result is None or not result.scored:
        return
    show_scores(run, result)
    st.subheader(f"How well each class is recognised ({result.evaluated_on} pictures)")
    st.write(
        "Precision: when the model says this class, how often it is right. Recall: of the "
        "pictures of this class, how many it finds."
    )
    st.dataframe(
        pd.DataFrame(report.per_class_rows(result)),
        hide_index=True,
        column_config={
            name: st.column_config.NumberColumn(format="%.2f")
            for name in ("precision", "recall", "f1")
        },
    )
    if result.confusion_matrix:
        st.write(
            "Each row is the true class, each column what the model said: the diagonal "
            "holds the correct answers."
        )
        st.plotly_chart(
            charts.confusion_matrix(result.confusion_matrix, result.classes, result.evaluated_on),
            key=f"train_confusion_{run.id}",
        )
    show_most_wrong(result)
    take_away.section(run, "train")
    pages.go_to(
        "predict", "Next: try the model on new pictures", icon=":material/online_prediction:"
    )


def show_most_wrong(result) -> None:
    wrong = [w for w in result.most_wrong if Path(w.file).is_file()]
    if wrong:
        st.subheader(f"The {result.evaluated_on} pictures it got most wrong")
        images = scans.thumbnails([w.file for w in wrong], 112)
        if len(images) == len(wrong):
            st.image(
                images,
                width=112,
                caption=[
                    f"{messages.md(w.true)} taken for {messages.md(w.predicted)} "
                    f"({w.confidence:.0%})"
                    for w in wrong
                ],
            )


def show_finished(run: Run) -> None:
    st.markdown(f"**{messages.md(report.run_label(run))}**")
    if report.is_lr_find(run):
        st.caption("A learning-rate range test: its curve is under Training settings.")
        return
    if not report.is_training(run):
        what = report.task_title(run)
        st.caption(f"A {what}: its results are on the {report.task_page(run)} page.")
        return
    if run.status == store_mod.DONE:
        st.success("Training finished.")
    elif run.status == store_mod.STOPPED:
        st.info("This run was stopped" + (f": {messages.md(run.error)}" if run.error else "."))
    elif run.status == store_mod.DIVERGED:
        st.error(f"Training diverged: {messages.md(run.error or 'the loss became NaN')}")
    elif run.status == store_mod.FAILED:
        plain, detail = report.failure_words(run.error)
        messages.problem(f"This run failed: {messages.md(plain)}", detail)
    elif run.status == store_mod.INTERRUPTED:
        st.warning(f"This run was interrupted: {messages.md(run.error or 'the worker stopped')}")
        st.button(
            "Resume",
            icon=":material/restart_alt:",
            key=f"train_resume_{run.id}",
            on_click=resume,
            args=(run.id,),
        )
    show_curves(studio.get_store(), run, only_with_points=True)
    show_results(run)


def shown_run(store, active: list[Run]) -> Run | None:
    """The latest active run (a running one before queued ones), else this session's last
    run, else the newest training run in the store (the history is shared by design)."""
    if active:
        live = [r for r in active if r.status in store_mod.LIVE]
        return (live or active)[0]
    wanted = st.session_state.get(session_keys.TRAIN_RUN)
    if wanted:
        try:
            return store.get(wanted)
        except KeyError:
            st.session_state.pop(session_keys.TRAIN_RUN, None)
    return report.latest(store.list(limit=50))


def earlier_runs(store) -> None:
    """A selectbox of this studio's earlier training runs; the chosen one is shown."""
    earlier = [r for r in store.list(limit=50) if report.is_training(r) and not r.active]
    if len(earlier) < 2:
        return
    with st.expander("Earlier runs"):
        labels = {r.id: report.run_label(r) for r in earlier}
        chosen = st.selectbox(
            "Show an earlier run",
            list(labels),
            format_func=labels.__getitem__,
            index=None,
            key="train_earlier",
        )
        if chosen and chosen != st.session_state.get(session_keys.TRAIN_RUN):
            st.session_state[session_keys.TRAIN_RUN] = chosen
            st.rerun()
