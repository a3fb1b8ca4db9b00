"""LightGBM on the same split as mlcycle's trainer, for test/reference/own-data-lightgbm.test.ts.

Reads one JSON document (path in argv[1]): the feature schema's features (name, type, and for
timestamps the parts the model takes), the task, and the train / validation / holdout rows as
request records (original column names) with their 0/1 or numeric targets. Builds LightGBM's
input the plain way (numbers as they are, categories as integer codes declared categorical,
timestamps as their UTC parts), trains with LightGBM's default parameters and early stopping
on the validation rows, and prints the holdout ROC AUC or R² as JSON. Never part of the product.
"""

import json
import sys
from datetime import datetime, timezone

import lightgbm as lgb
import numpy as np
from sklearn.metrics import r2_score, roc_auc_score

DEFAULT_PARTS = ["hour", "day_of_week", "day_of_month", "month"]


def timestamp_part(text, part):
    if text is None:
        return np.nan
    value = text if "T" in text else f"{text}T00:00:00+00:00"
    t = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    return {
        "hour": t.hour,
        "day_of_week": t.weekday(),
        "day_of_month": t.day,
        "month": t.month,
        "year": t.year,
    }[part]


def matrix(features, records, levels):
    columns, names, categorical = [], [], []
    for f in features:
        values = [r.get(f["name"]) for r in records]
        if f["type"] == "category":
            codes = levels.setdefault(f["name"], {})
            for v in values:
                if v is not None and v not in codes:
                    codes[v] = len(codes)
            categorical.append(len(columns))
            columns.append([codes[v] if v is not None else np.nan for v in values])
            names.append(f"c{len(names)}")
        elif f["type"] == "timestamp":
            for part in f.get("parts") or DEFAULT_PARTS:
                columns.append([timestamp_part(v, part) for v in values])
                names.append(f"c{len(names)}")
        else:
            columns.append([np.nan if v is None else float(v) for v in values])
            names.append(f"c{len(names)}")
    return np.array(columns, dtype=np.float64).T, names, categorical


def main():
    doc = json.load(open(sys.argv[1]))
    levels = {}
    x = {}
    for split in ("train", "validation", "holdout"):
        x[split], names, categorical = matrix(doc["features"], doc[split]["records"], levels)
    y = {split: np.array(doc[split]["target"], dtype=np.float64) for split in x}
    classification = doc["task"] == "binary-classification"
    params = {
        "objective": "binary" if classification else "regression",
        "verbose": -1,
        "seed": doc.get("seed", 42),
        "deterministic": True,
        "num_threads": 1,
    }
    train = lgb.Dataset(x["train"], y["train"], feature_name=names, categorical_feature=categorical)
    valid = lgb.Dataset(x["validation"], y["validation"], reference=train)
    booster = lgb.train(
        params,
        train,
        num_boost_round=400,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(20, verbose=False)],
    )
    predicted = booster.predict(x["holdout"], num_iteration=booster.best_iteration)
    out = {"lightgbm_version": lgb.__version__, "trees": booster.best_iteration}
    if classification:
        out["roc_auc"] = roc_auc_score(y["holdout"], predicted)
    else:
        out["r2"] = r2_score(y["holdout"], predicted)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
