-- What differentiable methods find (Li, Khodak, Balcan, Talwalkar 2021, Figure 5: NAS-Bench-201
-- per dataset): per super-net trained with --search, the architecture its newest checkpoint
-- derives and that architecture's ground truth on every dataset of the space's benchmark, next
-- to the best architecture of the space on that dataset.
--
-- parameters:
--   benchmark = NULL                    ground-truth benchmark; NULL: the search space's own
--   epoch_budget = NULL                 ground-truth epoch budget; NULL: the search space's own
--   supernet = NULL                     only this super-net (id or name); NULL: all
-- columns:
--   supernet_id            super-net
--   supernet_name          its name
--   search_space           its search space
--   method                 darts, gdas, pc-darts (gaea- prefixed: exponentiated update)
--   formulation            bilevel or single-level
--   checkpoint_label       its newest checkpoint
--   derived_architecture   canonical encoding of the architecture it derives
--   dataset                ground-truth dataset
--   accuracy               the derived architecture's final accuracy (test where the benchmark has it, else validation)
--   measured_on            test or validation
--   optimum                the best such accuracy of any architecture with this ground truth on that dataset
--                          (the space's optimum where the benchmark covers it; on darts the best trained)
WITH ranked AS (
    SELECT d.checkpoint_id, d.architecture_id, d.method, c.supernet_id, c.label,
           ROW_NUMBER() OVER (PARTITION BY c.supernet_id ORDER BY c.step DESC NULLS LAST, c.epoch DESC NULLS LAST,
                                                                c.created_at DESC) AS r
    FROM derived_architectures d JOIN checkpoints c ON c.id = d.checkpoint_id
),
truth AS (
    SELECT t.architecture_id, t.search_space, t.benchmark, t.dataset, t.epoch_budget,
           COALESCE(t.test_accuracy, t.validation_accuracy) AS accuracy,
           CASE WHEN t.test_accuracy IS NULL THEN 'validation' ELSE 'test' END AS measured_on
    FROM ground_truth_final t JOIN search_spaces sp ON sp.name = t.search_space
    WHERE t.benchmark = COALESCE($benchmark, sp.default_benchmark)
      AND t.epoch_budget = COALESCE($epoch_budget, sp.default_epoch_budget)
),
optimum AS (SELECT search_space, dataset, MAX(accuracy) AS best FROM truth GROUP BY search_space, dataset)
SELECT s.id AS supernet_id, s.name AS supernet_name, s.search_space, f.method,
       json_extract_string(s.config_json, '$.formulation') AS formulation, f.label AS checkpoint_label,
       a.canonical_encoding AS derived_architecture, t.dataset, t.accuracy, t.measured_on, o.best AS optimum
FROM ranked f
JOIN supernets s ON s.id = f.supernet_id
JOIN architectures a ON a.id = f.architecture_id
JOIN truth t ON t.architecture_id = f.architecture_id
JOIN optimum o ON o.search_space = t.search_space AND o.dataset = t.dataset
WHERE f.r = 1 AND ($supernet IS NULL OR s.id = $supernet)
ORDER BY s.search_space, f.method, t.dataset, s.name
