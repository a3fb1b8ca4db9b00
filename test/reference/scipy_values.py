"""Regenerates drift-job/stats/scipy-values.json (known values from SciPy 1.17.1): python scipy_values.py OUT.json"""
import json, math, sys
import numpy as np
from scipy import stats, special
from scipy.stats._stats_py import _attempt_exact_2kssamp
out = {}
ks = []
for n in [1, 2, 5, 10, 50, 100, 140, 141, 500, 999, 1000, 5000, 20000, 100000, 250000]:
    for x in [0.001, 0.003, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.45, 0.5, 0.6, 0.9, 0.99]:
        ks.append([n, x, float(stats.kstwo.sf(x, n))])
out['kstwo_sf'] = ks
ex = []
for n1, n2 in [(100, 100), (37, 100), (1000, 1000), (1000, 3333), (999, 10000), (50, 7), (1000, 2500)]:
    g = math.gcd(n1, n2)
    for d in [0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.2, 0.4]:
        ok, dd, p = _attempt_exact_2kssamp(n1, n2, g, d, 'two-sided')
        ex.append([n1, n2, d, bool(ok), float(dd), float(p)])
out['ks_exact'] = ex
out['chi2_sf'] = [[x, df, float(stats.chi2.sf(x, df))] for df in [1, 2, 3, 5, 10, 50, 299, 1000] for x in [0.01, 0.5, 1, 2.5, 5, 10, 30, 60, 100, 300, 900, 1100, 2000, 5000]]
out['ndtr'] = [[x, float(special.ndtr(x))] for x in [-40, -10, -5, -3, -1.5, -0.5, -0.1, 0, 0.3, 0.7, 1, 2, 3.5, 6, 8, 8.5, 12]]
out['z_p'] = [[z, float(2 * (1 - stats.norm.cdf(abs(z))))] for z in [0, 0.01, 0.5, 1.96, 3, 5, 7, 8, 8.3]]
out['gammaln'] = [[x, float(special.gammaln(x))] for x in [0.1, 0.5, 1, 1.5, 2, 3.7, 10, 100, 1000.5, 1e5]]
json.dump(out, open(sys.argv[1], 'w'))
print(len(ks), len(ex))
