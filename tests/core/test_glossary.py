"""core.reports.glossary: one plain line per word of jargon the pages use."""

import pytest

from core.reports import glossary

PAGE_TERMS = (
    "bottleneck",
    "layer",
    "fine-tune",
    "logistic regression",
    "validation loss",
    "epoch",
    "learning rate",
    "augmentation",
    "pretrained weights",
    "image size",
    "optimizer",
    "early stopping",
    "learning-rate finder",
)


@pytest.mark.parametrize("term", PAGE_TERMS)
def test_every_term_the_pages_use_is_explained_in_one_plain_line(term):
    text = glossary.explain(term.upper())
    assert 20 < len(text) < 260 and "\n" not in text
    assert term.lower() not in text.lower().split(".")[0][:3]  # not a bare repetition


def test_an_unknown_term_is_a_key_error():
    with pytest.raises(KeyError):
        glossary.explain("hyperparameter")
