"""One vocabulary for "no": every refusal the studio gives a person is a `Refusal`.

A Refusal is expected: bad input, a rule (one run at a time), a missing or damaged file, a
full disk, a cluster out of reach. Its message is a plain sentence for the person, with what to
do next; pages show it as a message, the CLI prints it and exits 2. Anything that is *not* a
Refusal is a fault (a bug, a crash in a library): shown with its technical detail folded.

Subclasses keep the built-in class they were before (ValueError, RuntimeError, ...) as a second
base, so code that catches those still works.
"""

from __future__ import annotations


class Refusal(Exception):
    """Something the studio will not do, and the plain sentence that says why."""

    @property
    def words(self) -> str:
        """The sentence for the person (the exception's message)."""
        return str(self.args[0]) if self.args else self.__class__.__name__
