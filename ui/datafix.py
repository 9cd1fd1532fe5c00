"""The Data page's map of the data, near-duplicates and fixes (relabel, exclude, undo).

Streamlit glue only: the map is drawn by a worker run (core.jobs.runs.start_map,
core.train.datamap), the
edits are core.data.datafix's, which never touch the person's files.
"""

from __future__ import annotations

import streamlit as st

from core.data import datafix
from core.data.datasets import Scan
from core.jobs import runs
from core.reports import charts, report
from core.runs import store as store_mod
from core.runs.config import RunConfig
from core.train import datamap
from ui import messages, scans, session_keys, studio

MAP_RUN_CHOICE = "data_map_run"  # the finished run whose mistakes the map and lists show
NO_RUN = "none"
SEEN_MAP = "_data_map_seen_active"
SHOWN_PAIRS = 12  # near-duplicate pairs listed with pictures (the table lists all)
THUMB = 96


# -- edits --------------------------------------------------------------------------------------
def _change(make, done: str | None = None) -> None:
    """Run one overlay change; a refused one is flashed as an error, a made one as `done`."""
    with messages.refusals(later=True) as refused:
        edit = make()
    if refused:
        return
    if done:
        messages.flash("success", f"{done} (in the studio only): {messages.md(edit.describe())}")


def _relabel(folder: str, rel: str, key: str) -> None:
    """Button callback: move `rel` to the class chosen in the selectbox `key`."""
    home, to = studio.get_store().home, st.session_state[key]
    _change(lambda: datafix.relabel(home, scans.scan(folder), rel, to), "Moved")


def _exclude(folder: str, rel: str) -> None:
    _change(lambda: datafix.exclude(studio.get_store().home, scans.scan(folder), rel), "Left out")


def _undo(folder: str, edit_id: str) -> None:
    _change(lambda: datafix.undo(studio.get_store().home, folder, edit_id))


def _undo_all(folder: str) -> None:
    count = datafix.undo_all(studio.get_store().home, folder)
    messages.flash("success", f"Undid {count} edit(s): the dataset is as its folders say.")


def fix_controls(found: Scan, folder: str, rel: str, key: str, suggest: str | None = None):
    """Move one picture to another class, or leave it out; nothing happens to its file."""
    current = next((i.label for i in found.items if i.rel == rel), None)
    if current is None:
        st.caption("Excluded (undo it in the list of edits above).")
        return
    others = [c for c in found.classes if c != current] or found.classes
    choice = f"data_fix_class_{key}"
    index = others.index(suggest) if suggest in others else 0
    st.selectbox("Move to class", others, index=index, key=choice)
    move, leave = st.columns(2)
    move.button("Move", key=f"data_fix_move_{key}", on_click=_relabel, args=(folder, rel, choice))
    leave.button("Exclude", key=f"data_fix_exclude_{key}", on_click=_exclude, args=(folder, rel))


def show_edits(found: Scan, folder: str) -> None:
    """The dataset's edits, each with Undo, and Undo all; the counts above include them."""
    edits = datafix.edits(studio.get_store().home, folder)
    if not edits:
        return
    st.subheader("Your fixes to this dataset")
    st.write(
        f"{len(edits)} edit(s), kept in the studio: your own files are unchanged. The counts "
        "and checks on this page, and the next run, use the edited dataset."
    )
    for edit in reversed(edits):
        text, button = st.columns([5, 1])
        text.markdown(messages.md(edit.describe()))
        button.button("Undo", key=f"data_undo_{edit.id}", on_click=_undo, args=(folder, edit.id))
    st.button(
        "Undo all", key="data_undo_all", icon=":material/undo:", on_click=_undo_all, args=(folder,)
    )


# -- the map -------------------------------------------------------------------------------------
def _draw(folder: str) -> None:
    outcome = runs.start_map(
        studio.get_store(),
        folder,
        session_keys.image_size(),
        str(session_keys.setting("weights")),
        owner=session_keys.session_id(),
    )
    messages.flash_refusal(outcome, busy_kind="info")


def chosen_run(found: Scan, folder: str):
    """The finished training run whose mistakes are shown (None: no run)."""
    done = datamap.finished_runs(studio.get_store(), folder)
    if not done:
        return None
    names = {NO_RUN: "none", **{r.id: report.run_label(r) for r in done}}
    if st.session_state.get(MAP_RUN_CHOICE) not in names:  # a run of another dataset, deleted
        session_keys.set_kept(MAP_RUN_CHOICE, done[0].id)
    picked = st.selectbox(
        "Show the mistakes and split of run",
        list(names),
        format_func=names.__getitem__,
        **session_keys.kept(MAP_RUN_CHOICE, done[0].id),
    )
    return next((r for r in done if r.id == picked), None)


def show_map(found: Scan, folder: str, run) -> None:
    st.subheader("A map of the data")
    st.write(
        "Each dot is a picture, placed by what VGG16 sees in it: similar pictures sit close "
        "together. A dot far inside another class's cloud is worth a look (a wrong label?). "
        "Click a dot to see the picture and fix it."
    )
    latest = runs.latest_map(studio.get_store(), folder)
    if latest is not None and latest.active:
        studio.watch(SEEN_MAP, latest.id)
        studio.poll(
            lambda: studio.side_run_progress(latest.id, "Drawing the map", SEEN_MAP), active=True
        )
        return
    result = latest.result if latest is not None and latest.status == store_mod.DONE else None
    current = result is not None and datamap.is_current(result, found.fingerprint())
    label = "Draw the map again" if current else "Draw the map"
    st.button(
        label, key="data_draw_map", icon=":material/scatter_plot:", on_click=_draw, args=(folder,)
    )
    if latest is not None and latest.status == store_mod.FAILED:
        messages.problem(*report.failure_words(latest.error))
    if not current:
        st.caption("Uses the features cached by earlier runs; only missing ones are computed.")
        return
    draw_map(found, folder, result, run)
    show_near_duplicates(found, folder, result, run)


def draw_map(found: Scan, folder: str, result, run) -> None:
    labels = {i.rel: i.label for i in found.items}  # after edits; excluded files drop out
    points = [(p.rel, labels[p.rel], p.x, p.y) for p in result.points if p.rel in labels]
    wrong = datamap.wrong_files(run.training_result if run else None, found.root, every=True)
    why = {rel: datamap.mistake(w) for rel, w in wrong.items()}
    st.caption(f"Projection: {messages.md(result.method_note or result.method)}.")
    event = st.plotly_chart(
        charts.data_map(points, why, result.method),
        key="data_map_chart",
        on_select="rerun",
        selection_mode="points",
    )
    chosen = _clicked(event)
    if chosen and chosen in labels:
        left, right = st.columns([1, 3])
        left.image(scans.thumbnails([_path(found, chosen)], 160), width=160)
        with right:
            st.markdown(f"**{messages.md(chosen)}**, class {messages.md(labels[chosen])}")
            if chosen in why:
                st.caption(messages.md(why[chosen]))
            fix_controls(found, folder, chosen, "map")


def _clicked(event) -> str | None:
    """The file of the clicked dot (its customdata), if any."""
    try:
        points = event.selection.points
    except AttributeError:
        return None
    if not points:
        return None
    data = points[0].get("customdata")
    return data[0] if isinstance(data, list) else data


# -- near-duplicates and mistakes -----------------------------------------------------------------
def show_near_duplicates(found: Scan, folder: str, result, run) -> None:
    st.subheader("Near-duplicates")
    threshold = st.slider(
        "Similarity threshold",
        min_value=float(result.pair_floor),
        max_value=1.0,
        value=datamap.DEFAULT_THRESHOLD,
        step=0.005,
        key="data_dup_threshold",
        help="The cosine similarity of the two pictures' pooled VGG16 features, each less the "
        "dataset's average feature (centred).",
    )
    st.caption(
        "How alike VGG16 finds two pictures, from 0 to 1 (1 = the same picture). The default, "
        f"{datamap.DEFAULT_THRESHOLD}, keeps "
        "copies and near-copies of one picture; lower, merely similar pictures of a class "
        "come in. Pairs split between training and validation or test are flagged as leakage: "
        "the score would be optimistic."
    )
    if len(result.pairs) >= datamap.MAX_PAIRS:
        st.caption(f"Only the {datamap.MAX_PAIRS} most alike pairs were kept.")
    sides = datamap.split_sides(
        studio.get_store(),
        run,
        found,
        RunConfig.default("val_fraction"),
        RunConfig.default("test_fraction"),
        int(session_keys.setting("seed")),
    )
    present = [i.rel for i in found.items]
    pairs = datamap.near_duplicates(result, threshold, sides, present)
    leaks = sum(p.leak for p in pairs)
    if not pairs:
        st.success("No pair of pictures is that alike.")
        return
    (st.warning if leaks else st.info)(
        f"{len(pairs)} pair(s) at or above {threshold:.3f}; {leaks} straddle training and a "
        "held-out side (leakage)."
    )
    for k, pair in enumerate(pairs[:SHOWN_PAIRS]):
        show_pair(found, folder, pair, k)


def show_pair(found: Scan, folder: str, pair, k: int) -> None:
    flag = " · **leakage**" if pair.leak else ""
    st.markdown(f"Similarity {pair.similarity:.3f}{flag}")
    for col, rel, side, half in zip(
        st.columns(2),
        (pair.first, pair.second),
        (pair.first_side, pair.second_side),
        "ab",
        strict=True,
    ):
        with col:
            st.image(scans.thumbnails([_path(found, rel)], THUMB), width=THUMB)
            st.caption(f"{messages.md(rel)} ({side or 'not in the split'})")
            fix_controls(found, folder, rel, f"dup_{k}{half}")


def show_most_wrong(found: Scan, folder: str, run) -> None:
    wrong = datamap.wrong_files(run.training_result if run else None, found.root)
    if not wrong:
        return
    st.subheader("The run's most confidently wrong pictures")
    st.write("A wrong label, or a picture that belongs to no class? Move it or leave it out.")
    for k, (rel, record) in enumerate(wrong.items()):
        left, right = st.columns([1, 3])
        left.image(scans.thumbnails([_path(found, rel)], THUMB), width=THUMB)
        with right:
            st.caption(f"{messages.md(rel)}: {messages.md(datamap.mistake(record))}")
            fix_controls(found, folder, rel, f"wrong_{k}", suggest=record.predicted)


def _path(found: Scan, rel: str) -> str:
    """A file of the dataset by its name relative to the folder (excluded files too)."""
    paths = {i.rel: i.path for i in [*found.items, *found.excluded]}
    return str(paths.get(rel, found.root / rel))


def show(found: Scan, folder: str) -> None:
    """The map, near-duplicates and a run's mistakes, each with its fixes (for a usable
    dataset; the list of edits, show_edits, is shown whatever the scan says)."""
    run = chosen_run(found, folder)
    show_map(found, folder, run)
    show_most_wrong(found, folder, run)
