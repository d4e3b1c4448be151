-- Mean test regret over the runs of each search configuration as a function of simulated
-- time, with a 95% interval (1.96 x sample sd / sqrt(runs)), on a log-spaced time grid
-- (Pourchot et al. 2020, Figure 2). A run counts at a time once it has made its first query.
--
-- parameters:
--   points = 60                         grid points per configuration
--   search_space = NULL                 only this search space; NULL: all
--   subspace = NULL                     only this sub-space; NULL: all (FULL is NULL's own group)
--   algorithm = NULL                    only rs, re, ws or a differentiable method; NULL: all
-- columns:
--   algorithm           rs, re, ws, or a differentiable method (darts, gaea-darts, ...)
--   search_space        search space
--   subspace            sub-space (NULL: the whole space)
--   supernet_name       ws: the super-net guiding the search
--   time_unit           seconds or queries
--   time                simulated time
--   runs                runs that have queried by then
--   mean_regret         mean test regret
--   ci95                half width of the 95% interval
WITH chosen AS (
    SELECT r.*, n.name AS supernet_name
    FROM search_runs r LEFT JOIN supernets n ON n.id = r.supernet_id
    WHERE ($search_space IS NULL OR r.search_space = $search_space)
      AND ($subspace IS NULL OR r.subspace = $subspace)
      AND ($algorithm IS NULL OR r.algorithm = $algorithm)
),
extent AS (
    SELECT c.algorithm, c.search_space, c.subspace, c.supernet_name, c.time_unit, c.config_json,
           MIN(t.simulated_time) AS first_time, MAX(t.simulated_time) AS last_time
    FROM chosen c JOIN search_traces t ON t.run_id = c.id
    GROUP BY ALL
),
grid AS (
    SELECT e.*, EXP(LN(GREATEST(e.first_time, 1e-9))
                    + g.i * (LN(GREATEST(e.last_time, 1e-9)) - LN(GREATEST(e.first_time, 1e-9))) / ($points - 1)) AS time
    FROM extent e, RANGE($points) g(i)
),
run_grid AS (
    SELECT g.*, c.id AS run_id
    FROM grid g JOIN chosen c
      ON c.algorithm = g.algorithm AND c.search_space = g.search_space AND c.subspace IS NOT DISTINCT FROM g.subspace
     AND c.supernet_name IS NOT DISTINCT FROM g.supernet_name AND c.config_json = g.config_json
),
at_time AS (
    SELECT r.algorithm, r.search_space, r.subspace, r.supernet_name, r.time_unit, r.config_json, r.time, t.regret
    FROM run_grid r ASOF JOIN search_traces t ON t.run_id = r.run_id AND t.simulated_time <= r.time
)
SELECT algorithm, search_space, subspace, supernet_name, time_unit, time,
       COUNT(*) AS runs, AVG(regret) AS mean_regret,
       1.96 * COALESCE(STDDEV_SAMP(regret), 0) / SQRT(COUNT(*)) AS ci95
FROM at_time
GROUP BY algorithm, search_space, subspace, supernet_name, time_unit, config_json, time
ORDER BY search_space, subspace, algorithm, supernet_name, time
