-- Each run's test regret at the time budgets of the TOP-k strategies (Pourchot et al. 2020, Table 2):
-- the budget of TOP-k is the mean simulated time at which the WS-guided runs of a sub-space
-- have made k queries (super-net training and evaluation included); RS and RE runs, and the
-- trajectories of differentiable methods, of the same search space and sub-space are read at
-- that time, WS runs after k queries.
--
-- parameters:
--   search_space = 'nb101'              search space
--   top_k = '1,10,20'                   the k of the TOP-k strategies (comma-separated)
-- columns:
--   subspace            sub-space (NULL: the whole space)
--   top_k               k
--   budget              the TOP-k time budget
--   algorithm           rs, re, ws, or a differentiable method (darts, gaea-darts, ...)
--   supernet_name       ws: the super-net
--   run_id              the run
--   regret              its test regret at the budget (NULL: no query by then)
WITH ks AS (SELECT CAST(UNNEST(STRING_SPLIT($top_k, ',')) AS INTEGER) AS k),
ws AS (
    SELECT r.subspace, r.id AS run_id, n.name AS supernet_name, ks.k, t.simulated_time, t.regret
    FROM search_runs r JOIN supernets n ON n.id = r.supernet_id
    JOIN search_traces t ON t.run_id = r.id JOIN ks ON t.step = ks.k
    WHERE r.algorithm = 'ws' AND r.search_space = $search_space
),
budgets AS (SELECT subspace, k, AVG(simulated_time) AS budget FROM ws GROUP BY subspace, k),
baseline_points AS (
    SELECT r.subspace, b.k, b.budget, r.algorithm, r.id AS run_id
    FROM search_runs r JOIN budgets b ON r.subspace IS NOT DISTINCT FROM b.subspace
    WHERE r.algorithm <> 'ws' AND r.search_space = $search_space
),
baselines AS (
    SELECT p.subspace, p.k, p.budget, p.algorithm, NULL AS supernet_name, p.run_id, t.regret
    FROM baseline_points p ASOF LEFT JOIN search_traces t ON t.run_id = p.run_id AND t.simulated_time <= p.budget
)
SELECT subspace, k AS top_k, budget, algorithm, supernet_name, run_id, regret FROM baselines
UNION ALL
SELECT w.subspace, w.k, b.budget, 'ws', w.supernet_name, w.run_id, w.regret
FROM ws w JOIN budgets b ON b.subspace IS NOT DISTINCT FROM w.subspace AND b.k = w.k
ORDER BY subspace, top_k, algorithm, run_id
