"""Streamlit glue shared by the pages: the store, the session, the guard, cached scans and
widgets whose value survives page switches. No Keras here, nothing heavy at import."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from core.data import audio, datasets, overlay, samples, session
from core.data.imaging import UnreadableImage, load_pil_rgb
from core.data.scan_cache import ScanCache
from core.jobs import runs, worker
from core.model import vgg16, weights_file
from core.platform import settings
from core.platform.refusal import Refusal
from core.reports import glossary, report
from core.runs import store as store_mod
from core.runs import strategies, workspace
from core.runs.config import RunConfig
from core.runs.store import Run, Store
from ui import bounds, scanning

log = logging.getLogger("studio.pages")
POLL_SECONDS = 1.0

# st.session_state keys shared between pages
SESSION_ID = "session_id"
DATASET = "dataset"  # the folder runs train on (for audio: its spectrogram folder)
DATASET_LABEL = "dataset_label"  # how it was chosen, in words
AUDIO_SOURCE = "audio_source"  # the audio folder a spectrogram dataset came from
IMAGE_SIZE = "image_size"
WEIGHTS = "weights"  # "imagenet" | "none" | a file path
WITHOUT_PRETRAINED = "without_pretrained"  # chose to go on without pretrained weights
STRATEGY = "strategy"
UNFREEZE = "unfreeze_blocks"
LAYER = "layer"
TRAIN_RUN = "train_run_id"
SHOWN_RUNS = "_shown_runs"  # the run(s) the page drew last: the sidebar names the same
COMPARE_GROUP = "compare_group"
FLASH = "_flash"
APPLIED_ADVICE = "_applied_advice"  # the measurement whose advice last set the strategy


@dataclass(frozen=True)
class PageSpec:
    file: str
    title: str
    icon: str


# Every page of the app, in navigation order: the router builds st.navigation from this table,
# and links between pages use its keys. The folder is not called "pages/": Streamlit treats a
# "pages/" folder beside the main script as a legacy multipage app, and a deep link opened as
# the first request after a server start then showed the auto-generated navigation.
PAGES: dict[str, PageSpec] = {
    "home": PageSpec("app_pages/0_home.py", "Start here", ":material/home:"),
    "data": PageSpec("app_pages/1_data.py", "Data", ":material/photo_library:"),
    "strategy": PageSpec("app_pages/2_strategy.py", "Strategy", ":material/alt_route:"),
    "train": PageSpec("app_pages/3_train.py", "Train", ":material/model_training:"),
    "predict": PageSpec("app_pages/4_predict.py", "Predict", ":material/online_prediction:"),
    "compare": PageSpec("app_pages/5_compare.py", "Compare", ":material/compare_arrows:"),
    "runs": PageSpec("app_pages/6_runs.py", "Runs", ":material/list_alt:"),
}


# -- store and session ------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _store(home: str) -> Store:
    return Store(home)


def get_store() -> Store:
    """One Store per studio home ($STUDIO_HOME, default .studio), shared by all sessions."""
    return _store(str(settings.studio_home()))


BROWSER_COOKIE = "vgg16_studio_browser"  # this browser's id: who started a run, whose uploads
BROWSER_COOKIE_DAYS = 365
COOKIE_WRITTEN = "_browser_cookie_written"


def browser_cookie() -> str | None:
    """The id this browser keeps in its cookie (sent with the page's request), if valid."""
    value = st.context.cookies.get(BROWSER_COOKIE)
    return value if session.is_session_id(value) else None


def session_id() -> str:
    """Who this is: the browser's id, so a reload or a second tab of the same browser is the
    same person (a Streamlit session lives in one tab only, and a reload starts a new one);
    a browser without the cookie yet gets a new id, which keep_browser_id writes into it."""
    if SESSION_ID not in st.session_state:
        st.session_state[SESSION_ID] = browser_cookie() or session.new_session_id()
    return st.session_state[SESSION_ID]


def keep_browser_id() -> None:
    """Once per session, when the browser's cookie does not hold this session's id yet: write
    it (Streamlit reads cookies but cannot set them, so a script on the page does)."""
    me = session_id()
    if browser_cookie() == me or st.session_state.get(COOKIE_WRITTEN) == me:
        return
    st.session_state[COOKIE_WRITTEN] = me
    seconds = BROWSER_COOKIE_DAYS * 24 * 3600
    st.html(
        f"<script>document.cookie = '{BROWSER_COOKIE}={me}; path=/; max-age={seconds}; "
        "SameSite=Strict';</script>",
        unsafe_allow_javascript=True,
    )


def session_home() -> Path:
    return session.session_dir(get_store().home, session_id())


def refresh_runs(store: Store) -> None:
    """Runs whose worker died become interrupted; queued runs get a worker if none is up."""
    worker.reap(store)  # does both


def active_runs(store: Store) -> list[Run]:
    return store.list(statuses=store_mod.ACTIVE)


def page_header(title: str, intro: str) -> Store:
    """Every page's start: its title and one sentence, the message a button callback left
    (flash), and the store with runs of dead workers marked interrupted."""
    st.title(title)
    st.write(intro)
    show_flash()
    store = get_store()
    show_store_notices(store)
    refresh_runs(store)
    return store


NOTICES_SEEN = "_store_notices_seen"  # how many of the store's notices this session saw


def show_store_notices(store: Store) -> None:
    """What happened to the run database (moved aside as unreadable and replaced: where the old
    file went), shown once in each session as a warning; the store keeps the list."""
    seen = st.session_state.get(NOTICES_SEEN, 0)
    for notice in store.notices[seen:]:
        st.warning(md(notice[:1].upper() + notice[1:]), icon=":material/database:")
    st.session_state[NOTICES_SEEN] = len(store.notices)


# -- runs on screen ---------------------------------------------------------------------------
def watch(key: str, token: object) -> None:
    """Note that the page was drawn while something (a run id) was active; see rerun_if_ended."""
    st.session_state[key] = token


def rerun_if_ended(key: str, token: object) -> None:
    """From a polling fragment, once `token`'s run is no longer active: if the page was drawn
    while it was (watch), redraw the whole page (results, Start buttons enabled again)."""
    if st.session_state.get(key) == token:
        st.session_state.pop(key)
        st.rerun()


def progress_of(run: Run) -> tuple[float | None, str]:
    """report.progress_view, knowing how many active runs were queued before this one."""
    ahead = None
    if run.status == store_mod.QUEUED:
        ahead = sum(1 for r in active_runs(get_store()) if r.created < run.created)
    return report.progress_view(run, ahead)


def side_run_progress(run_id: str, doing: str, seen_key: str) -> None:
    """From a polling fragment: a measurement's or a map's progress ('Measuring: ...') while it
    runs; once it has ended, the whole page is redrawn with its result (rerun_if_ended)."""
    run = get_store().get(run_id)
    if run.active:
        fraction, text = progress_of(run)
        st.info(f"{doing}: {md(text)}")
        if fraction is not None:
            st.progress(fraction)
        return
    rerun_if_ended(seen_key, run.id)


def pick_run(label: str, runs: list[Run], key: str, preferred: str | None = None) -> str:
    """A selectbox of runs whose choice survives page switches: `preferred` (or the newest)
    until the user picks another; a choice that left the list falls back to it."""
    labels = {r.id: report.run_label(r) for r in runs}
    default = preferred if preferred in labels else runs[0].id
    if st.session_state.get(key) not in labels:
        st.session_state[key] = default
    chosen = st.selectbox(label, list(labels), format_func=labels.__getitem__, **kept(key, default))
    shown_runs([chosen])
    return chosen


def shown_runs(run_ids: list[str]) -> None:
    """Note the run(s) this page shows, for the sidebar (drawn after the page) to name."""
    st.session_state[SHOWN_RUNS] = list(run_ids)


def pick_runs(label: str, runs: list[Run], key: str, default: list[str]) -> list[str]:
    """A multiselect of runs (named by report.run_name) whose choice survives page switches;
    runs that left the list drop out of it."""
    labels = {r.id: report.run_name(r) for r in runs}
    default = [i for i in default if i in labels]
    st.session_state[key] = [i for i in st.session_state.get(key, default) if i in labels]
    return st.multiselect(label, list(labels), format_func=labels.__getitem__, **kept(key, default))


# -- stopping a run ----------------------------------------------------------------------------
STOP_PENDING = "_stop_pending"  # the run another session started that Stop was clicked for


def stop_button(run: Run, key: str) -> None:
    """Stop for an active run: one click for a run this session started; a run started
    elsewhere (another tab, the command line, before a reload) says whose it is and asks for
    a second click, so nobody stops someone else's run by accident."""
    whose = report.owner_words(run, session_id())
    if whose is None:
        st.button("Stop", icon=":material/stop:", key=key, on_click=_stop, args=(run.id,))
        return
    st.caption(f"This run was {whose}.")
    if st.session_state.get(STOP_PENDING) != run.id:
        st.button(
            "Stop someone else's run",
            icon=":material/stop:",
            key=key,
            on_click=st.session_state.__setitem__,
            args=(STOP_PENDING, run.id),
        )
        return
    st.warning(f"This run was {whose}. Stop it anyway? Whoever started it loses the rest of it.")
    yes, no = st.columns(2)
    yes.button("Yes, stop it", key=f"{key}_confirm", on_click=_stop, args=(run.id,))
    no.button("Cancel", key=f"{key}_cancel", on_click=st.session_state.pop, args=(STOP_PENDING,))


def _stop(run_id: str) -> None:
    st.session_state.pop(STOP_PENDING, None)
    get_store().request_stop(run_id)


# -- the guard --------------------------------------------------------------------------------
def guarded(body: Callable[[], None]) -> None:
    """Run a page body; an unexpected exception becomes a message, never a traceback."""
    try:
        body()
    except Exception as exc:  # noqa: BLE001 - the user sees a message, the log has the details
        log.exception("page error")
        problem(FAULT, f"{type(exc).__name__}: {exc}")


class Caught:
    """What a refusals() block raised instead of finishing: a Refusal (its words were shown)
    or a fault (shown as one); false when the block finished."""

    def __init__(self) -> None:
        self.refusal: Refusal | None = None
        self.fault: Exception | None = None

    def __bool__(self) -> bool:
        return self.refusal is not None or self.fault is not None


@contextmanager
def refusals(intro: str = "", kind: str = "error", later: bool = False) -> Iterator[Caught]:
    """The pages' one handler for "no". A core.platform.refusal.Refusal raised in the block
    ends it and is shown as a message, "intro: its words" (kind: "error", "warning" or
    "info"; a busy runs.Refused is a warning); `later` flashes it for the page's next run
    instead (a button callback cannot place elements). Anything else is a fault: logged,
    and shown with its technical detail folded, never as a traceback.

        with common.refusals("This dataset cannot be read") as refused:
            found = scan(folder)
        if refused:
            return None
    """
    caught = Caught()
    try:
        yield caught
    except Refusal as exc:
        caught.refusal = exc
        say_refusal(exc, intro, kind, later)
    except Exception as exc:  # noqa: BLE001 - a fault is shown as one, the log has the details
        caught.fault = exc
        log.exception("page error")
        plain = f"{intro}: something unexpected went wrong." if intro else FAULT
        detail = f"{type(exc).__name__}: {exc}"
        if later:
            flash("error", plain, detail)
        else:
            problem(plain, detail)


FAULT = (
    "Something unexpected went wrong on this page. Your data and runs are safe: change a "
    "setting or reload the page to try again."
)


def say_refusal(
    refusal: Refusal,
    intro: str = "",
    kind: str = "error",
    later: bool = False,
    busy_kind: str = "warning",
) -> None:
    """Show (or, later, flash) a Refusal's words after `intro`; a busy runs.Refused (another
    run is under way) as busy_kind."""
    kind = busy_kind if getattr(refusal, "busy", False) else kind
    message = f"{intro}: {md(refusal.words)}" if intro else md(refusal.words)  # may hold paths
    if later:
        flash(kind, message)
    else:
        getattr(st, kind)(message)


def problem(plain: str, detail: str | None = None) -> None:
    """An error as a person needs it: what happened and what to do next, in plain words; the
    technical detail (exception text, layer names) folded away under "Technical detail"."""
    st.error(plain)
    if detail:
        with st.expander("Technical detail"):
            st.code(detail, language=None)


def poll(body: Callable[[], None], active: bool) -> None:
    """Render body in a fragment that reruns every POLL_SECONDS while `active`."""
    st.fragment(lambda: guarded(body), run_every=POLL_SECONDS if active else None)()


def flash(kind: str, message: str, detail: str | None = None) -> None:
    """A message for the next run of the page (callbacks cannot place elements well); an
    error with a technical detail is shown as a problem(), the detail folded."""
    st.session_state[FLASH] = (kind, message, detail)


def flash_refusal(outcome: object, busy_kind: str = "warning") -> bool:
    """Flash a returned core.jobs.runs.Refused (busy: a warning, or busy_kind; wrong settings:
    an error); True when it was one, so the callback stops there."""
    if not isinstance(outcome, runs.Refused):
        return False
    say_refusal(outcome, later=True, busy_kind=busy_kind)
    return True


def show_flash() -> None:
    kind, message, detail = st.session_state.pop(FLASH, (None, None, None))
    if kind == "error" and detail:
        problem(message, detail)
    elif kind:
        getattr(st, kind)(message)


# -- widgets whose value outlives the page ------------------------------------------------------
def _copy(widget_key: str, key: str) -> None:
    st.session_state[key] = st.session_state[widget_key]


def _widget_keys(key: str) -> list[str]:
    """Every widget copy of a kept() setting in this session (one per page that scopes it)."""
    return [k for k in st.session_state if k == f"_w_{key}" or str(k).startswith(f"_w_{key}@")]


def kept(key: str, default, scope: str = "") -> dict:
    """Keyword arguments for a widget whose value lives in st.session_state[key], so it is
    still there after visiting another page (Streamlit forgets unrendered widgets' keys)."""
    st.session_state.setdefault(key, default)
    # A setting drawn on several pages gets one widget per page (scope): Streamlit kept one
    # shared widget's old value across pages and showed it instead of the setting.
    widget_key = f"_w_{key}@{scope}" if scope else f"_w_{key}"
    # The setting is the truth. A fresh click has already been copied into it by on_change
    # (callbacks run before the script), so a widget value that differs here is stale: dropped
    # while the widget was off screen, or left over from another page's copy of the widget
    # (seen: the image size typed on Train came back as the dataset's default on Strategy).
    if st.session_state.get(widget_key) != st.session_state[key]:
        st.session_state[widget_key] = st.session_state[key]
    return {"key": widget_key, "on_change": _copy, "args": (widget_key, key)}


def set_kept(key: str, value) -> None:
    """Set a kept() setting from code (advice, a new dataset): the value and its widget's
    copy, so the widget shows it too. Call before the widget is drawn in this run."""
    st.session_state[key] = value
    for widget_key in _widget_keys(key) or [f"_w_{key}"]:
        st.session_state[widget_key] = value


def forget_kept(*keys: str) -> None:
    """Drop kept() settings, so their widgets start again from their defaults."""
    for key in keys:
        st.session_state.pop(key, None)
        for widget_key in _widget_keys(key):
            st.session_state.pop(widget_key, None)


def setting(key: str):
    """A run setting as this session last chose it, else RunConfig's default (the one source
    of defaults): the session keys of run settings are RunConfig's field names."""
    return st.session_state.get(key, RunConfig.default(key))


def strategy_select(default: str) -> strategies.Strategy:
    """The Strategy dropdown shared by the Strategy and Train pages (one session value):
    `default` is the measured advice when there is one, else RunConfig's."""
    keys = list(strategies.STRATEGIES)
    if st.session_state.get(STRATEGY) not in keys:
        set_kept(STRATEGY, default)
    key = st.selectbox(
        "Strategy",
        keys,
        format_func=lambda k: strategies.get(k).title,
        help=" ".join(glossary.explain(t) for t in ("strategy", "bottleneck", "fine-tune")),
        **kept(STRATEGY, default),
    )
    return strategies.get(key)


def strategy_options(spec: strategies.Strategy, layer_default: str) -> tuple[int, str]:
    """The settings a strategy takes besides epochs, shared by the Strategy and Train pages:
    VGG16 blocks to retrain (fine-tuning) and the layer a linear classifier reads."""
    blocks = int(setting(UNFREEZE))
    if any(p.unfreeze_blocks == strategies.CONFIGURED for p in spec.phases):
        blocks = st.slider(
            "VGG16 blocks to retrain in the fine-tuning phase",
            **bounds.of(UNFREEZE),
            help=glossary.explain("fine-tune") + " " + glossary.explain("block"),
            **kept(UNFREEZE, RunConfig.default(UNFREEZE)),
        )
    layer = setting(LAYER)
    if spec.uses_layer:
        layer = st.selectbox(
            "Layer the classifier reads",
            vgg16.FEATURE_LAYERS,
            format_func=lambda name: f"{glossary.layer_words(name)}: {name}",
            help=glossary.explain("layer"),
            **kept(LAYER, layer_default),
        )
    return blocks, layer


def apply_advice(run: Run) -> None:
    """The first time a measurement's advice is seen (on the Strategy or the Train page), it
    becomes the chosen strategy; after that the person's own choice stands."""
    advice = run.probe_result.advice if run.probe_result else None
    if advice is None or st.session_state.get(APPLIED_ADVICE) == run.id:
        return
    st.session_state[APPLIED_ADVICE] = run.id
    set_kept(STRATEGY, advice.strategy)
    if advice.layer in vgg16.FEATURE_LAYERS:
        set_kept(LAYER, advice.layer)
    if advice.unfreeze_blocks:
        set_kept(UNFREEZE, int(advice.unfreeze_blocks))


def image_size_input(page: str) -> int:
    """The image size: one setting, one session key, the same widget on every page that shows
    it (a new dataset sets it to its own default, see set_dataset)."""
    return int(
        st.number_input(
            "Image size (pixels)",
            **bounds.of(IMAGE_SIZE),
            step=16,
            help=glossary.explain("image size"),
            **kept(IMAGE_SIZE, image_size(), scope=page),
        )
    )


def once_per_upload(key: str, upload, work: Callable[[], object]) -> tuple[object, bool]:
    """(work()'s answer for this upload, whether it was computed just now). Computed once:
    Streamlit hands the same upload to every rerun, and extracting or saving it again would
    repeat (or duplicate) it. Kept in st.session_state[key], by upload."""
    done = st.session_state.setdefault(key, {})
    new = upload.file_id not in done
    if new:
        done[upload.file_id] = work()
    return done[upload.file_id], new


# -- text -------------------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def md(text: object) -> str:
    """User text (class or file names) escaped for Streamlit Markdown."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


# -- datasets ---------------------------------------------------------------------------------
def current_dataset() -> str | None:
    folder = st.session_state.get(DATASET)
    return folder if folder and Path(folder).is_dir() else None


def set_dataset(folder: str | Path, label: str, audio_source: str | None = None) -> None:
    folder = str(Path(folder).expanduser().resolve())
    if st.session_state.get(DATASET) != folder:
        forget_kept(STRATEGY, UNFREEZE, LAYER)
        st.session_state.pop(APPLIED_ADVICE, None)  # this dataset's own advice applies anew
    st.session_state[DATASET] = folder
    st.session_state[DATASET_LABEL] = label
    st.session_state[AUDIO_SOURCE] = audio_source
    set_kept(IMAGE_SIZE, default_image_size(folder))


def default_image_size(folder: str) -> int:
    sample = samples.SAMPLES.get(samples.sample_id(folder) or "")
    return sample.image_size if sample else RunConfig.default(IMAGE_SIZE)


def image_size() -> int:
    if IMAGE_SIZE not in st.session_state:
        folder = current_dataset()
        st.session_state[IMAGE_SIZE] = (
            default_image_size(folder) if folder else RunConfig.default(IMAGE_SIZE)
        )
    return int(st.session_state[IMAGE_SIZE])


@st.cache_data(show_spinner="Reading the dataset...", max_entries=32)
def _scan(signature: tuple[str, int, int], edits: str, home: str) -> datasets.Scan:
    cache = ScanCache(home)
    return audio.scan_dataset(signature[0], edits=overlay.loads(edits), cache=cache)


def scan(folder: str) -> datasets.Scan:
    """audio.scan_dataset (images, or sound clips) with the dataset's edits applied (the
    overlay: relabelled and excluded files), cached by folder, the newest modification time
    below it and the edits; files are read once per studio home (the scan cache, which the
    worker and the CLI share). A page first asks `scanning.ready` so that a long first scan
    runs in the background."""
    home = get_store().home
    edits = overlay.load(home, folder)
    return _scan(session.folder_signature(folder), overlay.dumps(edits), str(home))


@st.cache_data(show_spinner=False, max_entries=64)
def _thumbnails(paths: tuple[str, ...], size: int) -> list[np.ndarray]:
    out = []
    for path in paths:
        try:
            image = load_pil_rgb(path)
        except UnreadableImage:
            continue
        image.thumbnail((size, size))
        out.append(np.asarray(image))
    return out


def thumbnails(paths: list[str], size: int = 96) -> list[np.ndarray]:
    return _thumbnails(tuple(paths), size)


def go_to(page: str, label: str, icon: str | None = None) -> None:
    """A link to another page (plain text when the page runs on its own, outside the app)."""
    try:
        st.page_link(PAGES[page].file, label=label, icon=icon)
    except Exception:  # noqa: BLE001 - StreamlitPageNotFoundError outside st.navigation
        st.caption(label)


def usable_scan(folder: str) -> datasets.Scan | None:
    """The dataset's (cached) scan, or an error saying what to fix and None; None with the
    progress shown while a long first scan runs in the background."""
    if not scanning.ready(folder, get_store().home):
        return None
    with refusals("This dataset cannot be read") as refused:
        found = scan(folder)
    if refused:
        return None
    if not found.ok:
        st.error("Fix the dataset first (see the Data page): " + md("; ".join(found.errors)))
        return None
    return found


def ready_dataset() -> tuple[str, datasets.Scan] | None:
    """The guard of pages that need a dataset: (folder, scan), or a message saying what to
    do (choose one, or fix it) and None."""
    folder = need_dataset()
    found = usable_scan(folder) if folder is not None else None
    return None if found is None else (folder, found)


def need_dataset() -> str | None:
    """The current dataset, or a guiding message and None."""
    folder = current_dataset()
    if folder is None:
        st.info(
            "First choose the pictures to learn from: open the Data page and click "
            "'Use the sample dataset' (or pick your own)."
        )
        go_to("data", "Go to the Data page", icon=":material/arrow_forward:")
    return folder


# -- weights ----------------------------------------------------------------------------------
def weights_here() -> weights_file.WeightsOnMachine:
    """The pretrained weights on this machine (a few stat calls, no network)."""
    return weights_file.on_this_machine(get_store().home)


def default_weights() -> str:
    """The weights a first run uses: $VGG16_WEIGHTS when set, else ones that work here offline
    (ImageNet's cached file, then an uploaded file, else none)."""
    return weights_file.default_setting(get_store().home)


def weights() -> str:
    if WEIGHTS not in st.session_state:
        st.session_state[WEIGHTS] = default_weights()
    return st.session_state[WEIGHTS]


REACHABLE = "_imagenet_reachable"  # (time asked, answer)
REACHABLE_SECONDS = 600


def imagenet_downloadable() -> bool:
    """Whether the ImageNet weights could be downloaded now. A network call, so it is asked
    only when ImageNet is chosen and not on the machine, and the answer is kept for ten
    minutes in this session."""
    asked, answer = st.session_state.get(REACHABLE, (0.0, False))
    if time.time() - asked > REACHABLE_SECONDS:
        answer = weights_file.download_reachable()
        st.session_state[REACHABLE] = (time.time(), answer)
    return answer


# -- the workspace: what a reload or a second tab comes back to -------------------------------
WORKSPACE_SEEN = "_workspace_seen"  # the workspace as this session last read or wrote it
# session keys of chosen values that are not RunConfig fields: the per-phase optimizer and
# learning rate widgets (ui.train_settings.optimizer_key / lr_key)
# ... and the choice to go on without pretrained weights (Start waits for it)
CHOICE_KEY = re.compile(rf"^((opt|lr)_[a-z]+_[a-z0-9_]+|{WITHOUT_PRETRAINED})$")


def current_workspace() -> workspace.Workspace:
    """This session's dataset, run settings (session keys named as RunConfig fields) and
    last results, as core.runs.workspace keeps them."""
    state = st.session_state
    return workspace.Workspace(
        dataset=state.get(DATASET),
        dataset_label=state.get(DATASET_LABEL) or "",
        audio_source=state.get(AUDIO_SOURCE),
        settings=workspace.valid_settings(
            {name: state[name] for name in workspace.SETTINGS if name in state}
        ),
        train_run=state.get(TRAIN_RUN),
        compare_group=state.get(COMPARE_GROUP),
        applied_advice=state.get(APPLIED_ADVICE),
        choices=workspace.plain(
            {k: state[k] for k in state if isinstance(k, str) and CHOICE_KEY.match(k)}
        ),
    )


def restore_workspace() -> None:
    """Once per session (a new tab, a reload): the studio home's saved workspace fills the
    session state, where this session has not set a value already."""
    if WORKSPACE_SEEN in st.session_state:
        return
    saved = workspace.load(get_store().home)
    if saved is not None:
        values = {
            DATASET: saved.dataset,
            DATASET_LABEL: saved.dataset_label,
            AUDIO_SOURCE: saved.audio_source,
            TRAIN_RUN: saved.train_run,
            COMPARE_GROUP: saved.compare_group,
            APPLIED_ADVICE: saved.applied_advice,
            **saved.settings,
            **{k: v for k, v in saved.choices.items() if CHOICE_KEY.match(k)},
        }
        for key, value in values.items():
            if value is not None and key not in st.session_state:
                st.session_state[key] = value
    st.session_state[WORKSPACE_SEEN] = saved or workspace.Workspace()


def remember_workspace() -> None:
    """Save the workspace when this session changed it (not on every rerun: a tab that only
    looks never overwrites what another tab chose)."""
    now = current_workspace()
    if st.session_state.get(WORKSPACE_SEEN) == now:
        return
    try:
        workspace.save(now, get_store().home)
    except OSError as exc:  # a full or read-only disk costs the reload memory, nothing else
        log.warning("workspace not saved: %s", exc)
    st.session_state[WORKSPACE_SEEN] = now
