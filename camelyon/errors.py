"""Errors meant for the person running the pipeline.

Raise :class:`CamelyonError` (or a subclass) with a message that names the file, parameter or
row and says what was expected. The command line prints such errors in one line, without a
traceback, and exits with status 2.
"""


class CamelyonError(Exception):
    """A problem with the user's input or files, explained in the message."""


class SlideError(CamelyonError):
    """A slide file is missing, unreadable, or lacks what the step needs (e.g. its um/px)."""


class AnnotationError(CamelyonError):
    """An annotation file is missing or malformed."""


class DatasetError(CamelyonError):
    """A tile store is missing, incompatible or damaged."""


class TrainingError(CamelyonError):
    """Tile-CNN training cannot start or continue (no tiles, a checkpoint of other settings, a diverging loss)."""


class ClassifierError(CamelyonError):
    """A feature table or slide-classifier file that cannot be used (labels, columns, a mismatched pair)."""
