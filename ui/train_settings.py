"""The Train page's "Training settings": optimizer and learning rate per phase, patience,
blocks to retrain, and the learning-rate finder (start it, see its curve, use its rate).

Defaults come from the strategy table (core.runs.strategies) and RunConfig; choosing another
strategy resets the per-phase values to that strategy's. The finder runs in the worker like
any run (core.jobs.runs.start_lr_find); this module only starts it and draws its result.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.jobs import runs
from core.model import vgg16
from core.reports import charts, glossary, report
from core.runs import strategies
from core.runs.config import RunConfig
from core.runs.store import Run
from core.train import lr_finder
from ui import bounds, messages, session_keys, shared_settings, studio

LEARNING_RATES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)  # the slider's stops
SETTINGS_FOR = "_train_settings_strategy"  # the strategy the per-phase widgets were set for
LR_FIND_RUN = "_train_lr_find_run"  # the finder run this session started last
PATIENCE = "early_stopping_patience"


def lr_key(strategy: str, phase: str) -> str:
    return f"lr_{strategy}_{phase}"


def optimizer_key(strategy: str, phase: str) -> str:
    return f"opt_{strategy}_{phase}"


def _reset_when_strategy_changes(spec: strategies.Strategy) -> None:
    """Another strategy (chosen here or on the Strategy page): its own defaults, not values
    chosen for the previous one."""
    before = st.session_state.get(SETTINGS_FOR)
    st.session_state[SETTINGS_FOR] = spec.key
    if before in (None, spec.key):  # None: a new session, whose values the workspace restored
        return
    for phase in spec.keras_phases:
        session_keys.forget_kept(lr_key(spec.key, phase.name), optimizer_key(spec.key, phase.name))


def _phase_widgets(spec: strategies.Strategy, phase: strategies.Phase) -> tuple[str, float]:
    name = st.selectbox(
        f"Optimizer, phase '{phase.name}'",
        list(strategies.OPTIMIZERS),
        format_func=strategies.OPTIMIZERS.__getitem__,
        help=glossary.explain("optimizer"),
        **session_keys.kept(optimizer_key(spec.key, phase.name), phase.optimizer),
    )
    current = st.session_state.get(lr_key(spec.key, phase.name), phase.learning_rate)
    rate = st.select_slider(
        f"Learning rate, phase '{phase.name}'",
        options=sorted({*LEARNING_RATES, phase.learning_rate, float(current)}),
        format_func=lambda v: f"{v:g}",
        help=glossary.explain("learning rate"),
        **session_keys.kept(lr_key(spec.key, phase.name), phase.learning_rate),
    )
    return name, float(rate)


def phase_settings(spec: strategies.Strategy) -> dict:
    """Optimizer and learning rate of each Keras phase, as RunConfig overrides (only the values
    that differ from the strategy table)."""
    _reset_when_strategy_changes(spec)
    phases = spec.keras_phases
    if not phases:
        st.caption(
            "This strategy solves its classifier in one go (logistic regression): no "
            "optimizer, no learning rate, no epochs."
        )
        return dict(optimizers={}, learning_rates={})
    optimizers, learning_rates = {}, {}
    for col, phase in zip(st.columns(len(phases)), phases, strict=True):
        with col:
            name, rate = _phase_widgets(spec, phase)
        if name != phase.optimizer:
            optimizers[phase.name] = name
        if rate != phase.learning_rate:
            learning_rates[phase.name] = rate
    return dict(optimizers=optimizers, learning_rates=learning_rates)


def widgets(spec: strategies.Strategy) -> dict:
    """Every training setting of this expander, as RunConfig keyword arguments."""
    st.caption(
        f"Defaults are those of the strategy ({spec.title}); choosing another strategy sets "
        "its own again."
    )
    chosen = phase_settings(spec)
    unfreeze, layer = shared_settings.strategy_options(spec, RunConfig.default("layer"))
    patience = session_keys.setting(PATIENCE)
    if not spec.closed_form:  # no epochs, so nothing to stop early
        patience = st.number_input(
            "Early-stopping patience (epochs without a better validation loss before a phase ends)",
            **bounds.of(PATIENCE),
            help=glossary.explain("early stopping"),
            **session_keys.kept(PATIENCE, RunConfig.default(PATIENCE)),
        )
    return dict(
        chosen, unfreeze_blocks=int(unfreeze), layer=layer, early_stopping_patience=int(patience)
    )


# -- the learning-rate finder ----------------------------------------------------------------
def _start(config: dict) -> None:
    """Button callback: queue the range test (core.jobs.runs applies the one-run rule)."""
    run = runs.start_lr_find(
        studio.get_store(), RunConfig.from_dict(config), owner=session_keys.session_id()
    )
    if not messages.flash_refusal(run):
        st.session_state[LR_FIND_RUN] = run.id


def _use(strategy: str, phase: str, rate: float) -> None:
    """Button callback: the suggested rate becomes the phase's learning-rate setting."""
    session_keys.set_kept(lr_key(strategy, phase), rate)


def _same_data(run: Run, config: RunConfig) -> bool:
    same = Path(run.dataset).resolve() == Path(config.dataset).expanduser().resolve()
    return same and run.strategy == config.strategy and report.is_lr_find(run)


def shown_finder_run(config: RunConfig) -> Run | None:
    """This session's finder run for the chosen strategy, else the newest one of this dataset
    and strategy in the store (after a reload)."""
    store = studio.get_store()
    wanted = st.session_state.get(LR_FIND_RUN)
    if wanted:
        try:
            run = store.get(wanted)
            if _same_data(run, config):
                return run
        except KeyError:
            st.session_state.pop(LR_FIND_RUN, None)
    return next((r for r in store.list(limit=50) if _same_data(r, config)), None)


def finder(config: RunConfig, active: list[Run], problems: list[str]) -> None:
    """The 'Find a learning rate' button and the last range test's curve for this strategy."""
    spec = config.strategy_spec
    st.markdown("**Find a learning rate**")
    if spec.closed_form:
        st.caption("This strategy has no learning rate: nothing to find.")
        return
    phase = spec.keras_phases[0]
    st.caption(
        f"A short test run sweeps the learning rate of phase '{phase.name}' from "
        f"{lr_finder.START_RATE:g} to {lr_finder.END_RATE:g} over {lr_finder.STEPS} steps "
        "and draws the loss at each."
        + _coverage(config)
        + " It suggests a rate a little before the bottom of the curve, where the loss still "
        "falls well (how exactly: the button's help)."
    )
    st.button(
        "Find a learning rate",
        icon=":material/search:",
        key="train_lr_find",
        help=glossary.explain("learning-rate finder")
        + " How the rate is chosen: "
        + lr_finder.RULE
        + ".",
        disabled=bool(active) or bool(problems),
        on_click=_start,
        args=(config.to_dict(),),
    )
    if active:
        st.caption("Available when the current run ends: one run at a time.")
    elif problems:
        st.caption("Fix the settings above first.")
    run = shown_finder_run(config)
    if run is not None:
        _show(run, config)


def _coverage(config: RunConfig) -> str:
    """What the finder does not cover, and what it costs, said where it matters."""
    spec, words = config.strategy_spec, ""
    if vgg16.frozen_cut_layer(spec.keras_phases[0].blocks(config.unfreeze_blocks)) is None:
        words += (
            " This strategy trains all of VGG16 from its first phase, so the test runs on the "
            f"images: it takes as long as {lr_finder.STEPS} batches of training."
        )
    if len(spec.keras_phases) > 1:
        later = ", ".join(f"'{p.name}'" for p in spec.keras_phases[1:])
        words += (
            f" It covers the first phase only: phase {later} starts from the trained head, so "
            "keep the strategy's rate there unless you know better."
        )
    return words


def _show(run: Run, config: RunConfig) -> None:
    if run.active:
        st.caption("The range test is running: its progress is shown below, its curve here.")
        return
    result = run.lr_find_result
    if result is None:
        plain, _ = report.failure_words(run.error)
        st.caption(f"The last range test ended as {run.status}: {messages.md(plain)}")
        return
    st.plotly_chart(charts.lr_find_curve(result), key=f"train_lr_curve_{run.id}")
    optimizer = strategies.OPTIMIZERS.get(result.optimizer, result.optimizer)
    if result.suggestion is None:
        st.info(f"No rate to suggest: {messages.md(result.note or 'the sweep was too short')}.")
        return
    st.success(
        f"Suggested learning rate for phase '{result.phase}': **{result.suggestion:g}** "
        f"(with {optimizer}, on {result.trained_on})."
    )
    chosen = config.optimizer_for(config.strategy_spec.keras_phases[0]).name
    if chosen != result.optimizer:
        st.caption(
            f"It was measured with {optimizer}; your settings now say "
            f"{strategies.OPTIMIZERS[chosen]}: find the rate again for that optimizer."
        )
    st.button(
        "Use this rate",
        key=f"train_lr_use_{run.id}",
        on_click=_use,
        args=(config.strategy, result.phase, result.suggestion),
    )
