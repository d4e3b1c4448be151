-- Top-k: among the k architectures a checkpoint ranks best (mean proxy over repeated
-- evaluations), the best mean ground truth; its rank and percentile among all architectures of
-- the super-net's sub-space that have ground truth, and the regret against the best of them;
-- and the mean ground truth of the k (Yu et al. 2020's "final searched model": the mean of the
-- 3 best by super-net accuracy of 200 sampled architectures: k = 3, sample = the 200).
--
-- parameters:
--   k = 10                              how many architectures the proxy selects
--   metric = 'validation_accuracy'      proxy metric
--   truth = 'validation_accuracy'       ground truth used for selection quality: validation_accuracy or test_accuracy
--   dataset = NULL                      ground-truth dataset; NULL: the search space's own (wsdb summary lists them)
--   epoch_budget = NULL                 ground-truth epoch budget; NULL: the search space's own
--   benchmark = NULL                    ground-truth benchmark; NULL: the search space's own (nasbench101, nasbench201, ws64-paper)
--   protocol = NULL                     only this evaluation protocol; NULL: all
--   runs = 1                            n of P>R (searches whose best pick is compared)
--   population = 'classes'              P>R's r and r_max counted over isomorphism classes, or over 'cells' (raw
--                                       cells: NB201's 15,625 architectures as Yu et al. count them; nb101: classes)
--   sample = NULL                       only architectures of this named sample are selected from; NULL: all scored
--   supernet = NULL                     only this super-net (id or name); NULL: all
--   subspace = NULL                     select from and rank within this sub-space; NULL: each super-net's own
-- columns:
--   supernet_id        super-net
--   supernet_name      its name
--   subspace           the sub-space ranked within (the super-net's own unless the parameter names one)
--   checkpoint_label   checkpoint
--   protocol_id        evaluation protocol
--   k                  architectures selected
--   best_truth         best mean ground truth among the k selected
--   mean_truth_top_k   mean ground truth of the k selected (Yu et al. 2020's final searched model)
--   rank_in_subspace   its rank among the sub-space's architectures with ground truth (1 = best)
--   architectures_ranked   how many architectures of the sub-space have ground truth
--   percentile         100 * (1 - (rank - 1) / architectures_ranked)
--   regret             best ground truth of the sub-space minus best_truth
--   probability_to_surpass_random   P>R of Yu et al. 2020: 1 - (1 - r / r_max)^n, r = how many of the sub-space's
--                      architectures (classes or cells, `population`) are no better than the best pick (r = r_max
--                      for the optimum, so 1 is best), r_max = all of them with ground truth, n = runs
WITH truth AS (
    SELECT t.architecture_id,
           CASE WHEN $truth = 'test_accuracy' THEN t.test_accuracy ELSE t.validation_accuracy END AS value
    FROM ground_truth_final t JOIN search_spaces sp ON sp.name = t.search_space
    WHERE t.benchmark = COALESCE($benchmark, sp.default_benchmark) AND t.dataset = COALESCE($dataset, sp.default_dataset)
      AND t.epoch_budget = COALESCE($epoch_budget, sp.default_epoch_budget)
),
scored AS (
    SELECT c.supernet_id, p.checkpoint_id, c.label AS checkpoint_label, p.protocol_id, p.architecture_id,
           AVG(p.value) AS proxy
    FROM proxy_scores p JOIN checkpoints c ON c.id = p.checkpoint_id
    WHERE p.metric = $metric AND ($protocol IS NULL OR p.protocol_id = $protocol)
      AND ($sample IS NULL OR p.architecture_id IN
           (SELECT architecture_id FROM architecture_sample_members WHERE sample_name = $sample))
      AND ($supernet IS NULL OR c.supernet_id = $supernet)
      AND ($subspace IS NULL OR p.architecture_id IN
           (SELECT architecture_id FROM architecture_subspaces WHERE subspace = $subspace))
    GROUP BY ALL
),
cells AS (  -- raw cells per class: their index encodings (nb201-index, ws64-index); nb101 counts classes
    SELECT architecture_id, COUNT(*) AS cells FROM architecture_encodings WHERE encoding_kind LIKE '%-index'
    GROUP BY architecture_id
),
selected AS (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY checkpoint_id, protocol_id ORDER BY proxy DESC, architecture_id) AS position
    FROM scored
),
space AS (  -- ranks within each super-net's sub-space
    SELECT n.id AS supernet_id, t.architecture_id, t.value,
           RANK() OVER (PARTITION BY n.id ORDER BY t.value DESC) AS rank_in_subspace,
           COUNT(*) OVER (PARTITION BY n.id) AS architectures_ranked,
           MAX(t.value) OVER (PARTITION BY n.id) AS best_in_subspace,
           -- how many architectures are no better (ties included): P>R's r, per population
           SUM(CASE WHEN $population = 'cells' THEN COALESCE(c.cells, 1) ELSE 1 END)
             OVER (PARTITION BY n.id ORDER BY t.value RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS at_or_below,
           SUM(CASE WHEN $population = 'cells' THEN COALESCE(c.cells, 1) ELSE 1 END) OVER (PARTITION BY n.id) AS population
    FROM supernets n
    JOIN architecture_subspaces a ON a.search_space = n.search_space AND a.subspace = COALESCE($subspace, n.subspace, 'FULL')
    JOIN truth t ON t.architecture_id = a.architecture_id
    LEFT JOIN cells c ON c.architecture_id = a.architecture_id
),
best AS (
    SELECT s.supernet_id, s.checkpoint_label, s.protocol_id, s.checkpoint_id,
           ARG_MAX(x.value, x.value) AS best_truth, AVG(x.value) AS mean_truth_top_k,
           MIN(x.rank_in_subspace) AS rank_in_subspace, MAX(x.at_or_below) AS at_or_below,
           ANY_VALUE(x.population) AS population,
           ANY_VALUE(x.architectures_ranked) AS architectures_ranked, ANY_VALUE(x.best_in_subspace) AS best_in_subspace,
           COUNT(*) AS k
    FROM selected s JOIN space x ON x.supernet_id = s.supernet_id AND x.architecture_id = s.architecture_id
    WHERE s.position <= $k
    GROUP BY ALL
)
SELECT b.supernet_id, n.name AS supernet_name, COALESCE($subspace, n.subspace, 'FULL') AS subspace, b.checkpoint_label, b.protocol_id, b.k,
       b.best_truth, b.mean_truth_top_k, b.rank_in_subspace, b.architectures_ranked,
       100.0 * (1 - (b.rank_in_subspace - 1) / b.architectures_ranked) AS percentile,
       b.best_in_subspace - b.best_truth AS regret,
       1 - POWER(1 - b.at_or_below / b.population, $runs) AS probability_to_surpass_random
FROM best b JOIN supernets n ON n.id = b.supernet_id
ORDER BY n.name, b.checkpoint_label, b.protocol_id
