"""Times Evidently's DataDriftPreset on the same Parquet pair as bench/drift-flights.ts.

    export $(hack/python-env evidently)
    "$MLCYCLE_VENV_EVIDENTLY/bin/python" bench/drift_evidently.py REF.parquet CUR.parquet num1,num2 cat1,cat2

Prints JSON: load and report seconds (wall and CPU), peak RSS, and the per-column scores (for a parity check).
"""

import json
import resource
import sys
import time
import warnings

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def main() -> int:
    ref_path, cur_path, nums, cats = sys.argv[1:5]
    num_cols = [c for c in nums.split(",") if c]
    cat_cols = [c for c in cats.split(",") if c]
    t0 = time.perf_counter()
    ref = pd.read_parquet(ref_path, columns=num_cols + cat_cols)
    cur = pd.read_parquet(cur_path, columns=num_cols + cat_cols)
    for c in cat_cols:
        ref[c] = ref[c].astype(object)
        cur[c] = cur[c].astype(object)
    load = time.perf_counter() - t0
    definition = DataDefinition(numerical_columns=num_cols, categorical_columns=cat_cols)
    t1 = time.perf_counter()
    c1 = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([DataDriftPreset()]).run(
            Dataset.from_pandas(cur, data_definition=definition), Dataset.from_pandas(ref, data_definition=definition)
        )
        result = snapshot.dict()
    seconds = time.perf_counter() - t1
    cpu_seconds = time.process_time() - c1
    scores = {
        m["config"]["column"]: m["value"] for m in result["metrics"] if m["config"]["type"].endswith(":ValueDrift")
    }
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump({"load_seconds": load, "report_seconds": seconds, "report_cpu_seconds": cpu_seconds, "peak_rss_mb": peak_mb, "scores": scores}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
