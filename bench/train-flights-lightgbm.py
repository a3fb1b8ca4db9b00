"""LightGBM reference for bench/train-flights.ts (never part of the product).

Reads the float32 feature matrices the TypeScript bench wrote (the exact features our
trainer uses: time parts, distance, category rank codes, airport lookups; NaN = missing),
trains LightGBM on the same rows, and prints one JSON object with its timings and holdout
ROC AUC. Run by the bench with the interpreter of `hack/python-env lightgbm`
(bench/requirements-lightgbm.txt).
"""

import json
import resource
import sys
import time

import lightgbm as lgb
import numpy as np
from sklearn.metrics import roc_auc_score


def load(directory, split, names):
    meta = json.load(open(f"{directory}/{split}.json"))
    x = np.fromfile(f"{directory}/{split}.x.f32", dtype=np.float32).reshape(len(names), meta["rows"]).T
    y = np.fromfile(f"{directory}/{split}.y.f64", dtype=np.float64)
    return np.ascontiguousarray(x), y


def main():
    args = json.loads(sys.argv[1])
    directory = args["dir"]
    names = json.load(open(f"{directory}/features.json"))
    x_train, y_train = load(directory, "train", names)
    x_valid, y_valid = load(directory, "validation", names)
    x_hold, y_hold = load(directory, "holdout", names)
    base = {
        "objective": "binary",
        "num_threads": 2,
        "max_bin": 255,
        "verbose": -1,
        "seed": 42,
        "deterministic": True,
        "force_row_wise": True,
    }
    out = {"lightgbm_version": lgb.__version__, "rows": {"train": len(y_train), "holdout": len(y_hold)}}

    if args["mode"] == "fixed":
        base["num_threads"] = args.get("threads", 2)
        params = {**base, "learning_rate": 0.1, "num_leaves": args["leaves"], "min_data_in_leaf": 20,
                  "lambda_l2": 1.0, "min_sum_hessian_in_leaf": 1e-3}
        t0 = time.perf_counter()
        train = lgb.Dataset(x_train, y_train, feature_name=names, free_raw_data=False)
        train.construct()
        t1 = time.perf_counter()
        c1 = time.process_time()
        booster = lgb.train(params, train, num_boost_round=args["trees"])
        t2 = time.perf_counter()
        c2 = time.process_time()
        out.update({
            "binning_seconds": t1 - t0,
            "ms_per_tree": (t2 - t1) * 1000 / args["trees"],
            "cpu_ms_per_tree": (c2 - c1) * 1000 / args["trees"],
            "trees": args["trees"],
            "holdout_roc_auc": roc_auc_score(y_hold, booster.predict(x_hold)),
        })
    else:
        # Comparable budget: the same random-search space as our tuner, each trial with full
        # early stopping on the validation split (more generous than successive halving).
        rng = np.random.default_rng(args.get("seed", 42))
        # feature_pre_filter off: trials change min_data_in_leaf on the same Dataset.
        train = lgb.Dataset(x_train, y_train, feature_name=names, free_raw_data=False,
                            params={"feature_pre_filter": False, "max_bin": 255})
        valid = lgb.Dataset(x_valid, y_valid, reference=train)
        best = None
        t0 = time.perf_counter()
        for trial in range(args["trials"]):
            if trial == 0:
                space = {"learning_rate": 0.1, "num_leaves": 63, "min_data_in_leaf": 20, "lambda_l2": 1.0,
                         "feature_fraction": 1.0, "bagging_fraction": 1.0}
            else:
                space = {
                    "learning_rate": float(np.exp(rng.uniform(np.log(0.03), np.log(0.3)))),
                    "num_leaves": int(round(np.exp(rng.uniform(np.log(15), np.log(255))))),
                    "min_data_in_leaf": int(round(np.exp(rng.uniform(np.log(10), np.log(500))))),
                    "lambda_l2": float(np.exp(rng.uniform(np.log(0.001), np.log(30)))),
                    "feature_fraction": float(rng.uniform(0.6, 1.0)),
                    "bagging_fraction": float(rng.uniform(0.6, 1.0)),
                }
            params = {**base, **space, "bagging_freq": 1 if space["bagging_fraction"] < 1 else 0}
            booster = lgb.train(params, train, num_boost_round=args["max_rounds"], valid_sets=[valid],
                                callbacks=[lgb.early_stopping(20, verbose=False)])
            loss = booster.best_score["valid_0"]["binary_logloss"]
            if best is None or loss < best[0]:
                best = (loss, trial, booster)
        seconds = time.perf_counter() - t0
        loss, trial, booster = best
        out.update({
            "trials": args["trials"],
            "tuning_seconds": seconds,
            "best_trial": trial,
            "best_valid_logloss": loss,
            "trees": booster.best_iteration,
            "holdout_roc_auc": roc_auc_score(y_hold, booster.predict(x_hold, num_iteration=booster.best_iteration)),
        })
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
