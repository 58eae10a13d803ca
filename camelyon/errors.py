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


# Families whose members are also ValueErrors (or IndexErrors): a bad argument or array, where Python
# users would write ``except ValueError``; the command line still reports them in one line.


class SlideParameterError(SlideError, ValueError):
    """A slide function got an argument out of range (um/px, thumbnail size...)."""


class AnnotationParameterError(AnnotationError, ValueError):
    """An annotation function got an argument out of range."""


class DatasetParameterError(DatasetError, ValueError):
    """A tile-store, sampler or split function got an argument or array it cannot use."""


class TileIndexError(DatasetError, IndexError):
    """A tile index outside the store."""


class TissueError(CamelyonError, ValueError):
    """Tissue detection got an image or resolution it cannot use."""


class StainError(CamelyonError, ValueError):
    """Stain normalization got bad images or settings, or was used before it was fitted."""


class AugmentError(CamelyonError, ValueError):
    """Augmentation got bad images, settings or a bad random generator."""


class ViewerError(CamelyonError, ValueError):
    """The slide viewer was asked for a level or tile that does not exist."""


class SyntheticError(CamelyonError, ValueError):
    """A synthetic-cohort setting out of range (sections, centre, slide size)."""
