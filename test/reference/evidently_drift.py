"""Evidently's answer for a reference/current pair: the oracle our drift statistics are checked against.

Usage (from the venv that has Evidently, see README beside this file):
    python evidently_drift.py --reference ref.csv --current cur.csv --spec spec.json
    python evidently_drift.py --batch jobs.json   # [{"reference", "current", "spec"}, ...] -> a JSON list

spec.json: {"columns": {"<name>": "num" | "cat", ...}, "drift_share": 0.5,
            "per_column_method": {"<name>": "psi", ...}, "per_column_threshold": {"<name>": 0.2, ...}}

Prints one JSON object: {"evidently": version, "columns": {name: {method, threshold, score, drifted}},
"drifted_count", "drift_share", "dataset_drift"}. Runs Evidently's own DataDriftPreset; nothing is
recomputed here.
"""

import argparse
import json
import math
import sys
import warnings

import evidently
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

METHOD_NAMES = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
}


def read_table(path: str, spec: dict) -> pd.DataFrame:
    cat_columns = [name for name, kind in spec["columns"].items() if kind == "cat"]
    if path.endswith(".parquet"):
        frame = pd.read_parquet(path)
        for name in cat_columns:
            frame[name] = frame[name].astype(object)
        return frame
    # Categories stay strings ("1" is a label, not a number); numbers keep pandas' inference
    # (int64 when a column has no missing value, float64 otherwise), as a user's CSV would.
    return pd.read_csv(
        path, dtype={name: str for name in cat_columns}, keep_default_na=True, float_precision="round_trip"
    )


def finite_or_none(value):
    value = float(value)
    return value if math.isfinite(value) else None


def evidently_drift(reference_path: str, current_path: str, spec: dict) -> dict:
    definition = DataDefinition(
        numerical_columns=[n for n, k in spec["columns"].items() if k == "num"],
        categorical_columns=[n for n, k in spec["columns"].items() if k == "cat"],
    )
    reference = Dataset.from_pandas(read_table(reference_path, spec), data_definition=definition)
    current = Dataset.from_pandas(read_table(current_path, spec), data_definition=definition)
    preset = DataDriftPreset(
        columns=list(spec["columns"].keys()),
        drift_share=spec.get("drift_share", 0.5),
        per_column_method=spec.get("per_column_method") or None,
        per_column_threshold=spec.get("per_column_threshold") or None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([preset], include_tests=True).run(current, reference)
    result = snapshot.dict()

    columns = {}
    drifted_count = None
    share = None
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            columns[config["column"]] = {
                "method": METHOD_NAMES.get(config["method"], config["method"]),
                "threshold": config["threshold"],
                "score": finite_or_none(metric["value"]),
                "score_repr": repr(float(metric["value"])),
            }
        elif config["type"].endswith(":DriftedColumnsCount"):
            drifted_count = metric["value"]["count"]
            share = metric["value"]["share"]
    dataset_drift = None
    for test in result["tests"]:
        params = test.get("metric_config", {}).get("params", {})
        if params.get("type", "").endswith(":ValueDrift"):
            columns[params["column"]]["drifted"] = test["status"] == "FAIL"
        elif params.get("type", "").endswith(":DriftedColumnsCount"):
            dataset_drift = test["status"] == "FAIL"
    return {
        "evidently": evidently.__version__,
        "columns": columns,
        "drifted_count": drifted_count,
        "drift_share": share,
        "dataset_drift": dataset_drift,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reference")
    parser.add_argument("--current")
    parser.add_argument("--spec")
    parser.add_argument("--batch", help="JSON list of {reference, current, spec}; prints a JSON list")
    args = parser.parse_args()
    if args.batch:
        with open(args.batch) as f:
            jobs = json.load(f)
        json.dump([evidently_drift(j["reference"], j["current"], j["spec"]) for j in jobs], sys.stdout)
        return 0
    if not (args.reference and args.current and args.spec):
        parser.error("--reference, --current and --spec are required (or --batch)")
    with open(args.spec) as f:
        spec = json.load(f)
    json.dump(evidently_drift(args.reference, args.current, spec), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
