"""Train: settings, Start/Stop, live curves while the worker trains, results when it ends."""

from pathlib import Path

import streamlit as st

from core.data import datasets
from core.jobs import runs
from core.model import weights_file
from core.model.weights import IMAGENET, NONE
from core.reports import glossary, report
from core.runs import advisor, strategies
from core.runs.config import RunConfig
from core.runs.store import Run
from ui import (
    bounds,
    messages,
    pretrained,
    scans,
    session_keys,
    shared_settings,
    studio,
    train_gpu,
    train_options,
    train_run,
    train_settings,
    train_weights,
)


# -- settings ---------------------------------------------------------------------------------
def strategy_choice(advice: advisor.Advice | None) -> strategies.Strategy:
    """The strategy, defaulting to the measurement's advice when there is one (and saying so);
    another choice keeps the advice in sight."""
    spec = shared_settings.strategy_select(
        advice.strategy if advice else RunConfig.default("strategy")
    )
    if advice is None:
        st.caption(spec.plain + " (The Strategy page measures which one suits your pictures.)")
    elif spec.key == advice.strategy:
        st.success(f"Recommended by the measurement: **{spec.title}**. {spec.plain}")
    else:
        st.info(
            f"The measurement recommended **{strategies.get(advice.strategy).title}** for "
            f"these pictures. {advice.why} You chose {spec.title}: {spec.plain}"
        )
    return spec


def measured_advice(folder: str) -> advisor.Advice | None:
    """The advice of the latest finished measurement of this dataset; the first time it is
    seen it becomes the chosen strategy (as on the Strategy page)."""
    store = studio.get_store()
    run = report.latest_advice(
        store.list(), folder, session_keys.image_size(), pretrained.weights()
    )
    if run is None:
        return None
    shared_settings.apply_advice(run)
    return run.probe_result.advice


def settings_form(folder: str, found: datasets.Scan):
    """The settings widgets; returns the RunConfig they describe and the "Training settings"
    expander (the learning-rate finder is drawn into it once the config is known)."""
    spec = strategy_choice(measured_advice(folder))
    image_size = shared_settings.image_size_input("train")
    with st.expander("Change the settings (optional: the defaults work)"):
        sizes = train_options.size_settings(spec)
        seed = st.number_input(
            "Seed (same seed, same split and start: repeatable runs)",
            **bounds.of("seed"),
            help=glossary.explain("seed"),
            **session_keys.kept("seed", RunConfig.default("seed")),
        )
        augmentation = train_options.augmentation_settings(found, image_size, int(seed))
        weights = train_weights.weights_setting()
        precision = train_options.precision_setting()
    training_box = st.expander("Training settings (optimizer, learning rate, patience)")
    with training_box:
        training = train_settings.widgets(spec)
    config = RunConfig(
        dataset=folder,
        strategy=spec.key,
        weights=weights,
        seed=int(seed),
        image_size=image_size,
        precision=precision,
        **sizes,
        **augmentation,
        **training,
    )
    return config, training_box


def start_problems(config: RunConfig) -> list[str]:
    """Everything that would stop this run, known before Start: the settings' own problems and
    the weights' (a file that does not fit VGG16, ImageNet with no way to get it)."""
    weights = config.weights_for_run()
    return config.problems() + weights_file.start_problems(
        weights, pretrained.weights_here(), pretrained.imagenet_downloadable
    )


def start(config: dict) -> None:
    """Start button callback (the rule, one run at a time, is core.jobs.runs')."""
    run = runs.start_training(
        studio.get_store(), RunConfig.from_dict(config), owner=session_keys.session_id()
    )
    if messages.flash_refusal(run):
        return
    st.session_state[session_keys.TRAIN_RUN] = run.id
    st.session_state.pop(train_run.SEEN_ACTIVE, None)


def start_notes(config: RunConfig, problems: list[str], choice_open: bool) -> bool:
    """What stands before Start, said above it; True while Start waits for the weights choice."""
    for problem in problems:
        messages.problem(messages.md(problem[:1].upper() + problem[1:]))
    waiting = choice_open and config.weights_for_run().kind == NONE  # the notice says why
    if waiting:
        st.caption(
            "Start is available once you upload the weights file or click 'Continue without "
            "pretrained weights' above."
        )
    if not problems and config.weights_for_run().kind == IMAGENET:
        if not pretrained.weights_here().imagenet_cached:
            st.caption("The ImageNet weights (58 MB) are downloaded once, when the run starts.")
    return waiting


def start_section(folder: str | None, active: list[Run]) -> None:
    """The settings and the Start button (disabled while any run is active)."""
    if folder is None:
        if not active:
            scans.need_dataset()
        return
    found = scans.usable_scan(folder)
    if found is None:
        return
    if st.session_state.get(session_keys.AUDIO_SOURCE):
        st.caption(
            f"Sounds from {messages.md(Path(st.session_state[session_keys.AUDIO_SOURCE]).name)}"
            " are trained on as spectrogram pictures."
        )
    train_gpu.gpu_notice()
    choice_open = train_weights.weights_notice()
    config, training_box = settings_form(folder, found)
    problems = start_problems(config)
    waiting = start_notes(config, problems, choice_open)
    st.button(
        "Start training",
        type="primary",
        icon=":material/play_arrow:",
        key="train_start",
        disabled=bool(active) or bool(problems) or waiting,
        on_click=start,
        args=(config.to_dict(),),
    )
    if active:
        st.caption("Start is available again when the current run ends.")
    with training_box:
        train_settings.finder(config, active, problems)


def body() -> None:
    store = studio.page_header(
        "Train",
        "Start training: the studio reuses VGG16 the way your strategy says and shows "
        "the accuracy growing after every pass over the pictures (an epoch).",
    )
    active = studio.active_runs(store)
    start_section(session_keys.current_dataset(), active)
    st.divider()
    run = train_run.shown_run(store, active)
    if run is None:
        st.caption("No run yet: click 'Start training'.")
        return
    studio.shown_runs([run.id])
    if run.active:
        studio.watch(train_run.SEEN_ACTIVE, run.id)
        studio.poll(lambda: train_run.show_live(run.id), active=True)
    else:
        train_run.show_finished(run)
    train_run.earlier_runs(store)


messages.guarded(body)
