-- Spearman's rho (average ranks for ties) and Pearson's r between each checkpoint's proxy
-- scores and the mean ground truth of the same architectures, per evaluation protocol.
-- Every proxy score is a point, repeated evaluations included (as ../seeds/000 computed
-- Table 1); the ground truth is the mean over repeats at the final evaluation point.
--
-- parameters:
--   metric = 'validation_accuracy'      proxy metric of proxy_scores
--   truth = 'validation_accuracy'       ground-truth column: validation_accuracy or test_accuracy
--   dataset = 'cifar10'                 ground-truth dataset (NB201: cifar10-valid, cifar100, ImageNet16-120)
--   epoch_budget = 108                  ground-truth epoch budget
--   benchmark = NULL                    ground-truth benchmark; NULL: the search space's own (nasbench101, nasbench201, ws64-paper)
--   protocol = NULL                     only this evaluation protocol (e.g. bns-ft:4); NULL: all
--   supernet = NULL                     only this super-net id; NULL: all
-- columns:
--   supernet_id          super-net
--   supernet_name        its name
--   subspace             its sub-space
--   checkpoint_label     checkpoint (final, epoch-N, step-N)
--   protocol_id          evaluation protocol
--   n                    proxy scores with ground truth
--   spearman             Spearman's rho (NULL when the proxy is constant)
--   pearson              Pearson's r
--   proxy_is_constant    the super-net gives every architecture the same score (diverged)
WITH pairs AS (
    SELECT p.supernet_id, p.checkpoint_id, p.checkpoint_label, p.protocol_id,
           p.proxy_value AS proxy,
           CASE WHEN $truth = 'test_accuracy' THEN p.truth_test_accuracy ELSE p.truth_validation_accuracy END AS truth
    FROM proxy_vs_truth p
    WHERE p.metric = $metric AND p.dataset = $dataset AND p.epoch_budget = $epoch_budget
      AND p.benchmark = COALESCE($benchmark, CASE p.search_space WHEN 'nb101' THEN 'nasbench101' WHEN 'nb201' THEN 'nasbench201' WHEN 'ws64' THEN 'ws64-paper' END)
      AND ($protocol IS NULL OR p.protocol_id = $protocol)
      AND ($supernet IS NULL OR p.supernet_id = $supernet)
      AND p.proxy_value IS NOT NULL
),
ranked AS (
    SELECT *,
           RANK() OVER (PARTITION BY checkpoint_id, protocol_id ORDER BY proxy)
             + (COUNT(*) OVER (PARTITION BY checkpoint_id, protocol_id, proxy) - 1) / 2.0 AS proxy_rank,
           RANK() OVER (PARTITION BY checkpoint_id, protocol_id ORDER BY truth)
             + (COUNT(*) OVER (PARTITION BY checkpoint_id, protocol_id, truth) - 1) / 2.0 AS truth_rank
    FROM pairs
    WHERE truth IS NOT NULL
)
SELECT r.supernet_id, s.name AS supernet_name, s.subspace, r.checkpoint_label, r.protocol_id,
       COUNT(*) AS n,
       CASE WHEN MIN(r.proxy) = MAX(r.proxy) THEN NULL ELSE CORR(r.proxy_rank, r.truth_rank) END AS spearman,
       CASE WHEN MIN(r.proxy) = MAX(r.proxy) THEN NULL ELSE CORR(r.proxy, r.truth) END AS pearson,
       MIN(r.proxy) = MAX(r.proxy) AS proxy_is_constant
FROM ranked r JOIN supernets s ON s.id = r.supernet_id
GROUP BY r.supernet_id, s.name, s.subspace, r.checkpoint_id, r.checkpoint_label, r.protocol_id
ORDER BY s.name, r.checkpoint_label, r.protocol_id
