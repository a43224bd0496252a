"""Reports over a run's results: fetching them, comparing two sets (baseline, diff),
grouping failing findings by check, and the SARIF and JUnit renderings."""
