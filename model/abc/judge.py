"""The judge: how well can a classifier tell our tunes from held-out human tunes?

Each tune becomes one vector of note-level measures (pitch-class histogram from the tonic, tonic
share, chromatic rate, entropy, rhythm classes and rhythm pairs, density, intervals, contour, last
note; model/abc/note_measures.py) and form measures (repetition, echoes, part lengths, register,
endings; model/abc/features.py). Two classifiers are trained and tested by 5-fold cross-validation
on balanced classes: a regularised logistic regression and gradient-boosted trees (which find
thresholds and interactions a linear model misses). The judge's verdict is the better of the two:
0.5 = cannot tell, 1.0 = always tells.
"""

from __future__ import annotations

import numpy as np

from model.abc.features import vector as form_vector


def tune_vector(melody: dict, form: dict, names: list[str]) -> list[float]:
    """One tune's measures as numbers (a missing measure as -1, a value no measure takes)."""
    return [float(melody.get(n, -1.0)) for n in names] + form_vector(form)


def melody_names(rows: list[dict]) -> list[str]:
    """The melody measures every row has, in a fixed order."""
    names = set.intersection(*(set(r) for r in rows)) if rows else set()
    return sorted(names)


def tell_apart(ours: list[list[float]], human: list[list[float]], seed: int = 0, folds: int = 5) -> dict:
    """Cross-validated accuracy of both classifiers on balanced classes, and the verdict (the higher)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    n = min(len(ours), len(human))
    if n < 2 * folds:
        return {"tunes_per_side": n, "logistic": None, "boosted": None, "accuracy": None}
    a = np.array(ours, dtype=float)[rng.permutation(len(ours))[:n]]
    b = np.array(human, dtype=float)[rng.permutation(len(human))[:n]]
    x, y = np.vstack([a, b]), np.r_[np.ones(n), np.zeros(n)]
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    logistic = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    boosted = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.08, max_leaf_nodes=15, random_state=seed)
    with threadpool_limits(1):  # OpenMP threads spin on a busy 2-core machine: 40x slower
        scores = {
            "logistic": float(cross_val_score(logistic, x, y, cv=cv).mean()),
            "boosted": float(cross_val_score(boosted, x, y, cv=cv).mean()),
        }
    return {
        "tunes_per_side": n,
        **{k: round(v, 3) for k, v in scores.items()},
        "accuracy": round(max(scores.values()), 3),
    }
