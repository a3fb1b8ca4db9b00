"""NannyML's CBPE on a reference and an analysis file; prints per-chunk estimates as JSON.

    python nannyml_cbpe.py REFERENCE ANALYSIS CHUNK_SIZE

Both files (Parquet or CSV) hold `probability` (calibrated probability of the positive class),
`prediction` (0/1) and, in the reference, `target` (0/1). The probabilities are already
calibrated (mlcycle calibrates in the model graph), so NannyML is given its NoopCalibrator: it
estimates from the probabilities as they are, as mlcycle does. Reference test only.
"""
import json
import os
import sys
import warnings

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
warnings.filterwarnings("ignore")

import nannyml as nml  # noqa: E402
import pandas as pd  # noqa: E402
from nannyml.calibration import NoopCalibrator  # noqa: E402

METRICS = ["roc_auc", "accuracy", "precision", "recall", "f1"]


def read(path):
    return pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)


def number(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and abs(f) != float("inf") else None


def main():
    reference, analysis, chunk_size = read(sys.argv[1]), read(sys.argv[2]), int(sys.argv[3])
    estimator = nml.CBPE(
        problem_type="classification_binary",
        y_pred_proba="probability",
        y_pred="prediction",
        y_true="target",
        metrics=METRICS,
        chunk_size=chunk_size,
        calibrator=NoopCalibrator(),
    )
    estimator.fit(reference)
    result = estimator.estimate(analysis).filter(period="analysis").to_df()
    chunks = []
    for _, row in result.iterrows():
        chunk = {"rows": int(row[("chunk", "end_index")] - row[("chunk", "start_index")] + 1), "metrics": {}}
        for m in METRICS:
            chunk["metrics"][m] = {
                "estimated": number(row[(m, "value")]),
                "sampling_error": number(row[(m, "sampling_error")]),
                "lower_threshold": number(row[(m, "lower_threshold")]),
                "upper_threshold": number(row[(m, "upper_threshold")]),
                "alert": bool(row[(m, "alert")]),
            }
        chunks.append(chunk)
    json.dump({"nannyml": nml.__version__, "chunks": chunks}, sys.stdout)


if __name__ == "__main__":
    main()
