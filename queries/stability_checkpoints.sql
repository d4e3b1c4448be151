-- GT-Tau-Mean-k and GT-Tau-Std-k (Zhang et al. 2020, Deeper Insights): over the last k checkpoints of each
-- super-net, the mean and the (population) standard deviation of Kendall's tau between the
-- checkpoint's ranking and the ground truth; how much a super-net's ranking still moves
-- between neighbouring checkpoints.
--
-- uses: correlation
-- parameters:
--   last_k = 64                         how many of the newest checkpoints of each super-net
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
WITH ordered AS (
    SELECT c.*,
           ROW_NUMBER() OVER (PARTITION BY c.supernet_id, c.protocol_id
                              ORDER BY k.step DESC NULLS LAST, k.epoch DESC NULLS LAST, k.created_at DESC) AS from_last
    FROM correlation c JOIN checkpoints k ON k.id = c.checkpoint_id
)
SELECT supernet_id, supernet_name, protocol_id, COUNT(*) AS checkpoints,
       AVG(kendall) AS gt_tau_mean, CASE WHEN COUNT(*) > 1 THEN STDDEV_POP(kendall) END AS gt_tau_std,
       MIN(kendall) AS gt_tau_min, MAX(kendall) AS gt_tau_max, AVG(spearman) AS spearman_mean
FROM ordered
WHERE from_last <= $last_k
GROUP BY supernet_id, supernet_name, protocol_id
ORDER BY supernet_name, protocol_id
