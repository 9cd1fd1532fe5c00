"""Published reference lines: only for their dataset, flagged when the setting differs."""

from __future__ import annotations

from core.model import vgg16
from core.reports.references import CATS_VS_DOGS_SMALL, REFERENCES, references_for
from core.runs import strategies


def test_reference_table():
    by_strategy = {r.strategy: r for r in REFERENCES}
    assert by_strategy["head"].accuracy == 0.90
    assert by_strategy["finetune"].accuracy == 0.94
    assert by_strategy["finetune"].unfreeze_blocks == 1  # block5 only
    for ref in REFERENCES:
        assert ref.strategy in strategies.STRATEGIES
        assert ref.dataset_id == CATS_VS_DOGS_SMALL == "cats_vs_dogs_small"
        assert ref.image_size == 150 and ref.weights == "imagenet"
        assert "Keras blog" in ref.source and "2016" in ref.source
        assert "150 px" in ref.note and "ImageNet" in ref.note


def test_only_for_cats_vs_dogs_small():
    assert references_for(None, 150, "imagenet") == []
    assert references_for("mnist", 150, "imagenet") == []
    assert references_for("cats_vs_dogs", 150, "imagenet") == []
    assert len(references_for(CATS_VS_DOGS_SMALL, 150, "imagenet")) == 2


def test_comparable_only_in_the_published_setting(tmp_path):
    assert all(r.comparable for r in references_for(CATS_VS_DOGS_SMALL, 150, "imagenet"))
    for size, weights in (
        (64, "imagenet"),
        (150, "none"),
        (224, "imagenet"),
        (150, str(tmp_path / "my_weights.h5")),
    ):
        refs = references_for(CATS_VS_DOGS_SMALL, size, weights)
        assert len(refs) == 2 and not any(r.comparable for r in refs), (size, weights)
    local_copy = str(tmp_path / vgg16.IMAGENET_NOTOP_FILE)  # the same ImageNet file, offline
    assert all(r.comparable for r in references_for(CATS_VS_DOGS_SMALL, 150, local_copy))


def test_table_is_not_mutated():
    references_for(CATS_VS_DOGS_SMALL, 64, "none")
    assert all(r.comparable for r in REFERENCES)
