-- What differentiable methods find (Li, Khodak, Balcan, Talwalkar 2021, Figure 5: NAS-Bench-201
-- per dataset): per super-net trained with --search, the architecture its newest checkpoint
-- derives and that architecture's ground truth on every dataset of the space's benchmark, next
-- to the best architecture of the super-net's sub-space on that dataset (NAS-Bench-1Shot1's
-- one-shot model searches one of its spaces: Zela, Siems, Hutter 2020 measure regret there).
--
-- parameters:
--   benchmark = NULL                    ground-truth benchmark; NULL: the search space's own
--   epoch_budget = NULL                 ground-truth epoch budget; NULL: the search space's own
--   supernet = NULL                     only this super-net (id or name); NULL: all
-- columns:
--   supernet_id            super-net
--   supernet_name          its name
--   search_space           its search space
--   subspace               its sub-space (FULL: the whole space)
--   method                 darts, gdas, pc-darts (gaea- prefixed: exponentiated update)
--   formulation            bilevel or single-level
--   checkpoint_label       its newest checkpoint
--   derived_architecture   canonical encoding of the architecture it derives
--   dataset                ground-truth dataset
--   accuracy               the derived architecture's final accuracy (test where the benchmark has it, else validation)
--   measured_on            test or validation
--   optimum                the best such accuracy of any architecture of the sub-space with this ground truth
--                          on that dataset (its optimum where the benchmark covers it; on darts the best trained)
--   optimum_covers         whether every stored architecture of the sub-space has this ground truth (else the
--                          optimum is only the best of those that have it)
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
members AS (SELECT search_space, subspace, COUNT(*) AS n FROM architecture_subspaces GROUP BY search_space, subspace),
optimum AS (
    SELECT t.search_space, m.subspace, t.dataset, MAX(t.accuracy) AS best, COUNT(DISTINCT t.architecture_id) AS n
    FROM truth t JOIN architecture_subspaces m ON m.architecture_id = t.architecture_id
    GROUP BY t.search_space, m.subspace, t.dataset
)
SELECT s.id AS supernet_id, s.name AS supernet_name, s.search_space, COALESCE(s.subspace, 'FULL') AS subspace, f.method,
       json_extract_string(s.config_json, '$.formulation') AS formulation, f.label AS checkpoint_label,
       a.canonical_encoding AS derived_architecture, t.dataset, t.accuracy, t.measured_on, o.best AS optimum,
       o.n = n.n AS optimum_covers
FROM ranked f
JOIN supernets s ON s.id = f.supernet_id
JOIN architectures a ON a.id = f.architecture_id
JOIN truth t ON t.architecture_id = f.architecture_id
JOIN optimum o ON o.search_space = t.search_space AND o.subspace = COALESCE(s.subspace, 'FULL')
                AND o.dataset = t.dataset
JOIN members n ON n.search_space = o.search_space AND n.subspace = o.subspace
WHERE f.r = 1 AND ($supernet IS NULL OR s.id = $supernet)
ORDER BY s.search_space, COALESCE(s.subspace, 'FULL'), f.method, t.dataset, s.name
