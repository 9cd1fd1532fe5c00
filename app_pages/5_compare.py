"""Compare: runs side by side, or every strategy on the same split in one click, each over
several seeds when asked (mean curves with their spread, a paired test in plain words)."""

import streamlit as st

from core.jobs.runs import DEFAULT_SEEDS, MAX_SEEDS, start_comparison
from core.reports import comparison_report, report
from core.runs import strategies
from core.runs.config import RunConfig
from core.runs.store import Run
from ui import bounds, compare_view, messages, pretrained, scans, session_keys, studio

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
        image_size=session_keys.image_size(),
        seed=int(session_keys.setting("seed")),
        weights=pretrained.weights(),
        epochs=epochs,
        finetune_epochs=finetune_epochs,
        unfreeze_blocks=int(session_keys.setting(session_keys.UNFREEZE)),
        layer=session_keys.setting(session_keys.LAYER),
    )
    with messages.refusals("The dataset cannot be split", later=True) as refused:
        found = scans.scan(folder)
    if refused:
        return
    queued = start_comparison(
        studio.get_store(), found, base, keys, seeds=seeds, repeat_splits=repeat_splits
    )
    if messages.flash_refusal(queued):
        return
    st.session_state[session_keys.COMPARE_GROUP] = queued[0].group_id
    # the new runs replace whatever was picked before, so the page follows them live
    session_keys.set_kept(RUNS_KEY, [r.id for r in queued])


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
        **session_keys.kept("compare_strategies", list(strategies.STRATEGIES)),
    )
    epochs, finetune = epoch_settings()
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


def epoch_settings() -> tuple[int, int]:
    """Epochs of each run's first phase and of its fine-tuning phase."""
    cols = st.columns(2, gap="medium")
    epochs = cols[0].number_input(
        "Epochs per run (first phase)",
        **bounds.of("epochs"),
        **session_keys.kept("compare_epochs", RunConfig.default("epochs")),
    )
    finetune = cols[1].number_input(
        "Epochs (fine-tuning phase)",
        **bounds.of("finetune_epochs"),
        **session_keys.kept("compare_finetune_epochs", RunConfig.default("finetune_epochs")),
    )
    return int(epochs), int(finetune)


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
        **session_keys.kept("compare_seeds", DEFAULT_SEEDS),
    )
    repeat_splits = cols[1].checkbox(
        "A new split for each seed",
        help="Off: every run uses the same training/validation split, so only training varies. "
        "On: each seed also draws its own split (shared by the strategies of that seed).",
        disabled=seeds < 2,
        **session_keys.kept("compare_repeat_splits", False),
    )
    return int(seeds), bool(repeat_splits) and seeds > 1


def side_by_side(store) -> None:
    st.subheader("Runs side by side")
    runs = [r for r in store.list(limit=200) if report.is_training(r)]
    if not runs:
        st.info("No training run yet: start one on the Train page, or click 'Run every strategy'.")
        return
    chosen = studio.pick_runs("Runs to compare", runs, RUNS_KEY, default_selection(runs))
    if not chosen:
        st.caption("Pick at least one run.")
        return
    studio.shown_runs(chosen)
    any_active = any(store.get(i).active for i in chosen)
    if any_active:
        studio.watch(compare_view.SEEN_ACTIVE, True)
    studio.poll(lambda: compare_view.show_comparison(list(chosen)), active=any_active)
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
    store = studio.page_header(
        "Compare",
        "See which strategy works best: every strategy trained on exactly the same "
        "pictures, split and seed, side by side.",
    )
    run_all_section(session_keys.current_dataset(), bool(studio.active_runs(store)))
    side_by_side(store)


messages.guarded(body)
