-- Rank correlations between each checkpoint's proxy scores and the mean ground truth of the
-- same architectures, per evaluation protocol: Spearman's rho (average ranks for ties),
-- Kendall's tau-b, sparse Kendall's tau (Yu et al. 2020's s-KdT as their code computes it:
-- ground truth binned on a grid of `sparse_threshold`) and Pearson's r. Every proxy score is a point, repeated
-- evaluations included (as Pourchot et al. 2020 computed Table 1). The ground-truth reduction is
-- explicit: the mean over repeats at the final evaluation point, or one chosen repeat.
--
-- parameters:
--   metric = 'validation_accuracy'      proxy metric of proxy_scores
--   truth = 'validation_accuracy'       ground-truth column: validation_accuracy or test_accuracy
--   dataset = NULL                      ground-truth dataset; NULL: the search space's own (wsdb summary lists them)
--   epoch_budget = NULL                 ground-truth epoch budget; NULL: the search space's own
--   benchmark = NULL                    ground-truth benchmark; NULL: the search space's own (nasbench101, nasbench201, ws64-paper)
--   sparse_threshold = 0.001            s-KdT: ground-truth accuracies (fractions) binned by floor(value / this)
--   repeat = NULL                       ground truth of this repeat only (NB101 0-2, NB201 seed); NULL: mean over repeats
--   protocol = NULL                     only this evaluation protocol (e.g. bns-ft:4); NULL: all
--   supernet = NULL                     only this super-net (id or name); NULL: all
--   subspace = NULL                     only architectures of this sub-space (e.g. RES); NULL: all scored
--   sample = NULL                       only architectures of this named sample; NULL: all scored
-- columns:
--   supernet_id          super-net
--   supernet_name        its name
--   subspace             its sub-space
--   checkpoint_id        checkpoint
--   checkpoint_label     checkpoint label (final, epoch-N, step-N)
--   protocol_id          evaluation protocol
--   n                    proxy scores with ground truth
--   spearman             Spearman's rho (NULL when the proxy is constant)
--   kendall              Kendall's tau-b
--   sparse_kendall       sparse Kendall's tau
--   pearson              Pearson's r
--   proxy_is_constant    the super-net gives every architecture the same score (diverged)
WITH truth AS (  -- the mean over runs (a published mean where there are none), or one run
    SELECT architecture_id, benchmark, dataset, epoch_budget,
           CASE WHEN $truth = 'test_accuracy' THEN test_accuracy ELSE validation_accuracy END AS value
    FROM ground_truth_final WHERE $repeat IS NULL
    UNION ALL
    SELECT architecture_id, benchmark, dataset, epoch_budget,
           CASE WHEN $truth = 'test_accuracy' THEN test_accuracy ELSE validation_accuracy END
    FROM ground_truth_results WHERE $repeat IS NOT NULL AND repeat = $repeat AND evaluation_point = 'final'
),
pairs AS (
    SELECT c.supernet_id, p.checkpoint_id, c.label AS checkpoint_label, p.protocol_id,
           p.architecture_id, a.canonical_key, p.evaluation_repeat, p.value AS proxy, t.value AS truth
    FROM proxy_scores p
    JOIN checkpoints c ON c.id = p.checkpoint_id
    JOIN architectures a ON a.id = p.architecture_id
    JOIN search_spaces sp ON sp.name = a.search_space
    JOIN truth t ON t.architecture_id = p.architecture_id
     AND t.benchmark = COALESCE($benchmark, sp.default_benchmark) AND t.dataset = COALESCE($dataset, sp.default_dataset)
     AND t.epoch_budget = COALESCE($epoch_budget, sp.default_epoch_budget)
    WHERE p.metric = $metric AND p.value IS NOT NULL
      AND ($protocol IS NULL OR p.protocol_id = $protocol)
      AND ($supernet IS NULL OR c.supernet_id = $supernet)
      AND ($subspace IS NULL OR p.architecture_id IN
           (SELECT architecture_id FROM architecture_subspaces WHERE subspace = $subspace))
      AND ($sample IS NULL OR p.architecture_id IN
           (SELECT architecture_id FROM architecture_sample_members WHERE sample_name = $sample))
),
ranked AS (
    SELECT *,
           RANK() OVER (PARTITION BY checkpoint_id, protocol_id ORDER BY proxy)
             + (COUNT(*) OVER (PARTITION BY checkpoint_id, protocol_id, proxy) - 1) / 2.0 AS proxy_rank,
           RANK() OVER (PARTITION BY checkpoint_id, protocol_id ORDER BY truth)
             + (COUNT(*) OVER (PARTITION BY checkpoint_id, protocol_id, truth) - 1) / 2.0 AS truth_rank
    FROM pairs
    WHERE truth IS NOT NULL
),
per_checkpoint AS (
    SELECT supernet_id, checkpoint_id, checkpoint_label, protocol_id,
           COUNT(*) AS n,
           MIN(proxy) = MAX(proxy) AS proxy_is_constant,
           CORR(proxy_rank, truth_rank) AS spearman,
           kendall_tau_b(LIST(proxy ORDER BY architecture_id, evaluation_repeat),
                         LIST(truth ORDER BY architecture_id, evaluation_repeat)) AS kendall,
           -- s-KdT takes tied proxies in the order given: canonical key, the same in every warehouse
           sparse_kendall_tau(LIST(proxy ORDER BY canonical_key, evaluation_repeat),
                              LIST(truth ORDER BY canonical_key, evaluation_repeat), $sparse_threshold) AS sparse_kendall,
           CORR(proxy, truth) AS pearson
    FROM ranked
    GROUP BY supernet_id, checkpoint_id, checkpoint_label, protocol_id
)
SELECT c.supernet_id, s.name AS supernet_name, s.subspace, c.checkpoint_id, c.checkpoint_label, c.protocol_id, c.n,
       CASE WHEN c.proxy_is_constant THEN NULL ELSE c.spearman END AS spearman,
       CASE WHEN c.proxy_is_constant THEN NULL ELSE c.kendall END AS kendall,
       CASE WHEN c.proxy_is_constant THEN NULL ELSE c.sparse_kendall END AS sparse_kendall,
       CASE WHEN c.proxy_is_constant THEN NULL ELSE c.pearson END AS pearson,
       c.proxy_is_constant
FROM per_checkpoint c JOIN supernets s ON s.id = c.supernet_id
ORDER BY s.name, c.checkpoint_label, c.protocol_id
