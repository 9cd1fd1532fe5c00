"""The Runs page: filter runs, rename and tag one, delete one after confirming."""

from apptesting import (
    HOSTILE_NAMES,
    assert_shown_escaped,
    finished_run,
    no_exceptions,
    page,
    queued_run,
    texts,
)

from core.runs import store as store_mod
from ui import session_keys


def test_without_runs_the_page_says_where_runs_come_from(store):
    at = page("6_runs.py").run()
    no_exceptions(at)
    assert "No run yet" in texts(at.info)


def test_filters_narrow_the_table(store, digits):
    finished_run(store, digits, strategy="head")
    linear = finished_run(store, digits, strategy="linear", status=store_mod.FAILED)
    at = page("6_runs.py").run()
    no_exceptions(at)
    assert "2 of 2 run(s)." in texts(at.caption)
    at.multiselect(key="runs_f_strategy").set_value(["linear"]).run()
    assert "1 of 2 run(s)." in texts(at.caption)
    table = at.dataframe[0].value
    assert list(table["id"]) == [linear.id]
    assert table["weights"][0] == "no pretrained weights"  # names carry the weights
    at.multiselect(key="runs_f_status").set_value(["done"]).run()
    assert "0 of 2 run(s)." in texts(at.caption)


def test_the_table_shows_the_held_out_test_score_before_validation(store, digits):
    scored = finished_run(store, digits, accuracy=0.95, test={"test_accuracy": 0.72})
    older = finished_run(store, digits, accuracy=0.8)  # before the test split: none
    at = page("6_runs.py").run()
    no_exceptions(at)
    table = at.dataframe[0].value.set_index("id")
    columns = list(table.columns)
    assert columns.index("test accuracy") < columns.index("validation accuracy")
    assert table.loc[scored.id, "test accuracy"] == "72.0%"
    assert table.loc[scored.id, "validation accuracy"] == "95.0%"
    assert table.loc[older.id, "test accuracy"] == ""  # blank, not "None"


def test_rename_and_tag_a_run(store, digits):
    run = finished_run(store, digits)
    at = page("6_runs.py").run()
    at.text_input(key=f"runs_name_{run.id}").set_value("baseline")
    at.button(key=f"runs_rename_{run.id}").click().run()
    # issue 20 item 13: a rename asks first, naming the old and the new name
    assert store.get(run.id).display_name is None
    assert "to baseline?" in texts(at.warning)
    at.button(key="runs_rename_yes").click().run()
    no_exceptions(at)
    assert store.get(run.id).display_name == "baseline"
    assert "Renamed to baseline\\: Feature extractor" in texts(at.success)
    at.text_input(key=f"runs_new_tag_{run.id}").set_value("keep")
    at.button(key=f"runs_add_tag_{run.id}").click().run()
    assert store.get(run.id).tags == ("keep",)
    assert at.multiselect(key="runs_f_tag").options == ["keep"]
    at.button(key=f"runs_rm_tag_{run.id}_0").click().run()
    assert store.get(run.id).tags == ()


def test_delete_asks_first_then_removes_the_files(store, digits):
    keep = finished_run(store, digits, group_id="g")
    run = finished_run(store, digits, group_id="g")
    folder = store.run_dir(run.id)
    at = page("6_runs.py", **{session_keys.TRAIN_RUN: run.id}).run()
    at.selectbox(key="_w_runs_picked").set_value(run.id).run()
    at.button(key="runs_delete").click().run()
    no_exceptions(at)
    assert "cannot be undone" in texts(at.warning) and "comparison" in texts(at.warning)
    assert folder.is_dir()  # nothing removed before the second click
    at.button(key="runs_delete_yes").click().run()
    no_exceptions(at)
    assert not folder.exists() and [r.id for r in store.list()] == [keep.id]
    assert "1 of its runs remain" in texts(at.success)
    assert session_keys.TRAIN_RUN not in at.session_state


def test_an_active_run_offers_no_delete(store, digits):
    queued_run(store, digits)
    at = page("6_runs.py").run()
    no_exceptions(at)
    assert not [b for b in at.button if b.key == "runs_delete"]
    assert "stop it" in texts(at.caption)


def test_hostile_names_and_tags_are_shown_escaped(store, digits):
    run = finished_run(store, digits)
    store.update(run.id, display_name=HOSTILE_NAMES[0], tags=[HOSTILE_NAMES[1]])
    at = page("6_runs.py").run()
    no_exceptions(at)
    at.button(key="runs_delete").click().run()
    assert_shown_escaped(at, HOSTILE_NAMES[1])


def test_measurements_and_maps_are_listed_apart_without_scores(store, digits):
    """Issue 20 item 13: measurements and maps were listed as runs with "None" scores, and
    long names were cut so that two runs looked the same."""
    trained = finished_run(store, digits, strategy="head")
    probe = queued_run(store, digits, task="probe")
    store.finish(probe.id, store_mod.DONE, result={"probe": {}})
    at = page("6_runs.py").run()
    no_exceptions(at)
    runs_table, side_table = (frame.value for frame in at.dataframe)
    assert list(runs_table["id"]) == [trained.id]
    assert list(side_table["id"]) == [probe.id] and "test accuracy" not in side_table
    assert side_table["what"][0] == "similarity measurement"
    assert "Measurements, maps and learning-rate tests" in texts(at.markdown)
