"""Train: settings, Start/Stop, live curves while the worker trains, results when it ends."""

from pathlib import Path

import pandas as pd
import streamlit as st

from core.data import datasets
from core.data.imaging import UnreadableImage, load_pil_rgb
from core.jobs import runs
from core.model import augment_preview, device, device_facts, weights_file
from core.model.weights import IMAGENET, NONE, WeightsSpec
from core.reports import charts, glossary, report
from core.runs import advisor, live, strategies
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.runs.store import Run
from ui import bounds, common, take_away, train_settings, weights_upload

BATCH_SIZES = (8, 16, 32, 64, 128)
WEIGHT_KINDS = ("ImageNet", "A local weights file", "None (random start)")
SEEN_ACTIVE = "_train_seen_active"
GPU_MISMATCH_SEEN = "_train_gpu_mismatch_seen"  # the person read it and goes on (on the CPU)
WITHOUT_PRETRAINED = common.WITHOUT_PRETRAINED
NO_PRETRAINED_COST = (
    "Without pretrained weights VGG16 starts from random numbers and must learn everything "
    "from your pictures: on a few hundred pictures expect much lower accuracy, often little "
    "better than guessing. That is what the 'from scratch' baseline on the Compare page shows."
)


# -- pretrained weights -----------------------------------------------------------------------
def continue_without() -> None:
    """Button callback: go on without pretrained weights."""
    st.session_state[WITHOUT_PRETRAINED] = True
    weights_upload.use_weights("none")


def weights_notice() -> bool:
    """When this machine has no pretrained weights: say so, in plain words, with the two ways
    on (upload the file, or go on without), before anything else on the page. True while that
    choice is open (neither made): Start waits for it."""
    if common.weights_here().any_pretrained:
        return False
    if st.session_state.get(WITHOUT_PRETRAINED):
        st.info(NO_PRETRAINED_COST + " To change that, upload the weights file:")
    else:
        st.warning(
            "**There are no pretrained VGG16 weights on this machine.** They are what makes a "
            "few hundred pictures enough. Upload the weights file (58 MB, for example from a "
            "USB stick), or continue without them."
        )
    upload_col, without_col = st.columns(2)
    weights_upload.uploader("train_weights_upload", upload_col)
    if not st.session_state.get(WITHOUT_PRETRAINED):
        without_col.button(
            "Continue without pretrained weights",
            key="train_without_pretrained",
            on_click=continue_without,
            width="stretch",
            wrap=True,  # in a half-width column at 800 px the label was cut with an ellipsis
        )
        without_col.caption(NO_PRETRAINED_COST)
    # open while no pretrained weights are chosen and going on without them was not either
    # (the weights setting stays "none" until a file is uploaded)
    chosen_none = WeightsSpec.parse(common.weights()).kind == NONE
    return chosen_none and not st.session_state.get(WITHOUT_PRETRAINED)


# -- settings ---------------------------------------------------------------------------------
def weights_setting() -> str:
    """ImageNet, a local file or none; the default comes from $VGG16_WEIGHTS."""
    current = common.weights()
    default_kind = {IMAGENET: WEIGHT_KINDS[0], NONE: WEIGHT_KINDS[2]}.get(
        WeightsSpec.parse(current).kind, WEIGHT_KINDS[1]
    )
    chosen = st.radio(
        "Pretrained weights",
        WEIGHT_KINDS,
        horizontal=True,
        help=glossary.explain("pretrained weights"),
        **common.kept("weights_kind", default_kind),
    )
    if chosen == WEIGHT_KINDS[0]:
        spec = "imagenet"
    elif chosen == WEIGHT_KINDS[2]:
        spec = "none"
        if common.weights_here().any_pretrained:  # else the notice above already says it
            st.warning(NO_PRETRAINED_COST)
    else:
        spec = st.text_input(
            "Path of the weights file on the server (VGG16 without its top, .h5)",
            **common.kept("weights_path", current if default_kind == WEIGHT_KINDS[1] else ""),
        ).strip()
    if spec:
        st.session_state[common.WEIGHTS] = spec
    return spec


def augmentation_preview(found: datasets.Scan, kind: str, size: int, seed: int) -> None:
    if not found.items:
        return
    try:
        image = load_pil_rgb(found.items[0].path)
    except UnreadableImage:
        return
    shown = min(size, 128)
    versions = augment_preview.augmented(image, count=4, size=shown, kind=kind, seed=seed)
    original = image.convert("RGB").resize((shown, shown))
    st.image([original, *versions], caption=["original", *(["augmented"] * len(versions))])


def strategy_choice(advice: advisor.Advice | None) -> strategies.Strategy:
    """The strategy, defaulting to the measurement's advice when there is one (and saying so);
    another choice keeps the advice in sight."""
    spec = common.strategy_select(advice.strategy if advice else RunConfig.default("strategy"))
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
    store = common.get_store()
    run = report.latest_advice(store.list(), folder, common.image_size(), common.weights())
    if run is None:
        return None
    common.apply_advice(run)
    return run.probe_result.advice


def size_settings(spec: strategies.Strategy) -> dict:
    """Epochs per phase and batch size, in one row (a closed-form fit has no epochs)."""
    cols = st.columns(3)
    epochs = common.setting("epochs")
    if not spec.closed_form:
        epochs = cols[0].number_input(
            "Epochs" + (" (first phase)" if len(spec.phases) > 1 else ""),
            **bounds.of("epochs"),
            help=glossary.explain("epoch"),
            **common.kept("epochs", RunConfig.default("epochs")),
        )
    finetune_epochs = RunConfig.default("finetune_epochs")
    if len(spec.phases) > 1:
        finetune_epochs = cols[1].number_input(
            "Epochs (fine-tuning phase)",
            **bounds.of("finetune_epochs"),
            help=glossary.explain("fine-tune"),
            **common.kept("finetune_epochs", finetune_epochs),
        )
    batch_size = cols[2].selectbox(
        "Batch size",
        BATCH_SIZES,
        help=glossary.explain("batch size"),
        **common.kept("batch_size", RunConfig.default("batch_size")),
    )
    return dict(
        epochs=int(epochs),
        finetune_epochs=int(finetune_epochs),
        batch_size=int(batch_size),
    )


@st.cache_resource(show_spinner=False)
def machine_plan() -> device.AccelerationPlan:
    """This machine's plan, read once per server (nvidia-smi, /proc/cpuinfo; no TensorFlow)."""
    return device.quick_plan()


def precision_setting() -> str:
    """The compute precision, with what it means on this machine in one line."""
    precision = st.selectbox(
        "Precision",
        device.PRECISIONS,
        format_func=device.PRECISION_CHOICES.__getitem__,
        help="How many bits each number in VGG16's maths uses. bfloat16 is often 2-3x faster on "
        "CPUs and GPUs built for it, with about the same accuracy; the final layer stays "
        "float32 either way.",
        **common.kept("precision", RunConfig.default("precision")),
    )
    st.caption(device.precision_sentence(precision, machine_plan()))
    return precision


def augmentation_settings(found: datasets.Scan, image_size: int, seed: int) -> dict:
    """Whether to augment, and how (spectrograms get masking), with a preview."""
    is_audio = bool(st.session_state.get(common.AUDIO_SOURCE))
    augment = st.checkbox(
        "Augment the training pictures (random flips, turns and zooms; "
        "slower, helps small datasets)",
        help=glossary.explain("augmentation"),
        **common.kept("augment", RunConfig.default("augment")),
    )
    kind = "spectrogram" if is_audio else RunConfig.default("augment_kind")
    if augment:
        kind = st.radio(
            "Kind of augmentation",
            augment_preview.KINDS,
            horizontal=True,
            format_func=lambda k: {
                "image": "pictures (flip, turn, zoom, shift)",
                "spectrogram": "spectrograms (mask time and pitch bands)",
            }[k],
            **common.kept("augment_kind", kind),
        )
        augmentation_preview(found, kind, image_size, seed)
    return dict(augment=bool(augment), augment_kind=kind)


def settings_form(folder: str, found: datasets.Scan):
    """The settings widgets; returns the RunConfig they describe and the "Training settings"
    expander (the learning-rate finder is drawn into it once the config is known)."""
    spec = strategy_choice(measured_advice(folder))
    image_size = common.image_size_input("train")
    with st.expander("Change the settings (optional: the defaults work)"):
        sizes = size_settings(spec)
        seed = st.number_input(
            "Seed (same seed, same split and start: repeatable runs)",
            **bounds.of("seed"),
            help=glossary.explain("seed"),
            **common.kept("seed", RunConfig.default("seed")),
        )
        augmentation = augmentation_settings(found, image_size, int(seed))
        weights = weights_setting()
        precision = precision_setting()
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
        weights, common.weights_here(), common.imagenet_downloadable
    )


def start(config: dict) -> None:
    """Start button callback (the rule, one run at a time, is core.jobs.runs')."""
    run = runs.start_training(
        common.get_store(), RunConfig.from_dict(config), owner=common.session_id()
    )
    if common.flash_refusal(run):
        return
    st.session_state[common.TRAIN_RUN] = run.id
    st.session_state.pop(SEEN_ACTIVE, None)


def resume(run_id: str) -> None:
    resumed = runs.resume_training(common.get_store(), run_id, owner=common.session_id())
    if not common.flash_refusal(resumed):
        st.session_state[common.TRAIN_RUN] = run_id


# -- the run ----------------------------------------------------------------------------------
def show_live(run_id: str) -> None:
    """Polled every second while the run is active."""
    store = common.get_store()
    common.refresh_runs(store)
    run = store.get(run_id)
    if not run.active:
        common.rerun_if_ended(SEEN_ACTIVE, run.id)  # it just ended: results, Start enabled
        show_finished(run)
        return
    st.markdown(f"**{common.md(report.run_label(run))}**")
    fraction, text = common.progress_of(run)
    st.progress(fraction if fraction is not None else 0.0, text=text)
    if run.status == store_mod.STOPPING:
        st.caption("Stopping at the end of the current batch...")
    else:
        common.stop_button(run, key=f"train_stop_{run.id}")
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
    kept = live.kept_epoch(common.get_store().epoch_history(run.id))
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
        st.warning(common.md(result.caution))
    if result.device is not None:  # what the worker measured, not what the driver lists
        st.caption(f"Trained on {common.md(result.device.summary)}.")


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
    common.go_to(
        "predict", "Next: try the model on new pictures", icon=":material/online_prediction:"
    )


def show_most_wrong(result) -> None:
    wrong = [w for w in result.most_wrong if Path(w.file).is_file()]
    if wrong:
        st.subheader(f"The {result.evaluated_on} pictures it got most wrong")
        images = common.thumbnails([w.file for w in wrong], 112)
        if len(images) == len(wrong):
            st.image(
                images,
                width=112,
                caption=[
                    f"{common.md(w.true)} taken for {common.md(w.predicted)} ({w.confidence:.0%})"
                    for w in wrong
                ],
            )


def show_finished(run: Run) -> None:
    st.markdown(f"**{common.md(report.run_label(run))}**")
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
        st.info("This run was stopped" + (f": {common.md(run.error)}" if run.error else "."))
    elif run.status == store_mod.DIVERGED:
        st.error(f"Training diverged: {common.md(run.error or 'the loss became NaN')}")
    elif run.status == store_mod.FAILED:
        plain, detail = report.failure_words(run.error)
        common.problem(f"This run failed: {common.md(plain)}", detail)
    elif run.status == store_mod.INTERRUPTED:
        st.warning(f"This run was interrupted: {common.md(run.error or 'the worker stopped')}")
        st.button(
            "Resume",
            icon=":material/restart_alt:",
            key=f"train_resume_{run.id}",
            on_click=resume,
            args=(run.id,),
        )
    show_curves(common.get_store(), run, only_with_points=True)
    show_results(run)


def shown_run(store, active: list[Run]) -> Run | None:
    """The latest active run (a running one before queued ones), else this session's last
    run, else the newest training run in the store (the history is shared by design)."""
    if active:
        live = [r for r in active if r.status in store_mod.LIVE]
        return (live or active)[0]
    wanted = st.session_state.get(common.TRAIN_RUN)
    if wanted:
        try:
            return store.get(wanted)
        except KeyError:
            st.session_state.pop(common.TRAIN_RUN, None)
    return report.latest(store.list(limit=50))


@st.cache_data(ttl=60, show_spinner="Checking which GPUs TensorFlow sees...")
def gpu_mismatch(home: str) -> str | None:
    """A GPU the driver lists but TensorFlow does not see (from the worker's record, else a
    child process: this one never imports TensorFlow); None on a CPU host (nothing probed)."""
    return device_facts.mismatch_for(Path(home))


def gpu_notice() -> None:
    """Said once per session, before a run starts; Start works either way (on the CPU)."""
    if st.session_state.get(GPU_MISMATCH_SEEN):
        return
    mismatch = gpu_mismatch(str(common.get_store().home))
    if mismatch is None:
        return
    st.warning(mismatch, icon=":material/memory:")
    if st.button("Understood: train on the CPU for now", key="train_gpu_mismatch_seen"):
        st.session_state[GPU_MISMATCH_SEEN] = True
        st.rerun()


def start_section(folder: str | None, active: list[Run]) -> None:
    """The settings and the Start button (disabled while any run is active)."""
    if folder is None:
        if not active:
            common.need_dataset()
        return
    found = common.usable_scan(folder)
    if found is None:
        return
    if st.session_state.get(common.AUDIO_SOURCE):
        st.caption(
            f"Sounds from {common.md(Path(st.session_state[common.AUDIO_SOURCE]).name)}"
            " are trained on as spectrogram pictures."
        )
    gpu_notice()
    choice_open = weights_notice()
    config, training_box = settings_form(folder, found)
    problems = start_problems(config)
    for problem in problems:
        common.problem(common.md(problem[:1].upper() + problem[1:]))
    waiting = choice_open and config.weights_for_run().kind == NONE  # the notice says why
    if waiting:
        st.caption(
            "Start is available once you upload the weights file or click 'Continue without "
            "pretrained weights' above."
        )
    if not problems and config.weights_for_run().kind == IMAGENET:
        if not common.weights_here().imagenet_cached:
            st.caption("The ImageNet weights (58 MB) are downloaded once, when the run starts.")
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
        if chosen and chosen != st.session_state.get(common.TRAIN_RUN):
            st.session_state[common.TRAIN_RUN] = chosen
            st.rerun()


def body() -> None:
    store = common.page_header(
        "Train",
        "Start training: the studio reuses VGG16 the way your strategy says and shows "
        "the accuracy growing after every pass over the pictures (an epoch).",
    )
    active = common.active_runs(store)
    start_section(common.current_dataset(), active)
    st.divider()
    run = shown_run(store, active)
    if run is None:
        st.caption("No run yet: click 'Start training'.")
        return
    common.shown_runs([run.id])
    if run.active:
        common.watch(SEEN_ACTIVE, run.id)
        common.poll(lambda: show_live(run.id), active=True)
    else:
        show_finished(run)
    earlier_runs(store)


common.guarded(body)
