"""Decision trees and random forests, written from scratch (exercises G08 and G09).

Public API (scikit-learn names and meanings)::

    DecisionTreeClassifier(criterion="gini", splitter="fast", max_depth=None, ...)
    RandomForestClassifier(n_estimators=100, max_features="sqrt", bootstrap=True, oob_score=False, ...)
    export_text(tree, feature_names=None)        # the rules as indented text
    plot_tree(tree, ...)                         # matplotlib drawing
    plot_decision_boundary(estimator, X, y)      # decision regions on 2-D data
    save_model(path, estimator) / load_model(path)   # .npz, no pickle

``splitter="naive"`` grows the tree with the readable split search (criteria.py, split_naive.py,
builder.grow_node: exercise G08); ``splitter="fast"`` (default) with the compiled one.
"""

from ._validation import NotFittedError
from .criteria import entropy, gini
from .export import export_text
from .forest import RandomForestClassifier
from .io import load_model, save_model
from .plotting import plot_decision_boundary, plot_tree
from .structure import Tree
from .tree import DecisionTreeClassifier

__all__ = [
    "DecisionTreeClassifier",
    "RandomForestClassifier",
    "NotFittedError",
    "Tree",
    "export_text",
    "plot_tree",
    "plot_decision_boundary",
    "save_model",
    "load_model",
    "gini",
    "entropy",
]
