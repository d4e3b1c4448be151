-- GT-Tau-Mean-k and GT-Tau-Std-k (Zhang et al. 2020, Deeper Insights): over the last k checkpoints of each
-- super-net, the mean and the (population) standard deviation of Kendall's tau between the
-- checkpoint's ranking and the ground truth; how much a super-net's ranking still moves
-- between neighbouring checkpoints. And S-Tau within one run (their Table 1, "Different
-- epochs": the last 10 epochs of an instance, median over instances): the mean pairwise Kendall's
-- tau between the rankings of those checkpoints, over the architectures both scored, with its
-- extremes.
--
-- uses: correlation
-- parameters:
--   last_k = 64                         how many of the newest checkpoints of each super-net
--   metric = 'validation_accuracy'      proxy metric
-- columns:
--   supernet_id        super-net
--   supernet_name      its name
--   protocol_id        evaluation protocol
--   checkpoints        checkpoints used (at most last_k)
--   gt_tau_mean        mean Kendall's tau with the ground truth
--   gt_tau_std         population standard deviation of those taus (NULL with one checkpoint)
--   gt_tau_min         lowest tau
--   gt_tau_max         highest tau
--   spearman_mean      mean Spearman's rho
--   s_tau              mean pairwise Kendall's tau between the checkpoints' rankings (NULL with one checkpoint)
--   s_tau_min          lowest pairwise tau
--   s_tau_max          highest pairwise tau
WITH ordered AS (
    SELECT c.*,
           ROW_NUMBER() OVER (PARTITION BY c.supernet_id, c.protocol_id
                              ORDER BY k.step DESC NULLS LAST, k.epoch DESC NULLS LAST, k.created_at DESC) AS from_last
    FROM correlation c JOIN checkpoints k ON k.id = c.checkpoint_id
),
recent AS (SELECT * FROM ordered WHERE from_last <= $last_k),
scores AS (
    SELECT l.supernet_id, l.protocol_id, l.checkpoint_id, p.architecture_id, AVG(p.value) AS proxy
    FROM recent l JOIN proxy_scores p ON p.checkpoint_id = l.checkpoint_id AND p.protocol_id = l.protocol_id
    WHERE p.metric = $metric AND p.value IS NOT NULL
    GROUP BY ALL
),
pairs AS (
    SELECT a.supernet_id, a.protocol_id,
           kendall_tau_b(LIST(a.proxy ORDER BY a.architecture_id), LIST(b.proxy ORDER BY a.architecture_id)) AS tau
    FROM scores a
    JOIN scores b ON b.supernet_id = a.supernet_id AND b.protocol_id = a.protocol_id
                 AND b.architecture_id = a.architecture_id AND a.checkpoint_id < b.checkpoint_id
    GROUP BY a.supernet_id, a.protocol_id, a.checkpoint_id, b.checkpoint_id
),
within AS (
    SELECT supernet_id, protocol_id, AVG(tau) AS s_tau, MIN(tau) AS s_tau_min, MAX(tau) AS s_tau_max
    FROM pairs GROUP BY supernet_id, protocol_id
)
SELECT l.supernet_id, l.supernet_name, l.protocol_id, COUNT(*) AS checkpoints,
       AVG(l.kendall) AS gt_tau_mean, CASE WHEN COUNT(*) > 1 THEN STDDEV_POP(l.kendall) END AS gt_tau_std,
       MIN(l.kendall) AS gt_tau_min, MAX(l.kendall) AS gt_tau_max, AVG(l.spearman) AS spearman_mean,
       ANY_VALUE(w.s_tau) AS s_tau, ANY_VALUE(w.s_tau_min) AS s_tau_min, ANY_VALUE(w.s_tau_max) AS s_tau_max
FROM recent l LEFT JOIN within w ON w.supernet_id = l.supernet_id AND w.protocol_id = l.protocol_id
GROUP BY l.supernet_id, l.supernet_name, l.protocol_id
ORDER BY l.supernet_name, l.protocol_id
